package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/testkit"
)

// TestBuildWithoutCgo: CGO_ENABLED=0 go build works (PostgreSQL-only
// deployments, static binaries), the binary refuses SQLite with a message
// that says why and what to do, and migrates a PostgreSQL database.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the CGO_ENABLED=0 build (about a minute)")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "pulsestream")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0", "--admin-token", "nocgo-admin-token"}, {"migrate"}} {
		out, err := exec.Command(bin, append(args, "--database", db)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "built without cgo (CGO_ENABLED=0)") || !strings.Contains(string(out), "postgres://") {
			t.Errorf("%v on SQLite without cgo: %v, %s", args, err, out)
		}
	}
	if os.Getenv("PULSESTREAM_TEST_POSTGRES_URL") == "" {
		t.Log("PULSESTREAM_TEST_POSTGRES_URL not set: the PostgreSQL half is skipped")
		return
	}
	pg := testkit.PostgresSchema(t, "nocgo")
	if out, err := exec.Command(bin, "migrate", "--database", pg).CombinedOutput(); err != nil {
		t.Errorf("migrate on PostgreSQL without cgo: %v, %s", err, out)
	}
}
