package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pulsestream/internal/ingest"
	"pulsestream/internal/inmem"
	"pulsestream/internal/pulse"
	"pulsestream/internal/sqlite"
)

// TestOTLPResponse: the hand-encoded ExportLogsServiceResponse decodes
// with the official type, in protobuf and in OTLP JSON.
func TestOTLPResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rejected int64
		msg      string
	}{{0, ""}, {1, "log record 2: timestamp is old"}, {1 << 40, "ü"}}
	for _, tt := range tests {
		for _, isJSON := range []bool{false, true} {
			var got collogspb.ExportLogsServiceResponse
			data := otlpResponse(isJSON, tt.rejected, tt.msg)
			var err error
			if isJSON {
				err = protojson.Unmarshal(data, &got)
			} else {
				err = proto.Unmarshal(data, &got)
			}
			if err != nil {
				t.Fatalf("json %v %d: %v", isJSON, tt.rejected, err)
			}
			if ps := got.GetPartialSuccess(); ps.GetRejectedLogRecords() != tt.rejected || ps.GetErrorMessage() != tt.msg || (tt.rejected == 0) != (ps == nil) {
				t.Errorf("json %v: decoded %v, want %d %q", isJSON, &got, tt.rejected, tt.msg)
			}
		}
	}
}

// failingInserts is the real SQLite store whose InsertEvents fails from
// call failFrom on (injected failure: the database going away mid-export).
type failingInserts struct {
	pulse.Store
	calls, failFrom int
}

func (f *failingInserts) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	f.calls++
	if f.calls >= f.failFrom {
		return nil, pulse.Unavailable(errors.New("injected: database unreachable"), time.Second)
	}
	return f.Store.InsertEvents(ctx, tenantID, events)
}

// TestOTLPChunkFailure: an export of 10 records in chunks of 4 whose
// second chunk cannot be stored → 200 with the 6 records not stored in
// partial_success (a 503 would make the exporter resend the 4 stored
// ones, stored twice without event.id); when the first chunk fails → 503
// with Retry-After and a google.rpc.Status.
func TestOTLPChunkFailure(t *testing.T) {
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
	sl := &logspb.ScopeLogs{}
	for range 10 {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: uint64(now.UnixNano())})
	}
	body, _ := proto.Marshal(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{sl}}}})

	for _, tt := range []struct {
		failFrom   int
		status     int
		rejected   int64
		retryAfter bool
	}{{2, http.StatusOK, 6, false}, {1, http.StatusServiceUnavailable, 0, true}} {
		store := &failingInserts{Store: db, failFrom: tt.failFrom}
		limiter := inmem.NewLimiter(inmem.LimiterConfig{})
		s := New(Config{Store: store, Ingest: ingest.New(ingest.Config{Store: store, Limiter: limiter}), MaxBatchEvents: 4})
		r := httptest.NewRequest("POST", "/v1/logs", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-protobuf")
		r = r.WithContext(context.WithValue(r.Context(), ctxTenant, tenant))
		w := httptest.NewRecorder()
		s.postOTLPLogs(w, r)
		if w.Code != tt.status || (w.Header().Get("Retry-After") != "") != tt.retryAfter {
			t.Fatalf("fail from call %d: %d (Retry-After %q), want %d", tt.failFrom, w.Code, w.Header().Get("Retry-After"), tt.status)
		}
		if tt.status != http.StatusOK {
			var st spb.Status
			if err := proto.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Code != 14 {
				t.Errorf("503 body: %v %v", &st, err)
			}
			continue
		}
		var resp collogspb.ExportLogsServiceResponse
		if err := proto.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.GetPartialSuccess().GetRejectedLogRecords() != tt.rejected ||
			!strings.Contains(resp.GetPartialSuccess().GetErrorMessage(), "log records 4-9") {
			t.Errorf("answer %v %v, want %d rejected naming records 4-9", &resp, err, tt.rejected)
		}
	}
}
