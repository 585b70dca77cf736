package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pulsestream/pulsestream/internal/colblock"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The merger (docs/STORAGE.md, "Parts store: write path and reads"): every
// group commit writes a small level-0 block per tenant; one goroutine,
// owned by the DB (started in Open for a parts database, stopped by
// Close), merges a tenant's small blocks of one level into one block of
// the next level. The sources are read and the merged block encoded on the
// read pool, outside the writer; then ONE write transaction stores the
// merged block and deletes the sources (deleteBlocks fails unless every
// source is still there, so a merge that raced with a retention pass or an
// erasure rolls back and is planned again). A crash or a failure at any
// point leaves either the sources or the merged block, never both.
//
// The bounds keep each merge transaction short, so that the committer,
// which waits for the writer meanwhile, is never stalled long: a merge
// reads at most mergeMaxBlocks blocks, mergeMaxEvents events and
// mergeMaxBytes encoded bytes. Only small blocks (below half of both
// bounds) are merged, so that any two of them fit in one merge.
const (
	mergeFanIn     = 8        // small blocks of one tenant and level that start a merge
	mergeMaxBlocks = 64       // most blocks one merge reads
	mergeMaxEvents = 16 << 10 // most events of a merged block
	mergeMaxBytes  = 8 << 20  // most encoded bytes of the blocks one merge reads
	// mergeMaxRawBytes: most decoded bytes (rawBytes) of the blocks one merge
	// reads. Compressible payloads make blocks far larger decoded than
	// stored; without it a merge could decode hundreds of MiB and make a
	// column colblock.Encode refuses, failing the same plan at every wake.
	mergeMaxRawBytes = 64 << 20
	mergeEvery       = 10 * time.Second
	mergeRetries     = 8 // lost races in a row before mergeAll gives up for now
)

// noteBlocksWritten is called by the committer after each commit; it wakes
// the merger (without waiting) once mergeFanIn level-0 blocks were written.
func (db *DB) noteBlocksWritten() {
	if db.sinceMerge < mergeFanIn {
		return
	}
	select {
	case db.mergeWake <- struct{}{}:
		db.sinceMerge = 0
	default: // a merge is running; wake it again after the next commit
	}
}

// mergeLoop is the merger goroutine: it merges after mergeFanIn blocks
// were written, and every mergeEvery (blocks written by other paths).
func (db *DB) mergeLoop() {
	defer close(db.mergeDone)
	tick := time.NewTicker(mergeEvery)
	defer tick.Stop()
	for {
		select {
		case <-db.closing:
			return
		case <-db.mergeWake:
		case <-tick.C:
		}
		// A failure is no request's error: the blocks stay as they were and
		// the next wake tries again.
		if _, err := db.mergeAll(context.Background(), db.closing); err != nil {
			db.cfg.Logger.Warn("merging event blocks failed; retrying later", "error", err)
		}
	}
}

// MergeNow merges blocks until none is left to merge (what the merger
// goroutine does when it wakes) and returns how many source blocks were
// merged away. It is safe beside the merger: a race is retried.
func (db *DB) MergeNow(ctx context.Context) (int, error) { return db.mergeAll(ctx, nil) }

