package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStaticBinaryInEmptyRoot builds the binary with the one build script
// (the Dockerfile runs the same), then runs it in a root folder holding
// nothing but that binary — no libc, no /etc, no /tmp, no shell, as in a
// FROM scratch image — with the default embedded SQLite in /data there, and
// checks /health, the healthcheck subcommand and the ingestion of one event.
func TestStaticBinaryInEmptyRoot(t *testing.T) {
	t.Parallel()
	chroot := lookPath(t, "chroot", "run the binary in an empty root")
	root := t.TempDir()
	bin := filepath.Join(root, "pulsestream")
	data, err := os.ReadFile(staticBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	assertStatic(t, bin)

	// As root, chroot alone; otherwise in a user namespace of our own.
	inRoot := func(args ...string) *exec.Cmd {
		args = append([]string{root, "/pulsestream"}, args...)
		if os.Geteuid() == 0 {
			return exec.Command(chroot, args...)
		}
		unshare := lookPath(t, "unshare", "chroot without being root")
		return exec.Command(unshare, append([]string{"--map-root-user", chroot}, args...)...)
	}
	if out, err := inRoot("version").CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("cannot run a program in a chroot here: %v: %s", err, out))
	}

	const admin = "empty-root-admin-token"
	srv := inRoot("serve", "--addr", "127.0.0.1:0", "--database", "sqlite:///data/pulsestream.db", "--log-format", "json")
	srv.Env = []string{"PULSESTREAM_ADMIN_TOKEN=" + admin} // nothing else: no PATH, no HOME
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	})
	addr := make(chan string, 1)
	var logs bytes.Buffer // read only after addr or the pipe's end
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pulsestream listening" {
				addr <- line.Addr
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			logs.Write(sc.Bytes())
			logs.WriteByte('\n')
		}
		close(addr)
	}()
	var base string
	select {
	case a, ok := <-addr:
		if !ok {
			_ = srv.Wait()
			t.Fatalf("the server stopped before listening:\n%s", logs.String())
		}
		base = "http://" + a
	case <-time.After(2 * time.Minute): // a bound for a hung start, not a measurement
		t.Fatal("the server did not start listening within 2 minutes")
	}

	if code, body := call(t, "GET", base+"/health", "", ""); code != http.StatusOK {
		t.Fatalf("GET /health: %d %s", code, body)
	}
	if out, err := inRoot("healthcheck", "--addr", strings.TrimPrefix(base, "http://")).CombinedOutput(); err != nil {
		t.Fatalf("pulsestream healthcheck in the empty root: %v: %s", err, out)
	}
	code, body := call(t, "POST", base+"/admin/v1/tenants", admin, `{"name":"empty-root","rate_limit_per_minute":600}`)
	if code != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", code, body)
	}
	var created struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.APIKey == "" {
		t.Fatalf("create tenant answer %s: %v", body, err)
	}
	code, body = call(t, "POST", base+"/api/v1/events", created.APIKey, `{"event_type":"deploy.check","service":"static","external_id":"e-1"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/events: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(root, "data", "pulsestream.db")); err != nil {
		t.Errorf("the database is not in the root's /data: %v", err)
	}
}

// built is the binary scripts/build-static.sh made, once for the package's tests.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pulsestream-static-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "pulsestream")
	if out, err := exec.Command("sh", "../scripts/build-static.sh", bin).CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/build-static.sh: %w\n%s", err, out)
	}
	return bin, nil
})

// builtDir is the folder of the static build, if one was made; TestMain removes it.
var builtDir string

// staticBinary returns the path of the static build (removed by TestMain).
func staticBinary(t *testing.T) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// assertStatic fails unless bin asks for no dynamic loader and no shared library.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has a dynamic loader (PT_INTERP): not static", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %v: not static", bin, libs)
	}
}

// call sends one JSON request with a bearer token and returns status and body.
func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
