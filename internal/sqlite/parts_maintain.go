package sqlite

import (
	"context"
	"database/sql"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Retention in the parts event store (docs/STORAGE.md, "Parts store:
// retention, erasure, migrate-store"). Blocks never change: a block whose
// newest event has expired is dropped, a block that straddles the cutoff is
// replaced by a block of its kept events, and the removed events' keys
// leave event_keys in the same transaction.

// expireBlocks removes the tenant's events with ts < cutoff (microseconds)
// and returns how many it removed. Each transaction takes blocks, oldest
// first, until it has removed chunk events: a block is never split across
// transactions (dropping one is one row, rewriting one is one block), so a
// transaction removes at most chunk events plus the rest of its last block.
func (db *DB) expireBlocks(ctx context.Context, tenant, cutoff int64, chunk int) (int, error) {
	removed := 0
	for {
		n, more := 0, false
		err := db.inTx(ctx, "maintain: expire blocks", func(tx *sql.Tx) error {
			n = 0
			blocks, err := txBlockInfos(ctx, tx, `SELECT `+blockInfoColumns+` FROM event_blocks
				WHERE tenant = ? AND min_ts < ? ORDER BY min_ts, seq LIMIT ?`, tenant, cutoff, chunk)
			if err != nil {
				return err
			}
			more = len(blocks) > 0
			for _, b := range blocks {
				if n >= chunk {
					break
				}
				k, err := removeFromBlock(ctx, tx, b, func(e *pulse.Event) bool { return micros(e.Timestamp) < cutoff }, false)
				if err != nil {
					return err
				}
				n += k
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		removed += n
		if !more {
			return removed, nil
		}
	}
}

// txBlockInfos reads block rows (blockInfoColumns) inside tx.
func txBlockInfos(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]blockInfo, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeErr("list blocks", err)
	}
	defer rows.Close()
	var out []blockInfo
	for rows.Next() {
		b, err := scanBlockInfo(rows)
		if err != nil {
			return nil, storeErr("list blocks", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list blocks", err)
	}
	return out, nil
}

// removeFromBlock rewrites block b without the events gone picks (deleting
// it when none is left) and deletes their keys — with erase, keeping them
// in erased_keys — inside tx. It returns how many events it removed; 0
// leaves the block as it was.
func removeFromBlock(ctx context.Context, tx *sql.Tx, b blockInfo, gone func(*pulse.Event) bool, erase bool) (int, error) {
	events, err := readBlock(ctx, tx, b.Seq, "")
	if err != nil {
		return 0, err
	}
	var kept, removed []*pulse.Event
	for _, e := range events {
		if gone(e) {
			removed = append(removed, e)
		} else {
			kept = append(kept, e)
		}
	}
	if len(removed) == 0 {
		return 0, nil
	}
	if err := replaceBlock(ctx, tx, b, kept); err != nil {
		return 0, err
	}
	if err := dropKeys(ctx, tx, b.Tenant, removed, erase); err != nil {
		return 0, err
	}
	return len(removed), nil
}

// replaceBlock replaces block b by a block of the same level holding kept
// (none: b is dropped), inside tx. Both steps commit together or not at
// all: a failure between them (rewriteHook in tests) rolls back to b.
func replaceBlock(ctx context.Context, tx *sql.Tx, b blockInfo, kept []*pulse.Event) error {
	if len(kept) > 0 {
		if _, err := writeBlock(ctx, tx, b.Tenant, b.Level, kept); err != nil {
			return err
		}
	}
	if hook, ok := ctx.Value(rewriteHookKey{}).(func() error); ok {
		if err := hook(); err != nil {
			return err
		}
	}
	return deleteBlocks(ctx, tx, []blockKey{b.key()})
}

// rewriteHookKey carries, in tests only, a func() error that replaceBlock
// calls between writing the new block and deleting the old one: a failure
// there must leave the old state.
type rewriteHookKey struct{}

// dropKeys deletes the event_keys rows of events (those with an external
// id) inside tx; with erase it first keeps each in erased_keys, so that a
// replay of an erased event is still answered with its id.
func dropKeys(ctx context.Context, tx *sql.Tx, tenant int64, events []*pulse.Event, erase bool) error {
	var del, keep *sql.Stmt
	defer func() {
		for _, s := range []*sql.Stmt{del, keep} {
			if s != nil {
				s.Close()
			}
		}
	}()
	for _, e := range events {
		if e.ExternalID == "" {
			continue
		}
		var err error
		if del == nil {
			if del, err = tx.PrepareContext(ctx, `DELETE FROM event_keys WHERE tenant = ? AND external_id = ? AND id = ?`); err != nil {
				return storeErr("delete event keys", err)
			}
			if erase {
				if keep, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO erased_keys (tenant, external_id, id, content_hash, ts)
					VALUES (?, ?, ?, ?, ?)`); err != nil {
					return storeErr("keep erased keys", err)
				}
			}
		}
		if keep != nil {
			if _, err := keep.ExecContext(ctx, tenant, e.ExternalID, e.ID, e.ContentHash, micros(e.Timestamp)); err != nil {
				return storeErr("keep erased keys", err)
			}
		}
		if _, err := del.ExecContext(ctx, tenant, e.ExternalID, e.ID); err != nil {
			return storeErr("delete event keys", err)
		}
	}
	return nil
}
