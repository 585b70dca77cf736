package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// hardStore is the real SQLite store with injected behaviour: a Ping that
// waits for release, and InsertEvents answering insertErr when set.
type hardStore struct {
	pulse.Store
	release          chan struct{}
	pinging, maxPing atomic.Int32
	pings            atomic.Int32
	insertErr        error
}

func (h *hardStore) Ping(ctx context.Context) error {
	n := h.pinging.Add(1)
	defer h.pinging.Add(-1)
	for {
		m := h.maxPing.Load()
		if n <= m || h.maxPing.CompareAndSwap(m, n) {
			break
		}
	}
	h.pings.Add(1)
	if h.release != nil {
		<-h.release
	}
	return h.Store.Ping(ctx)
}

func (h *hardStore) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	if h.insertErr != nil {
		return nil, h.insertErr
	}
	return h.Store.InsertEvents(ctx, tenantID, events)
}

func openHardStore(t *testing.T) (*hardStore, *pulse.Tenant) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tenant := &pulse.Tenant{ID: pulse.NewID(), Name: "t", RateLimitPerMinute: 100000, RetentionDays: 30, CreatedAt: time.Now().UTC()}
	if err := db.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	return &hardStore{Store: db}, tenant
}

// TestReadyOnePingAtATime: /ready is exempt from the in-flight cap, so a
// flood of it must not hold more than one database connection: 20
// concurrent calls share one ping.
func TestReadyOnePingAtATime(t *testing.T) {
	t.Parallel()
	store, _ := openHardStore(t)
	store.release = make(chan struct{})
	s := New(Config{Store: store})
	var entered atomic.Int32
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entered.Add(1)
			w := httptest.NewRecorder()
			s.ready(w, httptest.NewRequest("GET", "/ready", nil))
			codes[i] = w.Code
		}()
	}
	// Hold the first ping until every call has arrived and had a chance
	// to start its own (the failure this test catches: one ping each).
	for store.pings.Load() == 0 || entered.Load() < 20 {
		runtime.Gosched()
	}
	for range 1000 {
		runtime.Gosched()
	}
	close(store.release)
	wg.Wait()
	if m := store.maxPing.Load(); m != 1 {
		t.Errorf("%d pings ran at once for 20 concurrent /ready; want 1", m)
	}
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("/ready call %d: %d", i, c)
		}
	}
}

// signedServer is a server whose tenant has one signing secret.
func signedServer(t *testing.T, store *hardStore, tenant *pulse.Tenant, budget int64) (*Server, string) {
	t.Helper()
	key := make([]byte, 32)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := pulse.SigningSecretPrefix + "test-secret-0123456789"
	sec := &pulse.SigningSecret{ID: pulse.NewID(), TenantID: tenant.ID, Prefix: "pss_test", CreatedAt: time.Now().UTC()}
	sec.Sealed = box.Seal([]byte(secret), sealAD(tenant.ID, sec.ID))
	if err := store.CreateSigningSecret(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	limiter := inmem.NewLimiter(inmem.LimiterConfig{})
	s := New(Config{Store: store, Ingest: ingest.New(ingest.Config{Store: store, Limiter: limiter}), Clock: clock,
		Keys: NewKeyCache(store, clock, time.Second), SecretBox: box, Replay: inmem.NewReplayGuard(clock, 0),
		MaxDecodeBytes: budget, DecodeTenantShare: 1})
	return s, secret
}

func signedRequest(s *Server, tenant *pulse.Tenant, secret string, body []byte) *http.Request {
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	r := httptest.NewRequest("POST", "/api/v1/events/batch", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, "v1="+pulse.Sign(secret, ts, body))
	return r.WithContext(context.WithValue(r.Context(), ctxTenant, tenant))
}

func batchBody(n, pad int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"event_type":"e","service":"s","severity":"info","external_id":"x` + strconv.Itoa(i) + `","payload":{"p":"` + string(bytes.Repeat([]byte("p"), pad)) + `"}}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestSignedBodyChargedOnce: a signed request's raw body is charged to the
// decode budget as it is read (before the signature is checked), and the
// handler's read of the same bytes is not charged again — a body that
// fits the budget once is accepted.
func TestSignedBodyChargedOnce(t *testing.T) {
	t.Parallel()
	store, tenant := openHardStore(t)
	body := batchBody(10, 1000)
	// Room for the body once (times the amplification), not twice.
	s, secret := signedServer(t, store, tenant, int64(len(body))*DecodeAmplification*3/2)
	w := httptest.NewRecorder()
	s.verifySigned(s.postBatch)(w, signedRequest(s, tenant, secret, body))
	if w.Code != http.StatusOK {
		t.Fatalf("signed batch within the budget: %d %s", w.Code, w.Body)
	}
	if s.decode.peak == 0 || s.decode.peak > int64(len(body))*DecodeAmplification {
		t.Errorf("budget peak %d for a %d-byte body; want it charged once", s.decode.peak, len(body))
	}
	if s.decode.used != 0 {
		t.Errorf("%d bytes still charged after the request", s.decode.used)
	}
}

// countingBody counts what the server read of a body.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestSignedRefusedBeforeReading: a signature whose timestamp is out of
// the window is refused without reading the body.
func TestSignedRefusedBeforeReading(t *testing.T) {
	t.Parallel()
	store, tenant := openHardStore(t)
	s, secret := signedServer(t, store, tenant, 0)
	r := signedRequest(s, tenant, secret, []byte(`{"events":[]}`))
	r.Header.Set(headerTimestamp, strconv.FormatInt(s.clock.Now().Add(-time.Hour).Unix(), 10))
	body := &countingBody{r: bytes.NewReader(batchBody(100, 1000))}
	r.Body = io.NopCloser(body)
	w := httptest.NewRecorder()
	s.verifySigned(s.postBatch)(w, r)
	if w.Code != http.StatusUnauthorized || body.read.Load() != 0 {
		t.Errorf("stale signature: %d after reading %d body bytes; want 401 before reading", w.Code, body.read.Load())
	}
}

// TestReplayKeptAfterOutcomeUnknown: a signed request answered 503
// outcome_unknown may have been stored, so it stays remembered: sending
// it again is a replay (409), not a second chance to store it twice.
// After a plain 503 (nothing kept) it may be sent again.
func TestReplayKeptAfterOutcomeUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err   error
		again int
	}{
		{&pulse.Error{Code: pulse.EUNKNOWN, Message: "injected: commit not confirmed", RetryAfter: time.Second}, http.StatusConflict},
		{pulse.Unavailable(errors.New("injected: database unreachable"), time.Second), http.StatusServiceUnavailable},
	} {
		store, tenant := openHardStore(t)
		store.insertErr = tc.err
		s, secret := signedServer(t, store, tenant, 0)
		body := batchBody(1, 10)
		for i, want := range []int{http.StatusServiceUnavailable, tc.again} {
			w := httptest.NewRecorder()
			s.verifySigned(s.postBatch)(w, signedRequest(s, tenant, secret, body))
			if w.Code != want {
				t.Errorf("%s: attempt %d answered %d, want %d: %s", pulse.ErrorCode(tc.err), i+1, w.Code, want, w.Body)
			}
		}
	}
}

