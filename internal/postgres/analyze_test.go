package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// After AnalyzeEvery new rows the store analyzes the partition it filled,
// so searches keep their ordered index plans even with autovacuum off.
func TestAnalyzesFillingPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := newTestSchema(t)
	db, err := Open(ctx, testDSN(t), Config{Schema: schema, MaxConns: 4, AnalyzeEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn := createTenant(t, db, 30)
	ts := time.Now().UTC().Truncate(time.Microsecond)
	events := make([]*pulse.Event, 12)
	for i := range events {
		events[i] = &pulse.Event{ID: pulse.NewID(), TenantID: tn.ID, EventType: "x", Severity: pulse.SeverityInfo,
			Service: "s", Timestamp: ts, ReceivedAt: ts, ContentHash: "h"}
	}
	if _, err := db.InsertEvents(ctx, tn.ID, events); err != nil {
		t.Fatal(err)
	}
	db.bg.Wait() // the analyze runs in the store's own goroutine
	var analyzed bool
	if err := db.pool.QueryRow(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`,
		schema, partitionName(dayOf(ts))).Scan(&analyzed); err != nil {
		t.Fatal(err)
	}
	if !analyzed {
		t.Fatal("the filled partition was not analyzed after AnalyzeEvery rows")
	}
}