// mergeAll runs merges until none is left, stop is closed or ctx ends.
func (db *DB) mergeAll(ctx context.Context, stop <-chan struct{}) (int, error) {
	if !db.parts {
		return 0, nil
	}
	total, lost := 0, 0
	for {
		select {
		case <-stop:
			return total, nil
		default:
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := db.mergeOnce(ctx)
		switch {
		case errors.Is(err, errBlockGone) && lost < mergeRetries:
			lost++ // another writer replaced a source first: plan again
			continue
		case err != nil || n == 0:
			return total, err
		}
		total, lost = total+n, 0
	}
}

// mergePlan is one merge: sources of one tenant and level, and their events.
type mergePlan struct {
	tenant int64
	level  int
	seqs   []blockKey
	events []*pulse.Event
}

// rawBytes is about what events take decoded: their payloads, messages
// and tags (the fields that can be large).
func rawBytes(events []*pulse.Event) int {
	n := 0
	for _, e := range events {
		n += len(e.Payload) + len(e.Message)
		for k, v := range e.Tags {
			n += len(k) + len(v)
		}
	}
	return n
}

// mergeOnce does at most one merge and returns how many blocks it merged
// away (0: nothing to merge).
func (db *DB) mergeOnce(ctx context.Context) (int, error) {
	var plan mergePlan
	if err := db.readTx(ctx, "merge blocks", func(tx *sql.Tx) error {
		var err error
		plan, err = db.planMerge(ctx, tx)
		return err
	}); err != nil || len(plan.seqs) == 0 {
		return 0, err
	}
	meta, data, err := colblock.Encode(plan.events)
	if err != nil {
		return 0, err
	}
	if db.cfg.mergePlanned != nil {
		db.cfg.mergePlanned()
	}
	wctx, cancel := context.WithTimeout(ctx, db.cfg.GroupTimeout)
	defer cancel()
	err = db.inTx(wctx, "merge blocks", func(tx *sql.Tx) error {
		if _, err := writeEncoded(wctx, tx, plan.tenant, plan.level+1, meta, data); err != nil {
			return err
		}
		if db.cfg.mergeFault != nil {
			if err := db.cfg.mergeFault(); err != nil {
				return err
			}
		}
		return deleteBlocks(wctx, tx, plan.seqs)
	})
	if err != nil {
		return 0, err
	}
	return len(plan.seqs), nil
}

// planMerge picks the oldest small blocks of the first tenant and level
// that has mergeFanIn of them, within the bounds of one merge, and reads
// their events.
func (db *DB) planMerge(ctx context.Context, tx *sql.Tx) (mergePlan, error) {
	type group struct {
		tenant int64
		level  int
	}
	groups, err := queryRows(ctx, tx, "merge blocks", func(row scanner) (group, error) {
		var g group
		return g, row.Scan(&g.tenant, &g.level)
	}, `SELECT tenant, level FROM event_blocks WHERE count < ? AND bytes < ? GROUP BY tenant, level HAVING count(*) >= ?`,
		mergeMaxEvents/2, mergeMaxBytes/2, mergeFanIn)
	if err != nil {
		return mergePlan{}, err
	}
	for _, g := range groups {
		type source struct {
			key      blockKey
			bytes    int
			tenantID string
		}
		blocks, err := queryRows(ctx, tx, "merge blocks", func(row scanner) (source, error) {
			var s source
			return s, row.Scan(&s.key.seq, &s.key.count, &s.key.minID, &s.key.maxID, &s.bytes, &s.tenantID)
		}, `SELECT b.seq, b.count, b.min_id, b.max_id, b.bytes, t.id FROM event_blocks AS b JOIN tenants AS t ON t.num = b.tenant
			WHERE b.tenant = ? AND b.level = ? AND b.count < ? AND b.bytes < ? ORDER BY b.seq LIMIT ?`,
			g.tenant, g.level, mergeMaxEvents/2, mergeMaxBytes/2, mergeMaxBlocks)
		if err != nil {
			return mergePlan{}, err
		}
		plan := mergePlan{tenant: g.tenant, level: g.level}
		events, bytes, raw := 0, 0, 0
		for _, b := range blocks {
			if events+b.key.count > mergeMaxEvents || bytes+b.bytes > mergeMaxBytes {
				break
			}
			evs, ok := db.blocks.get(b.key) // not put: a merge's sources are going away
			if !ok {
				if evs, err = readBlock(ctx, tx, b.key.seq, b.tenantID); err != nil {
					return mergePlan{}, err
				}
			}
			r := rawBytes(evs)
			if r >= mergeMaxRawBytes/2 {
				continue // large decoded: not a small block
			}
			if raw+r > mergeMaxRawBytes {
				break
			}
			events, bytes, raw = events+b.key.count, bytes+b.bytes, raw+r
			plan.seqs = append(plan.seqs, b.key)
			plan.events = append(plan.events, evs...)
		}
		if len(plan.seqs) < 2 {
			continue
		}
		return plan, nil
	}
	return mergePlan{}, nil
}