// TestSignedBodyStopsAtTheBudget: a signed body beyond the decode budget
// is refused while it is read (503 overloaded), not after the whole raw
// body was held in memory outside the budget.
func TestSignedBodyStopsAtTheBudget(t *testing.T) {
	t.Parallel()
	store, tenant := openHardStore(t)
	data := batchBody(200, 1000)
	s, secret := signedServer(t, store, tenant, 64<<10)
	r := signedRequest(s, tenant, secret, data)
	body := &countingBody{r: bytes.NewReader(data)}
	r.Body = io.NopCloser(body)
	w := httptest.NewRecorder()
	s.verifySigned(s.postBatch)(w, r)
	if w.Code != http.StatusServiceUnavailable || body.read.Load() >= int64(len(data)) {
		t.Errorf("signed body of %d bytes over a 64 KiB budget: %d after reading %d bytes; want 503 before the end", len(data), w.Code, body.read.Load())
	}
}

// keysDown is the real store whose key look-ups fail as with PostgreSQL
// unreachable while down is set.
type keysDown struct {
	pulse.Store
	down atomic.Bool
}

func (k *keysDown) GetAPIKeyByHash(ctx context.Context, hash string) (*pulse.APIKey, error) {
	if k.down.Load() {
		return nil, pulse.Unavailable(errors.New("injected: database unreachable"), time.Second)
	}
	return k.Store.GetAPIKeyByHash(ctx, hash)
}

// Log mode (ServeStale): a key seen before the database went down keeps
// authenticating from its expired entry, up to the stale limit; an unknown
// key gets the database's 503; without ServeStale an expired entry is 503.
func TestKeyCacheServeStale(t *testing.T) {
	t.Parallel()
	hs, _ := openHardStore(t)
	store := &keysDown{Store: hs.Store}
	clock := testkit.NewClock(time.Now().UTC())
	_, secret, err := pulse.CreateTenantWithKey(t.Context(), store, clock.Now(), "stale", 1000, 30)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := pulse.CreateTenantWithKey(t.Context(), store, clock.Now(), "never-seen", 1000, 30)
	if err != nil {
		t.Fatal(err)
	}
	stale, plain := NewKeyCache(store, clock, time.Second), NewKeyCache(store, clock, time.Second)
	stale.ServeStale(time.Minute)
	for _, c := range []*KeyCache{stale, plain} {
		if _, _, err := c.Authenticate(t.Context(), secret); err != nil {
			t.Fatalf("database up: %v", err)
		}
	}
	store.down.Store(true)
	clock.Advance(30 * time.Second)
	if _, _, err := stale.Authenticate(t.Context(), secret); err != nil {
		t.Errorf("seen key, database down, within the stale limit: %v", err)
	}
	if _, _, err := plain.Authenticate(t.Context(), secret); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Errorf("without ServeStale: %v, want EUNAVAILABLE", err)
	}
	if _, _, err := stale.Authenticate(t.Context(), other); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Errorf("key never seen, database down: %v, want EUNAVAILABLE", err)
	}
	clock.Advance(time.Minute)
	if _, _, err := stale.Authenticate(t.Context(), secret); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Errorf("past the stale limit: %v, want EUNAVAILABLE", err)
	}
}
