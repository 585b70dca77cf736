package ingest

import (
	"strings"
	"testing"
)

// BenchmarkDecodeBatch splits a 100-event batch body into raw events.
func BenchmarkDecodeBatch(b *testing.B) {
	ev := `{"event_type":"http.request","service":"checkout","severity":"error","tags":{"region":"eu-1"},"payload":{"a":[1,2,3]},"message":"` +
		strings.Repeat("x", 300) + `"}`
	body := []byte(`{"events":[` + strings.TrimSuffix(strings.Repeat(ev+",", 100), ",") + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(body, 1000); err != nil {
			b.Fatal(err)
		}
	}
}
