package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// streamRoutes are the API's streams and the action each needs: the role
// table leaves them out (an allowed call never ends); TestEventTailRoles
// checks them.
var streamRoutes = map[string]pulse.Action{"GET /api/v1/events/tail": pulse.ActRead}

// sseStream is a live tail read by a real HTTP client.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

type sseMessage struct{ event, id, data string }

// openTail opens GET /api/v1/events/tail and waits for the stream's first
// comment, after which events committed are new to it.
func (n *node) openTail(t *testing.T, key string, q url.Values) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound for a hung test, not a timing assertion
	req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/api/v1/events/tail?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open tail: %v", err)
	}
	s := &sseStream{t: t, resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		return s
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	line, err := s.rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q, %v; want a comment", line, err)
	}
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next message that is not a comment.
func (s *sseStream) next() sseMessage {
	s.t.Helper()
	var m sseMessage
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if m.event != "" || m.data != "" {
				return m
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			m.event = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			m.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			m.data = line[len("data: "):]
		}
	}
}

func TestEventTail(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) {
		c.TailsPerTenant = 2
		c.TailEventsPerSecond = 3
	}, func(t *testing.T, n *node) {
		_, key := n.tenant("tail", 0)
		_, otherKey := n.tenant("other", 0)
		before := n.ingest(key, event(map[string]any{"service": "web", "message": "before"}))

		tail := n.openTail(t, key, q("service", "web", "tag", "env:prod"))
		n.ingest(otherKey, event(map[string]any{"service": "web", "tags": map[string]any{"env": "prod"}, "message": "other tenant"}))
		n.ingest(key, event(map[string]any{"service": "api", "tags": map[string]any{"env": "prod"}, "message": "other service"}))
		want := n.ingest(key, event(map[string]any{"service": "web", "tags": map[string]any{"env": "prod"}, "message": "<b>new</b>",
			"payload": map[string]any{"k": 1}}))
		m := tail.next()
		var got storedEvent
		if err := json.Unmarshal([]byte(m.data), &got); err != nil {
			t.Fatalf("data %q: %v", m.data, err)
		}
		if m.event != "event" || m.id != want || got.ID != want || got.Message != "<b>new</b>" || string(got.Payload) != `{"k":1}` {
			t.Fatalf("got %+v (%+v), want the new matching event %s (not %s, sent before the tail)", m, got, want, before)
		}

		// A flood: 3 events a second are sent, the rest counted.
		var flood []map[string]any
		for range 8 {
			flood = append(flood, event(map[string]any{"service": "web", "tags": map[string]any{"env": "prod"}}))
		}
		resp, b := n.batch(key, flood)
		expectStatus(t, resp, http.StatusOK)
		sent, dropped := 0, 0
		for sent+dropped < 8 {
			switch m := tail.next(); m.event {
			case "event":
				sent++
			case "dropped":
				var d struct{ Dropped int }
				_ = json.Unmarshal([]byte(m.data), &d)
				dropped += d.Dropped
			}
		}
		if sent != 3 || dropped != 5 || b.Accepted != 8 {
			t.Errorf("flood of %d: %d sent, %d dropped; want 3 and 5", b.Accepted, sent, dropped)
		}

		// The tenant may hold two tails; a third is refused until one closes.
		second := n.openTail(t, key, nil)
		third := n.openTail(t, key, nil)
		problem(t, &response{Status: third.resp.StatusCode, Header: third.resp.Header, Body: readAll(third)}, http.StatusTooManyRequests)
		second.close()
		// The slot is freed when the handler sees the client go: retry
		// until it has (a bound for a hung test, not a timing assertion).
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := n.openTail(t, key, nil)
			if s.resp.StatusCode == http.StatusOK {
				break
			}
			s.close()
			if time.Now().After(deadline) {
				t.Fatal("a closed tail's slot was never freed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Another tenant has its own slots.
		if s := n.openTail(t, otherKey, nil); s.resp.StatusCode != http.StatusOK {
			t.Errorf("another tenant's tail: %d", s.resp.StatusCode)
		}

		invalid(t, n.do("GET", "/api/v1/events/tail?start_time=2026-01-01T00:00:00Z", key, nil), "start_time")
		invalid(t, n.do("GET", "/api/v1/events/tail?severity=loud", key, nil), "severity")
	})
}

