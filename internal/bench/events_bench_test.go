package bench

import (
	"testing"
	"time"
)

// BenchmarkGenerateBatch is the load generator's cost of building one
// 100-event batch body (ns/event reported): what `pulsestream bench`
// spends per event before any HTTP work.
//
//	go test -run '^$' -bench BenchmarkGenerateBatch -benchmem ./internal/bench
func BenchmarkGenerateBatch(b *testing.B) {
	base := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	const size = 100
	d := doorFor("ingest-batch", size)
	buf := make([]byte, 0, size*700)
	first := 0
	b.ReportAllocs()
	for b.Loop() {
		buf = d.body(buf[:0], "r1764828000000000000-ingest-batch", first, size, base)
		first += size
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(first), "ns/event")
}
