package sqlite

import (
	"context"
	"time"
)

// defaultChunk is used when Maintain is given no chunk size.
const defaultChunk = 1000

// Maintain deletes, for every tenant, the events older than now minus the
// tenant's retention, at most chunk rows per statement (each its own short
// write transaction, so ingestion is never blocked for long). It loops
// until no expired event is left and returns how many it removed; on error
// it returns the count so far. Tag rows go with their events (trigger).
// In a parts database it drops and rewrites blocks instead (expireBlocks).
func (db *DB) Maintain(ctx context.Context, now time.Time, chunk int) (int, error) {
	if chunk <= 0 {
		chunk = defaultChunk
	}
	type tenant struct {
		num  int64
		days int
	}
	tenants, err := queryAll(ctx, db, "maintain", func(row scanner) (tenant, error) {
		var t tenant
		return t, row.Scan(&t.num, &t.days)
	}, `SELECT num, retention_days FROM tenants ORDER BY num`)
	if err != nil {
		return 0, err
	}

	removed := 0
	for _, t := range tenants {
		cutoff := micros(now.Add(-time.Duration(t.days) * 24 * time.Hour))
		expire := db.expireRows
		if db.parts {
			expire = db.expireBlocks // parts_maintain.go
		}
		n, err := expire(ctx, t.num, cutoff, chunk)
		removed += n
		if err != nil {
			return removed, err
		}
		// Erased events' keys expire when the events would have.
		if _, err := db.write.ExecContext(ctx, `DELETE FROM erased_keys WHERE tenant = ? AND ts < ?`, t.num, cutoff); err != nil {
			return removed, storeErr("maintain: delete erased keys", err)
		}
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		return removed, storeErr("maintain: optimize", err)
	}
	return removed, nil
}

// expireRows deletes the tenant's events with ts < cutoff (microseconds),
// chunk rows per statement, and returns how many it deleted.
func (db *DB) expireRows(ctx context.Context, tenant, cutoff int64, chunk int) (int, error) {
	removed := 0
	for {
		res, err := db.write.ExecContext(ctx, `DELETE FROM events WHERE seq IN
			(SELECT seq FROM events WHERE tenant = ? AND ts < ? ORDER BY ts LIMIT ?)`, tenant, cutoff, chunk)
		if err != nil {
			return removed, storeErr("maintain: delete expired events", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return removed, storeErr("maintain: delete expired events", err)
		}
		removed += int(n)
		if n < int64(chunk) {
			return removed, nil
		}
	}
}
