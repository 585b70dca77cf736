package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// gauge reads an unlabelled gauge of the node's registry.
func gauge(t *testing.T, n *node, metric string) float64 {
	t.Helper()
	families, err := n.App.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == metric && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", metric)
	return 0
}

// gzipBatch is a batch of 100 events of ~10 KB each (~1 MB decompressed,
// a few KiB compressed) whose external_ids are prefix-0 … prefix-99.
func gzipBatch(t *testing.T, prefix string) []byte {
	t.Helper()
	pad := strings.Repeat("a", 10_000)
	events := make([]map[string]any, 100)
	for i := range events {
		events[i] = event(map[string]any{"external_id": fmt.Sprintf("%s-%d", prefix, i), "payload": map[string]any{"pad": pad}})
	}
	raw, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return buf.Bytes()
}

// TestHostileGzipBudget is the gzip-amplification attack of issue 13: 40
// concurrent gzip batches of ~1 MB decompressed against a node whose decode
// budget holds 4 of them (a tenant's share: 2). The budget's high-water mark
// never exceeds it, the batches beyond it get 503 overloaded with
// Retry-After and nothing of them is stored, the accepted ones are stored
// whole, and another tenant's small events all succeed meanwhile.
func TestHostileGzipBudget(t *testing.T) {
	const budget = 16 << 20
	eachBackendCfg(t, func(c *config.Config) {
		c.MaxBodyBytes = 1 << 20
		c.MaxPayloadBytes = 64 << 10
		c.MaxDecodeBytes = budget
		c.DecodeTenantShare = 0.5
	}, func(t *testing.T, n *node) {
		_, attacker := n.tenant("gzip-attacker", 1_000_000_000)
		_, victim := n.tenant("gzip-victim", 1_000_000_000)
		const attacks = 40
		bodies := make([][]byte, attacks)
		for i := range bodies {
			bodies[i] = gzipBatch(t, fmt.Sprintf("b%d", i))
		}
		statuses := make([]*response, attacks)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range attacks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := n.send("POST", "/api/v1/events/batch", attacker, bodies[i], "Content-Encoding", "gzip")
				if err != nil {
					t.Errorf("batch %d: %v", i, err)
					return
				}
				statuses[i] = r
			}()
		}
		victimDone := make(chan []int)
		go func() {
			<-start
			var got []int
			for i := range 20 {
				r, err := n.send("POST", "/api/v1/events", victim, event(map[string]any{"external_id": fmt.Sprintf("v-%d", i)}))
				if err != nil {
					got = append(got, 0)
					continue
				}
				got = append(got, r.Status)
			}
			victimDone <- got
		}()
		close(start)
		wg.Wait()
		for i, st := range <-victimDone {
			if st != http.StatusCreated {
				t.Errorf("the other tenant's event %d during the attack: %d, want 201", i, st)
			}
		}
		if peak := gauge(t, n, "pulsestream_decode_budget_bytes_peak"); peak > budget || peak == 0 {
			t.Errorf("decode budget high-water mark %v, want within (0, %d]", peak, budget)
		}
		if used := gauge(t, n, "pulsestream_decode_budget_bytes_in_use"); used != 0 {
			t.Errorf("%v bytes still charged after every request ended", used)
		}
		stored := func(id string) bool {
			return len(n.search(attacker, url.Values{"external_id": {id}}).Events) == 1
		}
		refused := 0
		for i, r := range statuses {
			if r == nil {
				continue
			}
			first, last := fmt.Sprintf("b%d-0", i), fmt.Sprintf("b%d-99", i)
			switch r.Status {
			case http.StatusServiceUnavailable:
				refused++
				p := problem(t, r, http.StatusServiceUnavailable)
				if p["type"] != "/docs#problem-overloaded" || r.Header.Get("Retry-After") == "" {
					t.Errorf("batch %d refused with type %v, Retry-After %q; want overloaded with Retry-After", i, p["type"], r.Header.Get("Retry-After"))
				}
				if stored(first) || stored(last) {
					t.Errorf("batch %d was refused (503) but some of it is stored", i)
				}
			case http.StatusOK, http.StatusCreated:
				if !stored(first) || !stored(last) {
					t.Errorf("batch %d was accepted but is not stored whole", i)
				}
			default:
				t.Errorf("batch %d: %d %s", i, r.Status, r.Body)
			}
		}
		if refused == 0 {
			t.Errorf("none of %d concurrent ~1 MB batches was refused by a budget of 4 (tenant share 2)", attacks)
		}
		t.Logf("%d of %d batches refused (503 overloaded)", refused, attacks)
	})
}

// slowBody opens a connection and sends the headers of a batch POST
// announcing 1000 body bytes, then only the first few: a client trickling
// its body.
func slowBody(t *testing.T, n *node, key string) net.Conn {
	t.Helper()
	u, _ := url.Parse(n.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /api/v1/events/batch HTTP/1.1\r\nHost: pulsestream\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"events\": [", key)
	return conn
}

// TestSlowBodiesCannotFailReady: more trickling bodies than --max-in-flight
// hold every request slot, yet /ready (like /health) still answers 200, so
// a load balancer keeps the node.
func TestSlowBodiesCannotFailReady(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/pulsestream.db", newFakeClock(), func(c *config.Config) {
		c.MaxInFlight = 4
		c.BodyReadTimeout = time.Minute // the slow bodies must outlive the test
	})
	_, key := n.tenant("slow-bodies", 0)
	// A probe can take a slot before the slow bodies reach the server, so
	// some of them get 503 and the probe's slot frees again: open one more
	// slow body after each probe that was served, until one is refused.
	probe := &http.Client{Timeout: 5 * time.Second} // each probe's own bound, not a timing assertion
	last := "no answer yet"
	for range 4 {
		slowBody(t, n, key)
	}
	eventually(t, "the slow bodies hold every request slot", func() bool {
		req, _ := http.NewRequest("GET", n.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := probe.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %.200s", resp.StatusCode, body)
		if resp.StatusCode == http.StatusServiceUnavailable {
			return true
		}
		slowBody(t, n, key)
		return false
	}, func() string { return "last answer to the probe: " + last })
	for _, path := range []string{"/ready", "/health"} {
		if r := n.do("GET", path, "", nil); r.Status != http.StatusOK {
			t.Errorf("GET %s while slow bodies hold every slot: %d %s", path, r.Status, r.Body)
		}
	}
}

// TestSlowBodyCutOff: a body that stops arriving is cut off at the body
// deadline (here 300 ms, far below the 60 s read timeout) with a 408
// problem, which frees its request slot.
func TestSlowBodyCutOff(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/pulsestream.db", newFakeClock(), func(c *config.Config) {
		c.BodyReadTimeout = 300 * time.Millisecond
	})
	_, key := n.tenant("slow-body", 0)
	conn := slowBody(t, n, key)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // the test's own bound, 100× the deadline: not a timing assertion
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body (the server waits for the read timeout): %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "problem-body_timeout") {
		t.Errorf("stalled body: %d %s; want 408 body_timeout", resp.StatusCode, body)
	}
}
