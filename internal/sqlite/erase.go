package sqlite

import (
	"context"
	"database/sql"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// EraseUserEvents deletes the tenant's events of userID, chunk at a time,
// each chunk in its own write transaction that first keeps the external
// ids of the chunk's events in erased_keys (so that a replay cannot store
// them again) and then deletes the events (their tag rows go by trigger).
func (db *DB) EraseUserEvents(ctx context.Context, tenantID, userID string, chunk int) (int, error) {
	if userID == "" {
		return 0, pulse.Errorf(pulse.EINVALID, "user_id must not be empty")
	}
	if chunk <= 0 {
		chunk = pulse.DefaultEraseChunk
	}
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil || !ok {
		return 0, err
	}
	// Set before the first erasure commits, so that every insert group
	// from then on checks this tenant's erased keys.
	db.erased.Store(tenant, true)
	if db.parts {
		return db.eraseBlocks(ctx, tenant, userID, chunk) // parts_erase.go
	}
	const doomed = `SELECT seq FROM events WHERE tenant = ? AND user_id = ? ORDER BY ts LIMIT ?`
	erased := 0
	for {
		var n int64
		err := db.inTx(ctx, "erase user events", func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO erased_keys (tenant, external_id, id, content_hash, ts)
				SELECT tenant, external_id, id, content_hash, ts FROM events
				WHERE seq IN (`+doomed+`) AND external_id IS NOT NULL`, tenant, userID, chunk); err != nil {
				return storeErr("erase user events: keep keys", err)
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (`+doomed+`)`, tenant, userID, chunk)
			if err != nil {
				return storeErr("erase user events", err)
			}
			if n, err = res.RowsAffected(); err != nil {
				return storeErr("erase user events", err)
			}
			return nil
		})
		if err != nil {
			return erased, err
		}
		erased += int(n)
		if n < int64(chunk) {
			return erased, nil
		}
	}
}

// loadErased reads which tenants have erased keys (at Open).
func (db *DB) loadErased(ctx context.Context) error {
	nums, err := queryAll(ctx, db, "erased keys", func(row scanner) (int64, error) {
		var n int64
		return n, row.Scan(&n)
	}, `SELECT DISTINCT tenant FROM erased_keys`)
	for _, n := range nums {
		db.erased.Store(n, true)
	}
	return err
}

// hasErased reports whether the tenant may have erased keys; only then do
// inserts and lookups read erased_keys, so ingest pays nothing for
// tenants that never erased.
func (db *DB) hasErased(tenant int64) bool {
	_, ok := db.erased.Load(tenant)
	return ok
}