// TestEventTailEndsOnShutdown: an open tail does not hold the server's
// shutdown; the stream ends.
func TestEventTailEndsOnShutdown(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), nil)
	_, key := n.tenant("tail", 0)
	tail := n.openTail(t, key, nil)
	n.App.Server().CloseStreams()
	for {
		if _, err := tail.rd.ReadString('\n'); err != nil {
			break // the server ended the stream
		}
	}
	r := n.do("GET", "/api/v1/events/tail", key, nil)
	problem(t, r, http.StatusServiceUnavailable)
}

// TestEventTailRoles: a signed-in person of any role may follow the
// tenant's events (read), with the tenant header; without a session or
// membership, no stream.
func TestEventTailRoles(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), nil)
	tenantID, _ := n.tenant("tail", 0)
	otherID, _ := n.tenant("other", 0)
	for _, role := range pulse.Roles {
		if !role.Can(streamRoutes["GET /api/v1/events/tail"]) {
			continue
		}
		cookie := n.signIn(n.member(tenantID, string(role)+"@example.com", role))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/api/v1/events/tail", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-PulseStream-Tenant", tenantID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: tail answered %d", role, resp.StatusCode)
		}
		resp.Body.Close()
		cancel()
		problem(t, n.do("GET", "/api/v1/events/tail", "", nil, "Cookie", cookie, "X-PulseStream-Tenant", otherID), http.StatusForbidden)
	}
}

func readAll(s *sseStream) []byte {
	var b strings.Builder
	_, _ = bufio.NewReader(s.resp.Body).WriteTo(&b)
	return []byte(b.String())
}

// TestEventTailTenantLimits: a tenant's tail_limits override the node's
// defaults (issue 14): tenant A, limited to 1 stream and 2 events a
// second, gets a 429 on its second tail and 2 of a flood of 8 (6 counted
// as dropped); tenant B keeps the defaults and opens two tails.
func TestEventTailTenantLimits(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) {
		c.TailsPerTenant = 3
		c.TailEventsPerSecond = 5
	}, func(t *testing.T, n *node) {
		idA, keyA := n.tenant("limited", 0)
		_, keyB := n.tenant("default", 0)
		r := n.do("PATCH", "/admin/v1/tenants/"+idA, adminToken, map[string]any{
			"tail_limits": map[string]any{"max_streams": 1, "events_per_second": 2}})
		expectStatus(t, r, http.StatusOK)
		if l := r.JSON(t)["tail_limits"].(map[string]any); l["max_streams"] != 1.0 || l["events_per_second"] != 2.0 {
			t.Fatalf("tail_limits after PATCH = %v", l)
		}
		invalid(t, n.do("PATCH", "/admin/v1/tenants/"+idA, adminToken, map[string]any{"tail_limits": map[string]any{"max_streams": -1}}), "tail_limits.max_streams")

		tail := n.openTail(t, keyA, nil)
		second := n.openTail(t, keyA, nil)
		problem(t, &response{Status: second.resp.StatusCode, Header: second.resp.Header, Body: readAll(second)}, http.StatusTooManyRequests)
		for i := range 2 {
			if s := n.openTail(t, keyB, nil); s.resp.StatusCode != http.StatusOK {
				t.Fatalf("tenant B's tail %d (defaults): %d", i+1, s.resp.StatusCode)
			}
		}

		var flood []map[string]any
		for range 8 {
			flood = append(flood, event(map[string]any{"service": "web"}))
		}
		resp, b := n.batch(keyA, flood)
		expectStatus(t, resp, http.StatusOK)
		sent, dropped := 0, 0
		for sent+dropped < 8 {
			switch m := tail.next(); m.event {
			case "event":
				sent++
			case "dropped":
				var d struct{ Dropped int }
				_ = json.Unmarshal([]byte(m.data), &d)
				dropped += d.Dropped
			}
		}
		if sent != 2 || dropped != 6 || b.Accepted != 8 {
			t.Errorf("flood of %d: %d sent, %d dropped; want 2 and 6 (the tenant's events_per_second)", b.Accepted, sent, dropped)
		}
	})
}
