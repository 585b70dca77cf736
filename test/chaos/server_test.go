package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

const adminToken = "chaos-admin-token-0123456789abcdef"

// server is one pulsestream binary under test. It can be killed, stopped
// and started again on the same address and database.
type server struct {
	t       *testing.T
	db      string   // database URL
	flags   []string // extra serve flags
	addr    string
	URL     string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process has exited
	state  *os.ProcessState
	starts int
}

// startServer starts pulsestream serve on a free port and database dbURL,
// and waits until /ready answers 200.
func startServer(t *testing.T, dbURL string, flags ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{t: t, db: dbURL, flags: flags, addr: addr, URL: "http://" + addr,
		logPath: filepath.Join(t.TempDir(), "server.log")}
	t.Cleanup(func() {
		if s.running() {
			s.kill()
		}
		if t.Failed() {
			t.Logf("last lines of the server log (%s):\n%s", s.logPath, s.logTail(40))
		}
	})
	s.start()
	return s
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a new process (the previous one must have exited) and waits
// until it is ready.
func (s *server) start() {
	s.t.Helper()
	s.spawn()
	s.waitReady(60 * time.Second)
}

func (s *server) spawn() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"serve", "--addr", s.addr, "--maintenance-interval", "1h"}, s.flags...)
	cmd := exec.Command(binPath, args...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULSESTREAM_") {
			env = append(env, kv)
		}
	}
	// Small PostgreSQL pools: tests of several packages share one server
	// (max_connections 100) with many nodes at once.
	cmd.Env = append(env, "PULSESTREAM_ADMIN_TOKEN="+adminToken, "PULSESTREAM_DATABASE_URL="+s.db, "PULSESTREAM_PG_MAX_CONNS=4")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The child must not outlive a test binary that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start pulsestream: %v", err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.state = cmd, done, nil
	s.starts++
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		s.mu.Lock()
		s.state = cmd.ProcessState
		s.mu.Unlock()
		close(done)
	}()
}

func (s *server) running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// waitReady polls /ready until 200; the process exiting first fails the test.
func (s *server) waitReady(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for {
		if !s.running() {
			s.t.Fatalf("pulsestream exited during start (%v); log:\n%s", s.exitState(), s.logTail(30))
		}
		if r, err := c.Get(s.URL + "/ready"); err == nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pulsestream not ready after %v; log:\n%s", timeout, s.logTail(30))
		}
		time.Sleep(20 * time.Millisecond) // waiting for a process
	}
}

func (s *server) exitState() *os.ProcessState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("pulsestream did not die within 30 s of SIGKILL")
	}
}

// terminate sends SIGTERM and waits (up to timeout) for the exit; it returns
// the exit code and how long the graceful shutdown took.
func (s *server) terminate(timeout time.Duration) (int, time.Duration) {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-done:
	case <-time.After(timeout):
		s.kill()
		s.t.Fatalf("pulsestream did not exit within %v of SIGTERM", timeout)
	}
	return s.exitState().ExitCode(), time.Since(start)
}

// procStatusKiB reads a "Vm…" line of /proc/<pid>/status, in KiB.
func (s *server) procStatusKiB(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

// peakRSSMiB is the process's resident-set high-water mark (VmHWM).
func (s *server) peakRSSMiB() float64 { return float64(s.procStatusKiB("VmHWM")) / 1024 }

func (s *server) logTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// get fetches path and returns status and body.
func (s *server) get(path, key string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// tenant creates a tenant through the admin API and returns its API key.
func (s *server) tenant(name string, ratePerMinute int) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "rate_limit_per_minute": ratePerMinute})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/admin/v1/tenants", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		s.t.Fatalf("create tenant: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		APIKey string `json:"api_key"`
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &out) != nil || out.APIKey == "" {
		s.t.Fatalf("create tenant: %d %s", resp.StatusCode, data)
	}
	return out.APIKey
}

// metrics scrapes /metrics and returns the value of each unlabelled sample
// and of labelled samples under their full "name{labels}" text.
func (s *server) metrics() (map[string]float64, error) {
	st, body, err := s.get("/metrics", "")
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", st)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// backend is a database a scenario runs on.
type backend struct {
	name string
	url  func(t *testing.T) string
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "pulsestream.db") }},
		{"parts", partsURL},
		{"postgres", postgresURL},
	}
}

// partsURL creates a SQLite database of the parts event store
// (docs/STORAGE.md) and returns its URL; the server keeps the kind a
// database was created with.
func partsURL(t *testing.T) string {
	url := "sqlite://" + filepath.Join(t.TempDir(), "pulsestream.db")
	db, err := sqlite.Open(context.Background(), url, sqlite.Config{EventStore: sqlite.EventStoreParts})
	if err != nil {
		t.Fatalf("create a parts database: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// postgresURL creates a fresh schema and returns a URL whose search_path
// points at it. Unset PULSESTREAM_TEST_POSTGRES_URL: skip; set but
// unreachable: fail.
func postgresURL(t *testing.T) string { return testkit.PostgresSchema(t, "chaos") }

// isRefused reports a dial refused: the request never reached a server.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// requestsDuringShutdown counts the request log lines written between each
// "shutting down" line and the following "stopped" line: requests the
// server answered after SIGTERM.
func (s *server) requestsDuringShutdown() int {
	data, _ := os.ReadFile(s.logPath)
	n, in := 0, false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.Contains(line, `"msg":"shutting down`):
			in = true
		case strings.Contains(line, `"msg":"stopped"`):
			in = false
		case in && strings.Contains(line, `"msg":"request"`):
			n++
		}
	}
	return n
}
