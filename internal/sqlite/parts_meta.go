package sqlite

import (
	"context"
	"fmt"
	"sync"

	"github.com/pulsestream/pulsestream/internal/colblock"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A block's meta holds its bloom filters, tens of KiB for a merged block,
// so walks read the block's head (blockHeadColumns: the Meta fields that
// are columns of the row) and fetch the whole meta only for the blocks
// they reach with a filter the head cannot decide (metaOf), through a
// bounded cache: blocks never change.

// blockHeadColumns are what scanBlockHeads reads.
const blockHeadColumns = `seq, tenant, level, count, min_ts, max_ts, min_id, max_id`

// scanBlockHeads reads rows of blockHeadColumns and closes rows. Their
// Meta prunes by time only until metaOf loads the rest.
func scanBlockHeads(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}) ([]blockInfo, error) {
	defer rows.Close()
	var out []blockInfo
	for rows.Next() {
		var b blockInfo
		var minTS, maxTS int64
		if err := rows.Scan(&b.Seq, &b.Tenant, &b.Level, &b.Count, &minTS, &maxTS, &b.Meta.MinID, &b.Meta.MaxID); err != nil {
			return nil, storeErr("read blocks", err)
		}
		b.Meta.Count, b.Meta.MinTS, b.Meta.MaxTS = b.Count, fromMicros(minTS), fromMicros(maxTS)
		b.headOnly = true
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("read blocks", err)
	}
	return out, nil
}

// needsMeta reports whether a block's whole meta can skip more blocks for
// f than its head (time range) can.
func needsMeta(f *pulse.EventFilter) bool {
	return f.EventType != "" || f.Severities != nil || f.Service != "" || f.Endpoint != "" ||
		f.StatusCode != 0 || f.StatusCodeMin != 0 || f.StatusCodeMax != 0 || f.UserID != "" ||
		f.ExternalID != "" || len(f.Tags) > 0 || len(f.Text) > 0
}

// metaOf returns the meta to decide b for f: the head's when it is all f
// needs, else the whole meta from the cache or read through q.
func (db *DB) metaOf(ctx context.Context, q queryer, b *blockInfo, f *pulse.EventFilter) (*colblock.Meta, error) {
	if !b.headOnly || !needsMeta(f) {
		return &b.Meta, nil
	}
	k := b.key()
	if m, ok := db.metas.get(k); ok {
		return m, nil
	}
	var raw []byte
	if err := q.QueryRowContext(ctx, `SELECT meta FROM event_blocks WHERE seq = ?`, b.Seq).Scan(&raw); err != nil {
		return nil, storeErr("read block meta", err)
	}
	m, err := colblock.UnmarshalMeta(raw)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", b.Seq, err)
	}
	db.metas.put(k, &m, len(raw))
	return &m, nil
}

// metaCacheBytes bounds the meta cache (by the metas' stored size).
const metaCacheBytes = 32 << 20

// metaCache keeps block metas; when full it starts over (blocks are
// immutable, so a dropped entry is only read again).
type metaCache struct {
	mu    sync.Mutex
	size  int
	metas map[blockKey]*colblock.Meta
}

func (c *metaCache) get(k blockKey) (*colblock.Meta, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.metas[k]
	return m, ok
}

func (c *metaCache) put(k blockKey, m *colblock.Meta, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.metas == nil || c.size+size > metaCacheBytes {
		c.metas, c.size = map[blockKey]*colblock.Meta{}, 0
	}
	if _, ok := c.metas[k]; !ok {
		c.metas[k] = m
		c.size += size
	}
}
