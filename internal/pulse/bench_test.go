package pulse

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// A ~560-byte event, the shape used by `pulsestream bench`.
var benchEvent = []byte(`{"event_type":"http.request","severity":"error","service":"checkout","endpoint":"/api/pay",` +
	`"status_code":502,"user_id":"user-42","message":"request handled ` + strings.Repeat("lorem ipsum ", 10) + `",` +
	`"tags":{"region":"eu-1","version":"v1.3","host":"host-7"},"timestamp":"2026-11-26T11:59:00.123456Z",` +
	`"external_id":"bench-123456","payload":{"trace_id":"00000000deadbeef","duration_ms":183,"attrs":{"a":1,"b":[1,2,3],"c":"xyz"}}}`)

// BenchmarkParseEvent is the decoder + validator + content hash of one event.
func BenchmarkParseEvent(b *testing.B) {
	opt := ParseOptions{Now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Retention: 30 * 24 * time.Hour}
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(benchEvent, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckObjectKeys is the exact-name / duplicate-key pass alone.
func BenchmarkCheckObjectKeys(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if fe := CheckObjectKeys(benchEvent, eventFields, ""); fe != nil {
			b.Fatal(fe)
		}
	}
}

func BenchmarkCursorRoundTrip(b *testing.B) {
	c := Cursor{Timestamp: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), ID: NewID()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeCursor(c.Encode()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEventFilter(b *testing.B) {
	q, _ := url.ParseQuery("service=checkout&min_severity=error&tag=region:eu-1&status_code_min=500&limit=100")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEventFilter(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewID()
	}
}
