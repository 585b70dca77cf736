package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// oldEventJSON is the generator as it was before its formatting was made
// allocation-free (time.AppendFormat and fmt's %016x): the reference the
// faster one must match byte for byte.
func oldEventJSON(b []byte, run string, n int, ts time.Time) []byte {
	var tc timeCache
	b = eventJSON(b, &tc, run, n, ts)
	i := bytes.Index(b, []byte(`"timestamp":"`)) + len(`"timestamp":"`)
	j := bytes.IndexByte(b[i:], '"') + i
	k := bytes.Index(b, []byte(`"trace_id":"`)) + len(`"trace_id":"`)
	var out []byte
	out = append(out, b[:i]...)
	out = ts.UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, b[j:k]...)
	out = fmt.Appendf(out, "%016x", uint64(n)*2654435761)
	return append(out, b[k+16:]...)
}

// The hand-written timestamp and trace id are what time.RFC3339Nano and
// %016x wrote: across minute, hour and day boundaries, whole seconds and
// fractions with trailing zeros.
func TestEventJSONMatchesFormatters(t *testing.T) {
	bases := []time.Time{
		time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_990_000, time.UTC),
		time.Date(2026, 3, 1, 9, 7, 58, 123_456_789, time.FixedZone("x", 3600)),
	}
	var tc timeCache
	for _, base := range bases {
		for _, step := range []time.Duration{time.Microsecond, 7 * time.Millisecond, time.Second + 100*time.Nanosecond} {
			for n := range 3000 {
				ts := base.Add(time.Duration(n) * step)
				got := eventJSON(nil, &tc, "run", n*7919, ts)
				if want := oldEventJSON(nil, "run", n*7919, ts); !bytes.Equal(got, want) {
					t.Fatalf("event %d at %v:\n got %s\nwant %s", n, ts, got, want)
				}
			}
		}
	}
}

// 100,000 events sent as ingest-batch sends them: every body splits with
// the server's batch decoder, every event passes pulse.ParseEvent with the
// fields set, every external id is unique, and the event sizes stay in the
// old range (~560 bytes).
func TestGeneratedBatchesParse(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 events")
	}
	const total, size = 100_000, 100
	now := time.Now()
	base := now.Add(-time.Minute)
	d := doorFor("ingest-batch", size)
	seen := make(map[string]bool, total)
	services := map[string]bool{}
	minLen, maxLen := 1<<30, 0
	var buf []byte
	for first := 0; first < total; first += size {
		buf = d.body(buf[:0], "r1764828000000000000-ingest-batch", first, size, base)
		raws, err := ingest.DecodeBatch(buf, 1000)
		if err != nil || len(raws) != size {
			t.Fatalf("batch at %d: %v (%d events)", first, err, len(raws))
		}
		for k, raw := range raws {
			minLen, maxLen = min(minLen, len(raw)), max(maxLen, len(raw))
			e, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: now, Retention: 24 * time.Hour})
			if err != nil {
				t.Fatalf("event %d: %v\n%s", first+k, err, raw)
			}
			if seen[e.ExternalID] {
				t.Fatalf("external id %q sent twice", e.ExternalID)
			}
			seen[e.ExternalID] = true
			services[e.Service] = true
			if e.UserID == "" || e.Message == "" || e.EventType == "" || len(e.Tags) != 3 || len(e.Payload) == 0 {
				t.Fatalf("event %d lacks a field: %+v", first+k, e)
			}
			if want := base.Add(time.Duration(first+k) * time.Microsecond).Truncate(time.Microsecond); !e.Timestamp.Equal(want) { // stored to the µs
				t.Fatalf("event %d: timestamp %v, want %v", first+k, e.Timestamp, want)
			}
		}
	}
	if len(seen) != total || len(services) != 10 {
		t.Fatalf("%d external ids, %d services", len(seen), len(services))
	}
	if minLen < 520 || maxLen > 620 {
		t.Fatalf("event sizes %d..%d bytes, outside the ~560-byte shape", minLen, maxLen)
	}
}

// A single-event body is one event object with the same fields.
func TestGeneratedSingleParses(t *testing.T) {
	now := time.Now()
	d := doorFor("ingest-single", 1)
	for _, n := range []int{0, 1, 41, 99_999} {
		e, err := pulse.ParseEvent(d.body(nil, "run", n, 1, now.Add(-time.Minute)), pulse.ParseOptions{Now: now, Retention: time.Hour})
		if err != nil || e.ExternalID != "run-"+strconv.Itoa(n) {
			t.Fatalf("event %d: %v %+v", n, err, e)
		}
	}
}
