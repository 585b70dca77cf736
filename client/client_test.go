package client

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestBatchBySize(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, newFakeClock(), WithBatch(3, 1<<20, never))
	for i := range 7 {
		send(t, c, ev(i))
	}
	// Two full batches leave without any clock movement or Flush.
	if a, b := len(s.batch(t)), len(s.batch(t)); a != 3 || b != 3 {
		t.Fatalf("batches of %d and %d events, want 3 and 3", a, b)
	}
	flush(t, c)
	if n := len(s.batch(t)); n != 1 {
		t.Fatalf("flushed batch has %d events, want 1", n)
	}
	if st := c.Stats(); st.Created != 7 || st.Requests != 3 || st.Buffered != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestBatchByBytes(t *testing.T) {
	s := newServer(t)
	one := Event{EventType: "test", Service: "checkout", Message: "0123456789", ExternalID: "x", Timestamp: time.Unix(0, 0)}
	c := newClient(t, s, newFakeClock(), WithBatch(1000, 2*len(mustJSON(t, one))+10, never))
	for i := range 4 {
		e := one
		e.ExternalID = strconv.Itoa(i) // same length as "x"
		send(t, c, e)
	}
	flush(t, c)
	if a, b := len(s.batch(t)), len(s.batch(t)); a != 2 || b != 2 {
		t.Fatalf("batches of %d and %d events, want 2 and 2 (byte limit)", a, b)
	}
}

