package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
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

// otlpTestServer is a server over a real SQLite store whose InsertEvents
// fails from call failFrom on (0: never), with one tenant.
func otlpTestServer(t *testing.T, failFrom, maxBatch int, maxBody int64) (*Server, *failingInserts, *pulse.Tenant) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tenant := &pulse.Tenant{ID: pulse.NewID(), Name: "t", RateLimitPerMinute: 100_000, RetentionDays: 30, CreatedAt: time.Now().UTC()}
	if err := db.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	if failFrom == 0 {
		failFrom = math.MaxInt
	}
	store := &failingInserts{Store: db, failFrom: failFrom}
	limiter := inmem.NewLimiter(inmem.LimiterConfig{})
	s := New(Config{Store: store, Ingest: ingest.New(ingest.Config{Store: store, Limiter: limiter}), MaxBatchEvents: maxBatch, MaxBodyBytes: maxBody})
	return s, store, tenant
}

func postOTLP(s *Server, tenant *pulse.Tenant, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/logs", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-protobuf")
	r = r.WithContext(context.WithValue(r.Context(), ctxTenant, tenant))
	w := httptest.NewRecorder()
	s.postOTLPLogs(w, r)
	return w
}

// otlpBody is a protobuf export of n records (each with event.id i when
// withIDs) under one resource with the given attributes.
func otlpBody(n int, withIDs bool, res ...*commonpb.KeyValue) []byte {
	sl := &logspb.ScopeLogs{}
	now := uint64(time.Now().UnixNano())
	for i := range n {
		lr := &logspb.LogRecord{TimeUnixNano: now}
		if withIDs {
			lr.Attributes = []*commonpb.KeyValue{{Key: ingest.OTLPEventIDAttr, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprint("id-", i)}}}}
		}
		sl.LogRecords = append(sl.LogRecords, lr)
	}
	body, _ := proto.Marshal(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{Resource: &resourcepb.Resource{Attributes: res}, ScopeLogs: []*logspb.ScopeLogs{sl}}}})
	return body
}

// TestOTLPChunkFailure: an export of 10 records in chunks of 4 whose
// second chunk cannot be stored (503): with event.id on every record →
// 503 with Retry-After (the exporter resends; the 4 stored answer
// duplicate, and the resend stores the other 6 once); without → 200 with
// the 6 records in partial_success and why they cannot be retried (a 503
// would make the exporter store the first 4 twice); when the first chunk
// fails → 503 with Retry-After and a google.rpc.Status.
func TestOTLPChunkFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		failFrom   int
		withIDs    bool
		status     int
		rejected   int64
		retryAfter bool
	}{
		{2, false, http.StatusOK, 6, false},
		{2, true, http.StatusServiceUnavailable, 0, true},
		{1, false, http.StatusServiceUnavailable, 0, true},
	} {
		s, store, tenant := otlpTestServer(t, tt.failFrom, 4, 0)
		body := otlpBody(10, tt.withIDs)
		w := postOTLP(s, tenant, body)
		if w.Code != tt.status || (w.Header().Get("Retry-After") != "") != tt.retryAfter {
			t.Fatalf("fail from call %d, ids %v: %d (Retry-After %q), want %d", tt.failFrom, tt.withIDs, w.Code, w.Header().Get("Retry-After"), tt.status)
		}
		if tt.status != http.StatusOK {
			var st spb.Status
			if err := proto.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Code != 14 {
				t.Errorf("503 body: %v %v", &st, err)
			}
			if tt.withIDs {
				// The exporter's retry once the store is back: 4 duplicates, 6 new.
				store.failFrom = math.MaxInt
				w := postOTLP(s, tenant, body)
				var resp collogspb.ExportLogsServiceResponse
				if err := proto.Unmarshal(w.Body.Bytes(), &resp); w.Code != http.StatusOK || err != nil || resp.GetPartialSuccess() != nil {
					t.Errorf("retry: %d %v %v", w.Code, &resp, err)
				}
				evs, err := store.Store.SearchEvents(t.Context(), tenant.ID, pulse.EventFilter{Limit: 100})
				if err != nil || len(evs) != 10 {
					t.Errorf("after the retry %d events stored (%v), want 10", len(evs), err)
				}
			}
			continue
		}
		var resp collogspb.ExportLogsServiceResponse
		msg := ""
		err := proto.Unmarshal(w.Body.Bytes(), &resp)
		if err == nil {
			msg = resp.GetPartialSuccess().GetErrorMessage()
		}
		if err != nil || resp.GetPartialSuccess().GetRejectedLogRecords() != tt.rejected ||
			!strings.Contains(msg, "log records 4-9 (6 records) were not stored because the server was unavailable") ||
			!strings.Contains(msg, "cannot be retried safely without the event.id attribute") {
			t.Errorf("answer %v %v, want %d rejected naming records 4-9", &resp, err, tt.rejected)
		}
	}
}

// TestOTLPTooManyRecords: an export of OTLPMaxRecords+1 empty records (2
// bytes each on the wire), or of as many empty resource entries → 413 with
// a google.rpc.Status, nothing stored.
func TestOTLPTooManyRecords(t *testing.T) {
	t.Parallel()
	s, store, tenant := otlpTestServer(t, 0, 0, 0)
	w := postOTLP(s, tenant, otlpBody(ingest.OTLPMaxRecords+1, false))
	var st spb.Status
	if err := proto.Unmarshal(w.Body.Bytes(), &st); w.Code != http.StatusRequestEntityTooLarge || err != nil || st.Code != 3 {
		t.Fatalf("%d %v %v, want 413", w.Code, &st, err)
	}
	// As many empty resource entries, and no record at all.
	groups, _ := proto.Marshal(&logspb.LogsData{ResourceLogs: make([]*logspb.ResourceLogs, ingest.OTLPMaxRecords+1)})
	if w := postOTLP(s, tenant, groups); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d empty resource entries: %d, want 413", ingest.OTLPMaxRecords+1, w.Code)
	}
	if store.calls != 0 {
		t.Errorf("%d inserts, want none", store.calls)
	}
	// At the cap the export is taken.
	if w := postOTLP(s, tenant, otlpBody(ingest.OTLPMaxRecords, false)); w.Code != http.StatusOK {
		t.Errorf("%d records: %d", ingest.OTLPMaxRecords, w.Code)
	}
}

// TestOTLPGeneratedBytesBounded: a 64 KiB body whose 20 KiB resource
// attribute is copied into each of 20 records would generate 400 KiB of
// events, more than 4× the body limit → 413, nothing stored.
func TestOTLPGeneratedBytesBounded(t *testing.T) {
	t.Parallel()
	s, store, tenant := otlpTestServer(t, 0, 100, 64<<10)
	big := &commonpb.KeyValue{Key: "big", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", 20<<10)}}}
	w := postOTLP(s, tenant, otlpBody(20, false, big))
	if w.Code != http.StatusRequestEntityTooLarge || store.calls != 0 {
		t.Fatalf("%d (%d inserts), want 413 and nothing stored: %s", w.Code, store.calls, w.Body.Bytes())
	}
	// 5 such records (100 KiB of events) are within the bound.
	if w := postOTLP(s, tenant, otlpBody(5, false, big)); w.Code != http.StatusOK || store.calls != 1 {
		t.Errorf("5 records: %d (%d inserts)", w.Code, store.calls)
	}
}
