package sqlite_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pulsestream/pulsestream/internal/bench"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/storetest"
)

// openParts opens a fresh parts database in the test's temporary folder.
func openParts(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{EventStore: sqlite.EventStoreParts})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := db.EventStoreKind(); got != sqlite.EventStoreParts {
		t.Fatalf("EventStoreKind = %q", got)
	}
	return db
}

// TestPartsStore runs the whole conformance suite on a parts database.
func TestPartsStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) pulse.Store {
		return openParts(t)
	})
}

// BenchmarkInsertParallel compares the event stores on the write path:
// 8 goroutines each storing 100-event calls (events shaped like `pulsestream
// bench`'s, every one with an external id) through bench.Storage, the code
// behind `pulsestream bench storage`. Each iteration writes
// PULSESTREAM_BENCH_EVENTS events (default 16,000) into a new database;
// events/s is over the iterations' timed parts.
func BenchmarkInsertParallel(b *testing.B) {
	total := 16_000
	if v := os.Getenv("PULSESTREAM_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("PULSESTREAM_BENCH_EVENTS: %v", err)
		}
		total = n
	}
	for _, kind := range []string{sqlite.EventStoreRows, sqlite.EventStoreParts} {
		b.Run(kind, func(b *testing.B) {
			var events int
			var secs float64
			for b.Loop() {
				// A fresh database each time (bench.Storage names its tenant);
				// only bench.Storage's own timed part counts.
				db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "pulse.db"), sqlite.Config{EventStore: kind})
				if err != nil {
					b.Fatal(err)
				}
				r, err := bench.Storage(b.Context(), db, "sqlite-"+kind, total, 100, 8)
				db.Close()
				if err != nil || r.Errors > 0 {
					b.Fatalf("bench.Storage: %v (%d failed calls)", err, r.Errors)
				}
				events += r.Events
				secs += r.Seconds
				b.ReportMetric(r.P99Ms, "p99-ms")
			}
			b.ReportMetric(float64(events)/secs, "events/s")
		})
	}
}

// BenchmarkSearchTextParts: q= on a parts database (storetest.BenchSearchText;
// BenchmarkSearchText is the rows database).
func BenchmarkSearchTextParts(b *testing.B) { storetest.BenchSearchText(b, openParts(b)) }

// BenchmarkSearchFilteredParts: BenchmarkSearchFiltered on a parts database.
func BenchmarkSearchFilteredParts(b *testing.B) { benchSearchFiltered(b, openParts(b)) }
