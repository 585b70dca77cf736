package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A day's partition grows from empty to millions of rows within hours. Until
// its statistics catch up the planner believes it is small and answers
// "newest 100 with a filter" with a bitmap scan plus a sort (measured: 0.7-3.7
// s at 1-2M rows instead of ~2 ms). Autovacuum is tuned per partition (see
// partitions.go) but may be slow or switched off, so the store itself
// analyzes the partitions it has been filling after every analyzeEvery new
// rows (Config.AnalyzeEvery), in a goroutine it owns (one at a time; Close
// waits for it).

// noteInserted counts created rows and starts an ANALYZE of their days'
// partitions when enough have accumulated.
func (db *DB) noteInserted(events []*pulse.Event, results []pulse.InsertResult) {
	created := 0
	days := map[int64]bool{}
	for i, r := range results {
		if r.Status == pulse.Created {
			created++
			days[dayOf(events[i].Timestamp)] = true
		}
	}
	if created == 0 || db.sinceAnalyze.Add(int64(created)) < db.analyzeEvery || !db.analyzing.CompareAndSwap(false, true) {
		return
	}
	db.sinceAnalyze.Store(0)
	// Close cancels bgCtx and then waits for bg under the same lock, so no
	// goroutine can be added once Close has started waiting.
	db.bgMu.Lock()
	defer db.bgMu.Unlock()
	if db.bgCtx.Err() != nil {
		db.analyzing.Store(false)
		return
	}
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		defer db.analyzing.Store(false)
		ctx, cancel := context.WithTimeout(db.bgCtx, 2*time.Minute)
		defer cancel()
		for d := range days {
			if _, err := db.pool.Exec(ctx, "ANALYZE "+pgx.Identifier{partitionName(d)}.Sanitize()); err != nil && ctx.Err() == nil {
				db.log.Warn("analyze events partition failed", "partition", partitionName(d), "err", err)
			}
		}
	}()
}
