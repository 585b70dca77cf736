package client

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only on Advance; every After call is reported on waits,
// so a test sees which interval or backoff the client chose.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	waits  chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), waits: make(chan time.Duration, 1000)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
	} else {
		f.timers = append(f.timers, fakeTimer{at: f.now.Add(d), ch: ch})
	}
	f.mu.Unlock()
	f.waits <- d
	return ch
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			kept = append(kept, t)
		} else {
			t.ch <- f.now
		}
	}
	f.timers = kept
}

// never is the batch interval of tests that flush by size or Flush only;
// nextWait skips it.
const never = time.Hour

// nextWait returns the duration of the next After call other than never.
// The 10 s limit only guards against a hang; nothing here measures time.
func (f *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	for {
		select {
		case d := <-f.waits:
			if d != never {
				return d
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the client never waited on the clock")
			return 0
		}
	}
}

// result is one event's answer from the fake server.
type result struct {
	Index  int          `json:"index"`
	Status string       `json:"status"`
	ID     string       `json:"id,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// server is a small stand-in for the batch endpoint: it stores events by
// external_id (a repeat is a duplicate), rejects those without an
// event_type, and lets a test replace any answer through before.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	stored   map[string]map[string]any
	seen     map[string]int
	batches  chan []map[string]any
	// before may answer request n (1-based) itself; it returns true then.
	// commit stores the events and returns their results.
	before func(n int, w http.ResponseWriter, r *http.Request, commit func() []result) bool
}

func newServer(t *testing.T) *server {
	s := &server{stored: map[string]map[string]any{}, seen: map[string]int{}, batches: make(chan []map[string]any, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		body = zr
	}
	var in struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.NewDecoder(body).Decode(&in); err != nil || r.URL.Path != "/api/v1/events/batch" {
		http.Error(w, "bad request", 400)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	before := s.before
	s.mu.Unlock()
	s.batches <- in.Events
	commit := func() []result { return s.commit(in.Events) }
	if before != nil && before(n, w, r, commit) {
		return
	}
	answer(w, http.StatusOK, commit())
}

func (s *server) commit(evs []map[string]any) []result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]result, len(evs))
	for i, e := range evs {
		id, _ := e["external_id"].(string)
		s.seen[id]++
		switch {
		case e["event_type"] == nil || e["event_type"] == "":
			out[i] = result{Index: i, Status: "rejected", Errors: []FieldError{{Field: "event_type", Message: "is required", Reason: "event_type.required"}}}
		case s.stored[id] != nil:
			out[i] = result{Index: i, Status: "duplicate", ID: id}
		default:
			s.stored[id] = e
			out[i] = result{Index: i, Status: "created", ID: id}
		}
	}
	return out
}

func answer(w http.ResponseWriter, status int, results []result) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
}

// batch waits for the next request's events (the limit guards a hang).
func (s *server) batch(t *testing.T) []map[string]any {
	t.Helper()
	select {
	case b := <-s.batches:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch reached the server")
		return nil
	}
}

func (s *server) storedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

// newClient starts a client on s with a fake clock, closed at cleanup.
func newClient(t *testing.T, s *server, clk *fakeClock, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithClock(clk), WithService("checkout"), WithBatch(100, 1<<20, time.Second)}, opts...)
	c, err := New(s.URL, "ps_test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // never wait at cleanup
		_ = c.Close(ctx)
	})
	return c
}

func ev(i int) Event { return Event{EventType: "test", Message: "m" + string(rune('a'+i%26))} }

func send(t *testing.T, c *Client, e Event) {
	t.Helper()
	if err := c.Send(context.Background(), e); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // guards a hang only
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
