package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/client"

	"github.com/pulsestream/pulsestream/internal/config"
)

// The Go client library against the real server, on every backend.

const clientNever = time.Hour // batch interval of these tests: they Flush

func newTestClient(t *testing.T, url, key string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{
		client.WithService("checkout"),
		client.WithBatch(100, 1<<20, clientNever),
		client.WithRetry(10, time.Millisecond, 10*time.Millisecond),
	}, opts...)
	c, err := client.New(url, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func flushClient(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // guards a hang only
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// dropAnswers forwards requests to the node and, for the request numbers
// in drop, lets the server commit, then closes the connection instead of
// answering.
func dropAnswers(t *testing.T, n *node, drop ...int) *httptest.Server {
	var mu sync.Mutex
	count := 0
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count++
		seq := count
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, n.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, d := range drop {
			if d == seq {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(data)
	}))
	t.Cleanup(p.Close)
	return p
}

// A tenant requiring signed requests; the answers of two batches are lost
// after the server committed them: the client's retries carry the same
// automatic external ids, so every event is stored exactly once.
func TestClientExactlyOnceThroughLostAnswers(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) { c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("client-once", 100000)
		r := n.do("POST", "/api/v1/signing-secrets", key, map[string]any{"name": "client"})
		expectStatus(t, r, http.StatusCreated)
		secret := r.JSON(t)["secret"].(string)
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"require_signed_requests": true}), http.StatusOK)

		proxy := dropAnswers(t, n, 1, 3)
		var mu sync.Mutex
		var problems []string
		c := newTestClient(t, proxy.URL, key, client.WithSigningSecret(secret),
			client.OnError(func(err error, evs []client.Event) {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%d lost: %v", len(evs), err))
				mu.Unlock()
			}),
			client.OnRejected(func(r client.Rejection) {
				mu.Lock()
				problems = append(problems, r.Error())
				mu.Unlock()
			}))
		const total = 250
		for i := range total {
			if err := c.Send(context.Background(), client.Event{EventType: "order.paid", Message: label(i), Tags: map[string]string{"run": "once"}}); err != nil {
				t.Fatal(err)
			}
		}
		flushClient(t, c)
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			t.Fatalf("client reported %v", problems)
		}
		st := c.Stats()
		// Batches of 100, 100, 50; the answers to the first two were lost,
		// so their retries were answered "duplicate".
		if st.Created != 50 || st.Duplicates != 200 || st.Retries != 2 || st.Buffered != 0 {
			t.Fatalf("stats = %+v, want 50 created, 200 duplicates, 2 retries", st)
		}
		page := n.search(key, q("tag", "run:once", "limit", "1000"))
		seen := map[string]bool{}
		for _, e := range page.Events {
			if seen[e.Message] {
				t.Fatalf("event %s stored twice", e.Message)
			}
			seen[e.Message] = true
			if e.ExternalID == "" || e.Service != "checkout" {
				t.Fatalf("stored %+v: want an automatic external_id and the default service", e)
			}
		}
		if len(page.Events) != total || len(seen) != total {
			t.Fatalf("stored %d events (%d distinct), want %d", len(page.Events), len(seen), total)
		}
	})
}

func TestClientRejectedEventsReachCallback(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("client-rejected", 1000)
		var got []client.Rejection
		c := newTestClient(t, n.URL, key, client.OnRejected(func(r client.Rejection) { got = append(got, r) }))
		send := func(e client.Event) {
			if err := c.Send(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		send(client.Event{EventType: "ok", ExternalID: "x-1", Message: "first"})
		send(client.Event{EventType: "bad", Severity: "loud"})
		send(client.Event{EventType: "ok", ExternalID: "x-1", Message: "other content"})
		flushClient(t, c)
		if len(got) != 2 {
			t.Fatalf("rejections = %+v, want 2", got)
		}
		if got[0].Status != "rejected" || got[0].Event.Severity != "loud" || len(got[0].Errors) == 0 || got[0].Errors[0].Field != "severity" {
			t.Fatalf("first rejection = %+v, want severity refused", got[0])
		}
		if got[1].Status != "conflict" || got[1].ID == "" || got[1].Event.Message != "other content" {
			t.Fatalf("second rejection = %+v, want a conflict naming the stored id", got[1])
		}
		if st := c.Stats(); st.Created != 1 || st.Rejected != 2 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// serverTimeClock is the client's clock in the quota test: a wait moves the
// server's fake clock by that much and ends at once; the batch interval
// never ends (the test flushes).
type serverTimeClock struct {
	n     *node
	mu    sync.Mutex
	waits []time.Duration
}

func (c *serverTimeClock) Now() time.Time { return c.n.Clock.Now() }

func (c *serverTimeClock) After(d time.Duration) <-chan time.Time {
	if d == clientNever {
		return nil
	}
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	c.n.Clock.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.n.Clock.Now()
	return ch
}

// statusRecorder notes the status of every answer the client received.
type statusRecorder struct {
	mu    sync.Mutex
	codes map[int]int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.codes[resp.StatusCode]++
		s.mu.Unlock()
	}
	return resp, err
}

// Over quota, the server answers 429 (nothing fit) or 200 with events
// rate_limited, with Retry-After; the client waits exactly that (the
// backoff of these tests is ≤ 10 ms, the waits are whole seconds) and
// retries only those events until all are stored.
func TestClientRetriesOverQuota(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("client-quota", 10)
		clk := &serverTimeClock{n: n}
		rec := &statusRecorder{codes: map[int]int{}}
		c := newTestClient(t, n.URL, key, client.WithClock(clk), client.WithHTTPClient(&http.Client{Transport: rec}),
			client.WithRetry(3, time.Millisecond, 10*time.Millisecond)) // 15 retries needed: each stores one event, so the count restarts
		sendN := func(from, to int) {
			for i := from; i < to; i++ {
				if err := c.Send(context.Background(), client.Event{EventType: "quota", Message: label(i)}); err != nil {
					t.Fatal(err)
				}
			}
			flushClient(t, c)
		}
		sendN(0, 10) // the whole quota
		if st := c.Stats(); st.Created != 10 || st.Retries != 0 {
			t.Fatalf("stats = %+v, want 10 created at once", st)
		}
		sendN(10, 25) // nothing fits: 429, then one event per Retry-After
		st := c.Stats()
		if st.Created != 25 || st.Failed != 0 || st.Retries == 0 {
			t.Fatalf("stats = %+v, want all 25 created after retries", st)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.codes[http.StatusTooManyRequests] == 0 {
			t.Fatalf("answers %v: want at least one 429", rec.codes)
		}
		clk.mu.Lock()
		defer clk.mu.Unlock()
		for _, d := range clk.waits {
			if d < time.Second || d%time.Second != 0 {
				t.Fatalf("waits %v: want each the server's Retry-After (whole seconds)", clk.waits)
			}
		}
		if got := len(n.search(key, q("event_type", "quota", "limit", "1000")).Events); got != 25 {
			t.Fatalf("stored %d events, want 25", got)
		}
		t.Logf("answers %v, waits %v", rec.codes, clk.waits)
	})
}
