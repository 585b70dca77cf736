package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// bench on a shared PostgreSQL leaves nothing behind: it works in a schema
// of its own and drops it.
func TestBenchPostgresCleansUp(t *testing.T) {
	t.Parallel()
	url := os.Getenv("PULSESTREAM_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("PULSESTREAM_TEST_POSTGRES_URL not set; skipping the PostgreSQL bench clean-up test")
	}
	code, out, errOut := runCLI(t, noEnv, "bench", "storage", "--database", url, "--storage-events", "300", "--storage-clients", "2", "--batch-size", "50")
	if code != 0 {
		t.Fatalf("bench storage: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "storage") {
		t.Errorf("no results table: %q", out)
	}
	m := regexp.MustCompile(`schema (pulsestream_bench_\d+) \(dropped at the end\)`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("bench does not say where it works: %q", errOut)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, m[1]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s is still there after bench", m[1])
	}
}
