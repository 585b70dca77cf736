package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// BenchSearchText measures q= on a store (docs/STORAGE.md): 30,000 events
// shaped like `pulsestream bench`'s (a 150-byte message, a nested JSON
// payload), one in 1,000 with a rare word in a payload string. "common"
// fills a page of 50 from the newest events; "rare" examines the whole
// scan budget (pulse.MaxTextScan candidates) and reports candidates/s.
func BenchSearchText(b *testing.B, s pulse.Store) {
	tn, err := pulse.NewTenant(newID(), "bench", pulse.MaxRateLimitPerMinute, 30, now())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateTenant(b.Context(), tn); err != nil {
		b.Fatal(err)
	}
	const total = 30_000
	base := now().Add(-time.Hour)
	for start := 0; start < total; start += 1000 {
		batch := make([]*pulse.Event, 1000)
		for i := range batch {
			k := start + i
			e := newEvent(tn.ID, base.Add(time.Duration(k)*time.Millisecond))
			e.Message = fmt.Sprintf("request handled %d lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet", k)
			word := "common"
			if k%1000 == 500 {
				word = "needle"
			}
			e.Payload = fmt.Appendf(nil, `{"trace_id":"%016x","duration_ms":%d,"attrs":{"a":1,"b":[1,2,3],"c":"xyz %s"}}`, k, k%500, word)
			batch[i] = rehash(e)
		}
		if _, err := s.InsertEvents(b.Context(), tn.ID, batch); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, word string }{{"common", "handled"}, {"rare", "needle"}} {
		b.Run(tc.name, func(b *testing.B) {
			f := pulse.EventFilter{Text: []pulse.Phrase{{tc.word}}, Limit: 51}
			for b.Loop() {
				if _, _, err := pulse.SearchText(b.Context(), s, tn.ID, f, pulse.MaxTextScan); err != nil {
					b.Fatal(err)
				}
			}
			if tc.name == "rare" {
				b.ReportMetric(float64(pulse.MaxTextScan)*float64(b.N)/b.Elapsed().Seconds(), "candidates/s")
			}
		})
	}
}
