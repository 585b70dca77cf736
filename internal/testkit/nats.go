package testkit

import (
	"fmt"
	"net"
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

// NATSServerBin finds nats-server: absent, the test skips with a message,
// or fails when PULSESTREAM_REQUIRE_EXTERNAL=1 (CI).
func NATSServerBin(t *testing.T) string {
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

// NATSNode is one nats-server process with JetStream, owned by the test:
// killed at its end, its store in the test's temporary directory; Start
// runs it again after Kill, on the same ports and store.
type NATSNode struct {
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

// StartNATS starts n JetStream servers (n > 1: one cluster whose routes
// name every member) and waits until each reports healthy.
func StartNATS(t *testing.T, n int) []*NATSNode {
	t.Helper()
	bin := NATSServerBin(t)
	clusterAddrs := make([]string, n)
	for i := range clusterAddrs {
		clusterAddrs[i] = freeAddr(t)
	}
	var routes []string
	for _, a := range clusterAddrs {
		routes = append(routes, "nats://"+a)
	}
	dir := t.TempDir()
	nodes := make([]*NATSNode, n)
	for i := range n {
		client, mon := freeAddr(t), freeAddr(t)
		host, port := splitAddr(t, client)
		_, monPort := splitAddr(t, mon)
		name := fmt.Sprintf("n%d", i+1)
		args := []string{"-a", host, "-p", port, "-m", monPort, "-js", "-sd", filepath.Join(dir, name), "--server_name", name}
		if n > 1 {
			args = append(args, "--cluster_name", "chaos", "--cluster", "nats://"+clusterAddrs[i], "--routes", strings.Join(routes, ","))
		}
		nodes[i] = &NATSNode{t: t, bin: bin, name: name, args: args, URL: "nats://" + client, monitor: "http://" + mon,
			logPath: filepath.Join(dir, name+".log")}
		t.Cleanup(func() {
			nodes[i].Kill()
			if t.Failed() {
				data, _ := os.ReadFile(nodes[i].logPath)
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				t.Logf("last lines of nats-server %s:\n%s", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		})
		nodes[i].Start()
	}
	for _, nd := range nodes {
		nd.WaitHealthy(60 * time.Second)
	}
	return nodes
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

func splitAddr(t *testing.T, addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("address %q has no port", addr)
	}
	return addr[:i], addr[i+1:]
}

// NATSURLs joins the nodes' client URLs for --ingest-log.
func NATSURLs(nodes []*NATSNode) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	return strings.Join(urls, ",")
}

func (n *NATSNode) Start() {
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

// Kill sends SIGKILL and waits for the exit (no-op when not running).
func (n *NATSNode) Kill() {
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

// WaitHealthy polls /healthz (JetStream current with its cluster) until 200.
func (n *NATSNode) WaitHealthy(timeout time.Duration) {
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
