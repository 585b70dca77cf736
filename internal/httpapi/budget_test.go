package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestDecodeBudgetTenantShare(t *testing.T) {
	t.Parallel()
	b := newDecodeBudget(8*DecodeAmplification, 0.5, nil)
	a1, a2, c := b.lease("a"), b.lease("a"), b.lease("c")
	if err := a1.charge(3); err != nil {
		t.Fatal(err)
	}
	var pe *pulse.Error
	if err := a2.charge(2); !errors.As(err, &pe) || pe.Code != pulse.EOVERLOADED || pe.RetryAfter <= 0 {
		t.Errorf("tenant a beyond its half of the budget: %v, want overloaded with Retry-After", err)
	}
	if err := c.charge(4); err != nil {
		t.Errorf("tenant c within its share while a holds part of the budget: %v", err)
	}
	if err := a2.charge(1); err != nil { // a: 3+1 of its 4, node: 8 of 8
		t.Errorf("charge filling the budget exactly: %v", err)
	}
	d := b.lease("d")
	if err := d.charge(1); err == nil {
		t.Errorf("the node budget is full, yet another tenant's charge was accepted")
	}
	a1.release()
	c.release()
	if err := d.charge(4); err != nil {
		t.Errorf("after release: %v", err)
	}
	if b.peak != b.total || b.used != 5*DecodeAmplification {
		t.Errorf("peak %d (total %d), used %d", b.peak, b.total, b.used)
	}
}

// TestDecodeAmplification measures what reading and splitting a batch
// allocates per body byte; DecodeAmplification, the budget's charge per
// byte, must cover it.
func TestDecodeAmplification(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what the decoders allocate (5.6 bytes per byte)")
	}
	pad := strings.Repeat("x", 10_000)
	events := make([]map[string]any, 1000)
	for i := range events {
		events[i] = map[string]any{"event_type": "a", "payload": map[string]any{"pad": pad}}
	}
	raw, _ := json.Marshal(map[string]any{"events": events})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := httptest.NewRequest("POST", "/api/v1/events/batch", bytes.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	body, err := readJSONBody(r, 10<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.DecodeBatch(body, 1000); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(raw))
	t.Logf("reading and splitting a %d-byte batch allocated %.2f bytes per body byte", len(raw), perByte)
	if perByte > DecodeAmplification {
		t.Errorf("%.2f bytes allocated per body byte; DecodeAmplification (%d) no longer covers it", perByte, DecodeAmplification)
	}
}
