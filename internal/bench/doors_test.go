package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
)

// Each new door's body is what the server's decoder for that door takes,
// with one event per record / action and the external id set.
func TestDoorBodiesDecode(t *testing.T) {
	base := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	const size = 100

	otlp := doorFor("ingest-otlp", size)
	req, err := ingest.DecodeOTLPLogs(otlp.body(nil, "run", 200, size, base), false)
	if err != nil {
		t.Fatalf("DecodeOTLPLogs: %v", err)
	}
	recs := ingest.OTLPRecords(req)
	if len(recs) != size {
		t.Fatalf("OTLP records: got %d, want %d", len(recs), size)
	}
	for _, rec := range recs {
		if !rec.HasEventID() {
			t.Fatal("an OTLP record has no event.id")
		}
	}
	if evs := ingest.OTLPEvents(req, ingest.OTLPOptions{}); len(evs) != size || !hasExternalID(t, evs[0], "run-200") {
		t.Fatalf("OTLP events: %d, first %s", len(evs), evs[0])
	}

	bulk := doorFor("ingest-bulk", size)
	items, err := ingest.DecodeBulk(bulk.body(nil, "run", 200, size, base), ingest.BulkOptions{})
	if err != nil {
		t.Fatalf("DecodeBulk: %v", err)
	}
	if len(items) != size {
		t.Fatalf("bulk items: got %d, want %d", len(items), size)
	}
	for _, it := range items {
		if it.Op != "index" || it.Err != nil || it.Event == nil {
			t.Fatalf("bulk item %+v", it)
		}
	}
	if !hasExternalID(t, items[size-1].Event, "run-299") {
		t.Fatalf("last bulk event %s", items[size-1].Event)
	}

	if d := doorFor("ingest-otlp", size); d.path != "/v1/logs" || d.contentType != "application/x-protobuf" {
		t.Fatalf("otlp door %s %s", d.path, d.contentType)
	}
	if d := doorFor("ingest-bulk", size); d.contentType != "application/x-ndjson" {
		t.Fatalf("bulk door %s", d.contentType)
	}
}

func hasExternalID(t *testing.T, ev json.RawMessage, want string) bool {
	t.Helper()
	var e struct {
		ExternalID string `json:"external_id"`
		Service    string `json:"service"`
	}
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	return e.ExternalID == want && e.Service != "" && e.Service != ingest.OTLPDefaultService
}
