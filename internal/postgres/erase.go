package postgres

import (
	"context"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// EraseUserEvents deletes the tenant's events of userID, at most chunk
// per statement (each its own transaction), through the partial index on
// (tenant_id, user_id, ts). The idempotency keys in event_keys are kept:
// they make a replay of an erased event a duplicate, not a new event, and
// expire with the tenant's retention (Maintain).
func (db *DB) EraseUserEvents(ctx context.Context, tenantID, userID string, chunk int) (int, error) {
	if userID == "" {
		return 0, pulse.Errorf(pulse.EINVALID, "user_id must not be empty")
	}
	if chunk <= 0 {
		chunk = pulse.DefaultEraseChunk
	}
	erased := 0
	for {
		tag, err := db.pool.Exec(ctx, `
			DELETE FROM events e USING (
				SELECT ts, id FROM events WHERE tenant_id = $1 AND user_id = $2 ORDER BY ts LIMIT $3
			) d
			WHERE e.tenant_id = $1 AND e.ts = d.ts AND e.id = d.id`, tenantID, userID, chunk)
		if err != nil {
			return erased, dbError("erase user events", err)
		}
		erased += int(tag.RowsAffected())
		if tag.RowsAffected() < int64(chunk) {
			return erased, nil
		}
	}
}
