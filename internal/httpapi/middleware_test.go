package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// requestLines returns the "request" lines logged to buf as JSON, and empties buf.
func requestLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	buf.Reset()
	return out
}

// TestRequestLogAndMetrics: the request log line names the tenant and
// gives the duration in seconds (duration_s); the route label is the path
// pattern without the method; a 429 is counted as quota or auth_failures.
func TestRequestLogAndMetrics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	tenant, key, err := pulse.CreateTenantWithKey(ctx, db, clock.Now(), "logged", 1, 30)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // the handler runs on this goroutine
	reg := prometheus.NewRegistry()
	limiter := inmem.NewLimiter(inmem.LimiterConfig{Clock: clock})
	s := New(Config{Store: db, Ingest: ingest.New(ingest.Config{Store: db, Limiter: limiter, Clock: clock}), Clock: clock,
		Keys: NewKeyCache(db, clock, time.Second), Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registerer: reg,
		AuthFailures: inmem.NewLimiter(inmem.LimiterConfig{Clock: clock}), AuthFailuresPerMinute: 1})
	h := s.Handler()
	post := func(i int, token string) int {
		r := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(`{"event_type":"e","service":"s","external_id":"x`+strconv.Itoa(i)+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}

	if code := post(0, key); code != http.StatusCreated {
		t.Fatalf("first event: %d", code)
	}
	lines := requestLines(t, &logs)
	if len(lines) != 1 {
		t.Fatalf("want one request log line, got %v", lines)
	}
	l := lines[0]
	if l["tenant_id"] != tenant.ID || l["route"] != "/api/v1/events" || l["method"] != "POST" {
		t.Errorf("request log line: %v", l)
	}
	if d, ok := l["duration_s"].(float64); !ok || d < 0 || d > 60 {
		t.Errorf("duration_s %v (%T): want seconds as a number", l["duration_s"], l["duration_s"])
	}
	if _, ok := l["duration_ms"]; ok {
		t.Errorf("duration_ms is gone: %v", l)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("/api/v1/events", "POST", "201")); got != 1 {
		t.Errorf(`requests_total{route="/api/v1/events",method="POST",status="201"} = %v, want 1`, got)
	}

	// The tenant's quota (1 a minute on a stopped clock) runs out: quota 429s.
	quota := 0
	for i := 1; i <= 5; i++ {
		if post(i, key) == http.StatusTooManyRequests {
			quota++
		}
	}
	if quota == 0 {
		t.Fatal("no 429 once the quota was used")
	}
	// A wrong key, twice from one address: 401, then 429 (1 failure a minute).
	if code := post(10, "ps_wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", code)
	}
	if code := post(11, "ps_wrong"); code != http.StatusTooManyRequests {
		t.Fatalf("second wrong key: %d", code)
	}
	if got := testutil.ToFloat64(s.metrics.throttled.WithLabelValues(throttledQuota)); got != float64(quota) {
		t.Errorf("throttled{reason=quota} = %v, want %d", got, quota)
	}
	if got := testutil.ToFloat64(s.metrics.throttled.WithLabelValues(throttledAuthFailures)); got != 1 {
		t.Errorf("throttled{reason=auth_failures} = %v, want 1", got)
	}
	// Five requests with the tenant's key, then two with a wrong one.
	lines = requestLines(t, &logs)
	if len(lines) != 7 {
		t.Fatalf("want 7 request log lines, got %d", len(lines))
	}
	for i, l := range lines {
		if want := i < 5; (l["tenant_id"] == tenant.ID) != want || (!want && l["tenant_id"] != nil) {
			t.Errorf("line %d: tenant_id must be the authenticated tenant's, absent without one: %v", i, l)
		}
	}
}

func TestRouteLabel(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"POST /api/v1/events":       "/api/v1/events",
		"GET /api/v1/events/{id}":   "/api/v1/events/{id}",
		"/health":                   "/health",
		"":                          "unmatched",
		"DELETE  /api/v1/silences/": "/api/v1/silences/",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}
