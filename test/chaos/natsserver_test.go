package chaos

import (
	"fmt"
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

// natsServerBin finds nats-server: absent, the test skips with a message,
// or fails when PULSESTREAM_REQUIRE_EXTERNAL=1 (CI).
func natsServerBin(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("PULSESTREAM_REQUIRE_EXTERNAL") == "1" {
			t.Fatalf("nats-server is not installed (PULSESTREAM_REQUIRE_EXTERNAL=1): %v", err)
		}
		t.Skip("nats-server is not installed; install it (apt-get install nats-server) to run the ingest-log tests")
	}
	return path
}

// natsNode is one nats-server process with JetStream, owned by the test:
// killed at its end, its store in the test's temporary directory.
type natsNode struct {
	t       *testing.T
	bin     string
	name    string
	args    []string
	URL     string // client URL
	monitor string // http://host:port of the monitoring endpoint
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startNATS starts n JetStream servers (n > 1: one cluster whose routes
// name every member) and waits until each reports healthy.
func startNATS(t *testing.T, n int) []*natsNode {
	t.Helper()
	bin := natsServerBin(t)
	clusterAddrs := make([]string, n)
	for i := range clusterAddrs {
		clusterAddrs[i] = freeAddr(t)
	}
	var routes []string
	for _, a := range clusterAddrs {
		routes = append(routes, "nats://"+a)
	}
	dir := t.TempDir()
	nodes := make([]*natsNode, n)
	for i := range n {
		client, mon := freeAddr(t), freeAddr(t)
		host, port := splitAddr(t, client)
		_, monPort := splitAddr(t, mon)
		name := fmt.Sprintf("n%d", i+1)
		args := []string{"-a", host, "-p", port, "-m", monPort, "-js", "-sd", filepath.Join(dir, name), "--server_name", name}
		if n > 1 {
			args = append(args, "--cluster_name", "chaos", "--cluster", "nats://"+clusterAddrs[i], "--routes", strings.Join(routes, ","))
		}
		nodes[i] = &natsNode{t: t, bin: bin, name: name, args: args, URL: "nats://" + client, monitor: "http://" + mon,
			logPath: filepath.Join(dir, name+".log")}
		t.Cleanup(func() {
			nodes[i].kill()
			if t.Failed() {
				data, _ := os.ReadFile(nodes[i].logPath)
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				t.Logf("last lines of nats-server %s:\n%s", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		})
		nodes[i].spawn()
	}
	for _, nd := range nodes {
		nd.waitHealthy(60 * time.Second)
	}
	return nodes
}

func splitAddr(t *testing.T, addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("address %q has no port", addr)
	}
	return addr[:i], addr[i+1:]
}

// natsURLs joins the nodes' client URLs for --ingest-log.
func natsURLs(nodes []*natsNode) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	return strings.Join(urls, ",")
}

func (n *natsNode) spawn() {
	n.t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start nats-server: %v", err)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
}

// kill sends SIGKILL and waits for the exit (no-op when not running).
func (n *natsNode) kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		n.t.Errorf("nats-server %s did not die within 30 s of SIGKILL", n.name)
	}
}

// waitHealthy polls /healthz (JetStream current with its cluster) until 200.
func (n *natsNode) waitHealthy(timeout time.Duration) {
	n.t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if r, err := c.Get(n.monitor + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server %s not healthy after %v", n.name, timeout)
		}
		time.Sleep(50 * time.Millisecond) // waiting for a process
	}
}

// logBacklog reads pulsestream_ingest_log_backlog_messages from srv (-1
// when it cannot be read).
func logBacklog(srv *server) float64 {
	m, err := srv.metrics()
	if err != nil {
		return -1
	}
	v, ok := m["pulsestream_ingest_log_backlog_messages"]
	if !ok {
		return -1
	}
	return v
}

// waitDrained waits until srv reports an empty ingest log (the gauge is
// refreshed every second) and returns how long it took.
func waitDrained(t *testing.T, srv *server, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	zeros := 0
	for {
		if logBacklog(srv) == 0 {
			// Twice in a row, over a refresh of the gauge.
			if zeros++; zeros >= 2 {
				return time.Since(start)
			}
		} else {
			zeros = 0
		}
		if time.Since(start) > timeout {
			t.Fatalf("the ingest log still holds %v events %v after the load stopped", logBacklog(srv), timeout)
		}
		time.Sleep(700 * time.Millisecond) // waiting for the writers
	}
}

// metricValue reads one sample of srv's metrics (0 when absent).
func metricValue(srv *server, name string) float64 {
	m, _ := srv.metrics()
	return m[name]
}
