package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pulsestream/pulsestream/internal/colblock"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The parts event store (docs/STORAGE.md): the primitives every parts path
// shares — writing a block, deleting blocks, reading one back. Inserts,
// reads and merges (parts_*.go) are built from these.

// blockInfo is a block's row without its data.
type blockInfo struct {
	Seq, Tenant  int64
	Level, Count int
	Meta         colblock.Meta
	headOnly     bool // Meta holds the row's columns only (scanBlockHeads)
}

// blockInfoColumns are what scanBlockInfo reads.
const blockInfoColumns = `seq, tenant, level, count, meta`

func scanBlockInfo(row scanner) (blockInfo, error) {
	var b blockInfo
	var meta []byte
	if err := row.Scan(&b.Seq, &b.Tenant, &b.Level, &b.Count, &meta); err != nil {
		return b, err
	}
	m, err := colblock.UnmarshalMeta(meta)
	if err != nil {
		return b, fmt.Errorf("block %d: %w", b.Seq, err)
	}
	b.Meta = m
	return b, nil
}

// writeBlock stores events (of tenant; at least one) as one block of level
// inside tx and returns its seq.
func writeBlock(ctx context.Context, tx *sql.Tx, tenant int64, level int, events []*pulse.Event) (int64, error) {
	meta, data, err := colblock.Encode(events)
	if err != nil {
		return 0, err
	}
	return writeEncoded(ctx, tx, tenant, level, meta, data)
}

// writeBlocks stores events (of tenant; at least one) as blocks of level
// of at most mergeMaxRawBytes decoded each (rawBytes; an event larger
// alone is a block of its own) inside tx, so that large payloads never
// make a column colblock.Encode refuses, and returns how many it wrote.
func writeBlocks(ctx context.Context, tx *sql.Tx, tenant int64, level int, events []*pulse.Event) (int, error) {
	blocks := 0
	for len(events) > 0 {
		n, raw := 0, 0
		for ; n < len(events); n++ {
			if raw += rawBytes(events[n : n+1]); n > 0 && raw > mergeMaxRawBytes {
				break
			}
		}
		if _, err := writeBlock(ctx, tx, tenant, level, events[:n]); err != nil {
			return blocks, err
		}
		events = events[n:]
		blocks++
	}
	return blocks, nil
}

// writeEncoded stores a block colblock.Encode made, so that a caller can
// encode before its transaction (the merger: the writer never waits for
// the encoding of a large block).
func writeEncoded(ctx context.Context, tx *sql.Tx, tenant int64, level int, meta colblock.Meta, data []byte) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO event_blocks (tenant, level, count, min_ts, max_ts, min_id, max_id, bytes, meta, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		tenant, level, meta.Count, micros(meta.MinTS), micros(meta.MaxTS), meta.MinID, meta.MaxID, len(data),
		colblock.MarshalMeta(meta), data).Scan(&seq)
	if err != nil {
		return 0, storeErr("write block", err)
	}
	return seq, nil
}

// deleteBlocks removes the blocks keys inside tx. It fails (and the caller
// rolls back) unless every one was still there: a merge, a retention pass
// and an erasure that raced for the same block cannot both apply. A block
// is matched by its whole key, not its seq alone, although seq is never
// reused (AUTOINCREMENT, migration 00100): a merge planned before must
// never take another block for its source.
func deleteBlocks(ctx context.Context, tx *sql.Tx, keys []blockKey) error {
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, `DELETE FROM event_blocks WHERE seq = ? AND count = ? AND min_id = ? AND max_id = ?`,
			k.seq, k.count, k.minID, k.maxID)
		if err != nil {
			return storeErr("delete block", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return storeErr("delete block", err)
		} else if n != 1 {
			return fmt.Errorf("delete block %d: %w", k.seq, errBlockGone)
		}
	}
	return nil
}

// errBlockGone: a block another writer replaced or removed first.
var errBlockGone = pulse.Errorf(pulse.ECONFLICT, "the block changed meanwhile; retry")

// queryer is a *sql.DB, *sql.Conn or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readBlock returns the events of block seq (tenantID is set on each).
func readBlock(ctx context.Context, q queryer, seq int64, tenantID string) ([]*pulse.Event, error) {
	var data []byte
	if err := q.QueryRowContext(ctx, `SELECT data FROM event_blocks WHERE seq = ?`, seq).Scan(&data); err != nil {
		return nil, storeErr("read block", err)
	}
	events, err := colblock.Decode(data, tenantID)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", seq, err)
	}
	return events, nil
}