func TestBatchByInterval(t *testing.T) {
	s := newServer(t)
	clk := newFakeClock()
	c := newClient(t, s, clk, WithBatch(100, 1<<20, 5*time.Second))
	send(t, c, ev(0))
	send(t, c, ev(1))
	if d := clk.nextWait(t); d != 5*time.Second {
		t.Fatalf("batch timer = %v, want 5s", d)
	}
	clk.Advance(4 * time.Second)
	select {
	case b := <-s.batches:
		t.Fatalf("a batch of %d left before the interval", len(b))
	default:
	}
	clk.Advance(time.Second)
	if n := len(s.batch(t)); n != 2 {
		t.Fatalf("batch has %d events, want 2", n)
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestExternalIDAndDefaults(t *testing.T) {
	s := newServer(t)
	clk := newFakeClock()
	c := newClient(t, s, clk)
	send(t, c, Event{EventType: "a"})
	send(t, c, Event{EventType: "b", ExternalID: "mine", Service: "billing"})
	flush(t, c)
	b := s.batch(t)
	id0, _ := b[0]["external_id"].(string)
	if !uuidV7.MatchString(id0) || b[1]["external_id"] != "mine" {
		t.Fatalf("external ids %q, %q: want a UUIDv7 and the caller's", id0, b[1]["external_id"])
	}
	if b[0]["service"] != "checkout" || b[1]["service"] != "billing" {
		t.Fatalf("services %v, %v", b[0]["service"], b[1]["service"])
	}
	if b[0]["timestamp"] != clk.Now().Format(time.RFC3339Nano) {
		t.Fatalf("timestamp %v, want the Send time %v", b[0]["timestamp"], clk.Now())
	}
}

func TestRetryOn503HonoursRetryAfterSeconds(t *testing.T) {
	s := newServer(t)
	s.before = func(n int, w http.ResponseWriter, _ *http.Request, _ func() []result) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	clk := newFakeClock()
	c := newClient(t, s, clk, WithBatch(1, 1<<20, never))
	send(t, c, ev(0))
	if d := clk.nextWait(t); d != 7*time.Second {
		t.Fatalf("backoff = %v, want the Retry-After of 7s", d)
	}
	clk.Advance(7 * time.Second)
	s.batch(t)
	s.batch(t)
	flush(t, c)
	if st := c.Stats(); st.Created != 1 || st.Retries != 1 || st.Failed != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRetryAfterHTTPDateOn429(t *testing.T) {
	s := newServer(t)
	clk := newFakeClock()
	s.before = func(n int, w http.ResponseWriter, _ *http.Request, _ func() []result) bool {
		if n == 1 {
			w.Header().Set("Retry-After", clk.Now().Add(30*time.Second).Format(http.TimeFormat))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	c := newClient(t, s, clk, WithBatch(1, 1<<20, never))
	send(t, c, ev(0))
	if d := clk.nextWait(t); d != 30*time.Second {
		t.Fatalf("backoff = %v, want 30s from the HTTP-date Retry-After", d)
	}
	clk.Advance(30 * time.Second)
	flush(t, c)
	if s.storedCount() != 1 {
		t.Fatalf("stored %d events, want 1", s.storedCount())
	}
}

// A partially accepted batch: only the events answered rate_limited are
// sent again, after the Retry-After.
func TestRetryOnlyRateLimitedEvents(t *testing.T) {
	s := newServer(t)
	s.before = func(n int, w http.ResponseWriter, _ *http.Request, commit func() []result) bool {
		if n != 1 {
			return false
		}
		res := commit()
		res[1] = result{Index: 1, Status: "rate_limited"}
		s.mu.Lock()
		for id, e := range s.stored {
			if e["message"] == "mb" {
				delete(s.stored, id) // not stored: over quota
			}
		}
		s.mu.Unlock()
		w.Header().Set("Retry-After", "2")
		answer(w, http.StatusOK, res)
		return true
	}
	clk := newFakeClock()
	c := newClient(t, s, clk, WithBatch(3, 1<<20, never))
	for i := range 3 {
		send(t, c, ev(i))
	}
	if d := clk.nextWait(t); d != 2*time.Second {
		t.Fatalf("backoff = %v, want 2s", d)
	}
	clk.Advance(2 * time.Second)
	s.batch(t)
	if b := s.batch(t); len(b) != 1 || b[0]["message"] != "mb" {
		t.Fatalf("retry sent %v, want only the rate-limited event", b)
	}
	flush(t, c)
	if st := c.Stats(); st.Created != 3 || s.storedCount() != 3 {
		t.Fatalf("stats %+v, stored %d", st, s.storedCount())
	}
}

// The server commits the batch and the connection drops before the answer:
// the retry carries the same external ids, so each event is stored once.
func TestRetryAfterDroppedConnectionStoresOnce(t *testing.T) {
	s := newServer(t)
	s.before = func(n int, w http.ResponseWriter, _ *http.Request, commit func() []result) bool {
		if n != 1 {
			return false
		}
		commit()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		conn.Close()
		return true
	}
	clk := newFakeClock()
	var mu sync.Mutex
	var failures []error
	c := newClient(t, s, clk, WithBatch(2, 1<<20, never), OnError(func(err error, _ []Event) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}))
	send(t, c, ev(0))
	send(t, c, ev(1))
	first := s.batch(t)
	clk.Advance(clk.nextWait(t)) // full jitter: whatever was chosen
	second := s.batch(t)
	flush(t, c)
	for i := range first {
		if first[i]["external_id"] != second[i]["external_id"] {
			t.Fatalf("retry changed external_id %v → %v", first[i]["external_id"], second[i]["external_id"])
		}
		id := first[i]["external_id"].(string)
		s.mu.Lock()
		seen := s.seen[id]
		s.mu.Unlock()
		if seen != 2 {
			t.Fatalf("server saw %s %d times, want 2", id, seen)
		}
	}
	st := c.Stats()
	mu.Lock()
	defer mu.Unlock()
	if s.storedCount() != 2 || st.Duplicates != 2 || st.Created != 0 || len(failures) != 0 {
		t.Fatalf("stored %d, stats %+v, failures %v: want 2 stored once, answered duplicate on the retry", s.storedCount(), st, failures)
	}
}

func TestBackoffGrowsWithFullJitter(t *testing.T) {
	c := &Client{cfg: defaultConfig()}
	c.cfg.backoffBase, c.cfg.backoffMax = time.Second, 8*time.Second
	for n, ceil := range []time.Duration{1, 2, 4, 8, 8, 8} {
		for range 200 {
			if d := c.backoff(n); d < 0 || d > ceil*time.Second {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil*time.Second)
			}
		}
	}
}

func TestNoRetryOnClientError(t *testing.T) {
	s := newServer(t)
	s.before = func(_ int, w http.ResponseWriter, _ *http.Request, _ func() []result) bool {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"title":"Unauthorized","detail":"invalid API key"}`))
		return true
	}
	var got error
	var lost []Event
	c := newClient(t, s, newFakeClock(), OnError(func(err error, evs []Event) { got, lost = err, evs }))
	send(t, c, ev(0))
	flush(t, c)
	var ae *APIError
	if !errors.As(got, &ae) || ae.Status != 401 || ae.Detail != "invalid API key" || len(lost) != 1 {
		t.Fatalf("OnError got %v with %d events, want the 401 with 1 event", got, len(lost))
	}
	if st := c.Stats(); st.Requests != 1 || st.Failed != 1 {
		t.Fatalf("stats = %+v, want one request and no retry", st)
	}
}

func TestGiveUpAfterMaxRetries(t *testing.T) {
	s := newServer(t)
	s.before = func(_ int, w http.ResponseWriter, _ *http.Request, _ func() []result) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	clk := newFakeClock()
	var got error
	c := newClient(t, s, clk, WithRetry(2, time.Second, time.Second), OnError(func(err error, _ []Event) { got = err }))
	send(t, c, ev(0))
	clk.nextWait(t) // the batch interval
	clk.Advance(time.Second)
	for range 2 {
		clk.Advance(clk.nextWait(t))
	}
	flush(t, c)
	var ae *APIError
	if !errors.As(got, &ae) || ae.Status != 503 {
		t.Fatalf("OnError got %v, want the last 503", got)
	}
	if st := c.Stats(); st.Requests != 3 || st.Failed != 1 {
		t.Fatalf("stats = %+v, want 3 requests then given up", st)
	}
}

func TestRejectedEventsReachCallback(t *testing.T) {
	s := newServer(t)
	var got []Rejection
	c := newClient(t, s, newFakeClock(), OnRejected(func(r Rejection) { got = append(got, r) }))
	send(t, c, ev(0))
	send(t, c, Event{Message: "no type"})
	flush(t, c)
	if len(got) != 1 || got[0].Status != "rejected" || got[0].Event.Message != "no type" ||
		len(got[0].Errors) != 1 || got[0].Errors[0].Field != "event_type" {
		t.Fatalf("rejections = %+v", got)
	}
	if st := c.Stats(); st.Created != 1 || st.Rejected != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCloseFlushesAndRefusesMore(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, newFakeClock(), WithBatch(100, 1<<20, never))
	for i := range 5 {
		send(t, c, ev(i))
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.storedCount() != 5 {
		t.Fatalf("stored %d after Close, want 5", s.storedCount())
	}
	if err := c.Send(context.Background(), ev(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	if err := c.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
}

// Close's context bounds it: the request in progress is abandoned and its
// events reported, and the goroutine is stopped when Close returns.
func TestCloseBoundedByContext(t *testing.T) {
	s := newServer(t)
	release := make(chan struct{})
	defer close(release)
	s.before = func(_ int, _ http.ResponseWriter, r *http.Request, _ func() []result) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	var lost []Event
	var reason error
	c := newClient(t, s, newFakeClock(), WithBatch(2, 1<<20, never), OnError(func(err error, evs []Event) {
		reason, lost = err, append(lost, evs...)
	}))
	for i := range 3 {
		send(t, c, ev(i))
	}
	s.batch(t) // the first batch hangs on the server
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("Close returned before the goroutine stopped")
	}
	if len(lost) != 3 || !errors.Is(reason, context.Canceled) {
		t.Fatalf("OnError got %d events (%v), want all 3 with context.Canceled", len(lost), reason)
	}
	if st := c.Stats(); st.Failed != 3 || st.Buffered != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// hold makes the server hang every request until release is closed.
func hold(s *server) chan struct{} {
	release := make(chan struct{})
	s.before = func(_ int, _ http.ResponseWriter, r *http.Request, _ func() []result) bool {
		select {
		case <-release:
			return false
		case <-r.Context().Done():
			return true
		}
	}
	return release
}

func TestFullBufferBlocksUntilRoomOrContext(t *testing.T) {
	s := newServer(t)
	release := hold(s)
	c := newClient(t, s, newFakeClock(), WithBatch(2, 1<<20, never), WithBufferSize(2))
	send(t, c, ev(0))
	send(t, c, ev(1))
	s.batch(t) // both in flight, the server holds them
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Send(ctx, ev(2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on a full buffer = %v, want the context's error", err)
	}
	sent := make(chan error)
	go func() { sent <- c.Send(context.Background(), ev(3)) }()
	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("Send after room appeared = %v", err)
	}
	flush(t, c)
	if st := c.Stats(); st.Created != 3 || st.Dropped != 0 {
		t.Fatalf("stats = %+v, want 3 created", st)
	}
}

func TestFullBufferDropsAndCounts(t *testing.T) {
	s := newServer(t)
	release := hold(s)
	c := newClient(t, s, newFakeClock(), WithBatch(2, 1<<20, never), WithBufferSize(2), WithDropWhenFull())
	send(t, c, ev(0))
	send(t, c, ev(1))
	s.batch(t)
	if err := c.Send(context.Background(), ev(2)); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("Send on a full buffer = %v, want ErrBufferFull", err)
	}
	if c.Dropped() != 1 {
		t.Fatalf("Dropped = %d, want 1", c.Dropped())
	}
	close(release)
	flush(t, c)
	if st := c.Stats(); st.Created != 2 || st.Dropped != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSigningHeaders(t *testing.T) {
	s := newServer(t)
	var ts, sig string
	s.before = func(_ int, _ http.ResponseWriter, r *http.Request, _ func() []result) bool {
		ts, sig = r.Header.Get("X-PulseStream-Timestamp"), r.Header.Get("X-PulseStream-Signature")
		return false
	}
	clk := newFakeClock()
	c := newClient(t, s, clk, WithSigningSecret("pss_secret"))
	send(t, c, ev(0))
	flush(t, c)
	if ts != strconv.FormatInt(clk.Now().Unix(), 10) || !regexp.MustCompile(`^v1=[0-9a-f]{64}$`).MatchString(sig) {
		t.Fatalf("timestamp %q signature %q", ts, sig)
	}
}

// TestRetryIsSignedAtALaterSecond: the server refuses a signed request it
// has seen (same timestamp and body) as a replay, so a retry sent within
// the same second must carry a later timestamp.
func TestRetryIsSignedAtALaterSecond(t *testing.T) {
	s := newServer(t)
	var stamps []string
	s.before = func(n int, w http.ResponseWriter, r *http.Request, _ func() []result) bool {
		stamps = append(stamps, r.Header.Get("X-PulseStream-Timestamp"))
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	clk := newFakeClock()
	c := newClient(t, s, clk, WithBatch(1, 1<<20, never), WithSigningSecret("pss_secret"))
	send(t, c, ev(0))
	if d := clk.nextWait(t); d != 0 {
		t.Fatalf("backoff = %v, want the Retry-After of 0s", d)
	}
	s.batch(t)
	s.batch(t)
	flush(t, c)
	now := clk.Now().Unix()
	want := []string{strconv.FormatInt(now, 10), strconv.FormatInt(now+1, 10)}
	if !slices.Equal(stamps, want) {
		t.Fatalf("signature timestamps %v, want %v (the clock did not move)", stamps, want)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		url, key string
		opts     []Option
	}{
		{"localhost:8000", "k", nil},
		{"http://h", "", nil},
		{"http://h", "k", []Option{WithBatch(1001, 1, time.Second)}},
		{"http://h", "k", []Option{WithBufferSize(0)}},
		{"http://h", "k", []Option{WithRetry(-1, time.Second, time.Second)}},
	} {
		if c, err := New(tc.url, tc.key, tc.opts...); err == nil {
			_ = c.Close(context.Background())
			t.Errorf("New(%q, %q) accepted", tc.url, tc.key)
		}
	}
}

// A server in log mode answers 202 with "accepted" per event: done, no
// retry, counted as created.
func TestAcceptedByIngestLog(t *testing.T) {
	s := newServer(t)
	s.before = func(_ int, w http.ResponseWriter, _ *http.Request, commit func() []result) bool {
		res := commit()
		for i := range res {
			if res[i].Status == "created" {
				res[i].Status = "accepted"
			}
		}
		answer(w, http.StatusAccepted, res)
		return true
	}
	c := newClient(t, s, newFakeClock(), WithBatch(2, 1<<20, never))
	send(t, c, ev(0))
	send(t, c, ev(1))
	flush(t, c)
	if st := c.Stats(); st.Created != 2 || st.Retries != 0 || st.Failed != 0 || st.Rejected != 0 {
		t.Fatalf("stats %+v; want 2 created, no retry", st)
	}
}
