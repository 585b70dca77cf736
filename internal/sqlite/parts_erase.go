package sqlite

import (
	"context"
	"database/sql"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// eraseScanBlocks is how many blocks one erase transaction looks at, at
// most: a tenant with many blocks without the user is walked in short
// transactions too.
const eraseScanBlocks = 64

// eraseBlocks deletes the tenant's events of userID from the parts store
// (EraseUserEvents in a parts database): it walks the tenant's blocks in
// seq order, skips those whose meta rules the user out, and replaces each
// block holding the user by a block without those events, moving their
// keys from event_keys to erased_keys in the same transaction. One
// transaction removes at most chunk events (the rest of a block's events
// of the user stay in its replacement, which has a later seq and so is
// visited again) and looks at most at eraseScanBlocks blocks.
func (db *DB) eraseBlocks(ctx context.Context, tenant int64, userID string, chunk int) (int, error) {
	erased := 0
	var after int64 // the last seq looked at by a committed transaction
	for {
		n, next, more := 0, after, false
		err := db.inTx(ctx, "erase user events", func(tx *sql.Tx) error {
			n, next = 0, after
			blocks, err := txBlockInfos(ctx, tx, `SELECT `+blockInfoColumns+` FROM event_blocks
				WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`, tenant, after, eraseScanBlocks)
			if err != nil {
				return err
			}
			more = len(blocks) > 0
			for _, b := range blocks {
				if n >= chunk {
					break
				}
				next = b.Seq
				if !b.Meta.MayHaveUser(userID) {
					continue
				}
				taken := 0
				k, err := removeFromBlock(ctx, tx, b, func(e *pulse.Event) bool {
					if e.UserID == userID && n+taken < chunk {
						taken++
						return true
					}
					return false
				}, true)
				if err != nil {
					return err
				}
				n += k
			}
			return nil
		})
		if err != nil {
			return erased, err
		}
		erased += n
		after = next
		if !more {
			return erased, nil
		}
	}
}
