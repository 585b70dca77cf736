package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// TestBulkChunkFailure: 10 documents in chunks of 4 whose second chunk
// cannot be stored (injected) → 200, the first 4 items 201 and the other
// 6 a retryable 503 each, errors true; when the first chunk fails → the
// whole request 503 with Retry-After in Elasticsearch's error format.
func TestBulkChunkFailure(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now().UTC()
	tenant := &pulse.Tenant{ID: pulse.NewID(), Name: "t", RateLimitPerMinute: 1000, RetentionDays: 30, CreatedAt: now}
	if err := db.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	for i := range 10 {
		fmt.Fprintf(&body, "{\"create\":{\"_id\":\"d%d\"}}\n{\"message\":\"m%d\"}\n", i, i)
	}
	for _, tt := range []struct {
		failFrom int
		status   int
	}{{2, http.StatusOK}, {1, http.StatusServiceUnavailable}} {
		store := &failingInserts{Store: db, failFrom: tt.failFrom}
		limiter := inmem.NewLimiter(inmem.LimiterConfig{})
		s := New(Config{Store: store, Ingest: ingest.New(ingest.Config{Store: store, Limiter: limiter}), MaxBatchEvents: 4})
		r := httptest.NewRequest("POST", "/api/v1/ingest/elasticsearch/_bulk", bytes.NewReader(body.Bytes()))
		r.Header.Set("Content-Type", "application/x-ndjson")
		r = r.WithContext(context.WithValue(r.Context(), ctxTenant, tenant))
		w := httptest.NewRecorder()
		s.postBulk(w, r)
		if w.Code != tt.status {
			t.Fatalf("fail from call %d: %d %s, want %d", tt.failFrom, w.Code, w.Body, tt.status)
		}
		if tt.status != http.StatusOK {
			var e struct {
				Error  struct{ Type string }
				Status int
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Status != 503 || e.Error.Type == "" || w.Header().Get("Retry-After") == "" {
				t.Errorf("503 answer %s %v", w.Body, err)
			}
			continue
		}
		var resp bulkResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || !resp.Errors || len(resp.Items) != 10 {
			t.Fatalf("answer %s %v", w.Body, err)
		}
		for i, item := range resp.Items {
			want := http.StatusCreated
			if i >= 4 {
				want = http.StatusServiceUnavailable
			}
			if got := item["create"]; got == nil || got.Status != want || got.ID != fmt.Sprintf("d%d", i) {
				t.Errorf("item %d: %+v, want status %d", i, got, want)
			}
		}
	}
}
