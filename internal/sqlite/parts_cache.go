package sqlite

import (
	"bytes"
	"container/list"
	"context"
	"strings"
	"sync"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// blockCacheEvents and blockCacheBytes bound the decoded-block cache:
// about 100,000 events and 256 MiB of payloads, messages and tags
// (rawBytes; events of large compressible payloads are small on disk). A
// block larger than either bound is read but not kept.
const (
	blockCacheEvents = 100_000
	blockCacheBytes  = 256 << 20
)

// blockKey names a block's content. Blocks never change and seq is never
// reused (AUTOINCREMENT); the count and id range are part of the key all
// the same, so that an entry can only ever match the block it was read
// from.
type blockKey struct {
	seq          int64
	count        int
	minID, maxID string
}

// blockCache keeps recently decoded blocks, least recently used dropped
// first; safe for concurrent use. The events it hands out are shared:
// callers never modify them (reads return copies, see copyEvent).
type blockCache struct {
	mu     sync.Mutex
	max    int // events
	size   int
	bytes  int        // rawBytes of the cached events, at most blockCacheBytes
	lru    *list.List // of *cachedBlock, most recent first
	blocks map[blockKey]*list.Element
}

type cachedBlock struct {
	key    blockKey
	events []*pulse.Event
	bytes  int
}

func newBlockCache(maxEvents int) *blockCache {
	return &blockCache{max: maxEvents, lru: list.New(), blocks: map[blockKey]*list.Element{}}
}

func (c *blockCache) get(k blockKey) ([]*pulse.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.blocks[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cachedBlock).events, true
}

func (c *blockCache) put(k blockKey, events []*pulse.Event) {
	bytes := rawBytes(events)
	if len(events) > c.max || bytes > blockCacheBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.blocks[k]; ok {
		return // another reader decoded it meanwhile
	}
	c.blocks[k] = c.lru.PushFront(&cachedBlock{k, events, bytes})
	c.size += len(events)
	c.bytes += bytes
	for c.size > c.max || c.bytes > blockCacheBytes {
		old := c.lru.Remove(c.lru.Back()).(*cachedBlock)
		delete(c.blocks, old.key)
		c.size -= len(old.events)
		c.bytes -= old.bytes
	}
}

// len is the number of cached events (tests).
func (c *blockCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// blockEvents returns the events of block k (of tenantID), sorted by
// (timestamp, id), from the cache or read through q. A block read is
// kept in the cache only when keep: a read that walks many blocks (a
// rare value over a long range, a histogram) keeps its first few only
// (cacheFirst), so that it cannot push out the blocks every other search
// uses.
func (db *DB) blockEvents(ctx context.Context, q queryer, k blockKey, tenantID string, keep bool) ([]*pulse.Event, error) {
	if events, ok := db.blocks.get(k); ok {
		return events, nil
	}
	events, err := readBlock(ctx, q, k.seq, tenantID)
	if err != nil {
		return nil, err
	}
	if keep {
		db.blocks.put(k, events)
	}
	return events, nil
}

// cacheFirst is how many blocks one walk may add to the block cache.
const cacheFirst = 4

// copyEvent is what a read returns for a cached event: a copy the caller
// may change (its Tags map and Payload are still shared and read-only).
func copyEvent(e *pulse.Event) *pulse.Event {
	c := *e
	return &c
}

// cloneEvent is a copy of e that shares no memory with it: a decoded
// block's events share one buffer per column, so a shallow copy of one
// event keeps the whole block's strings alive.
func cloneEvent(e *pulse.Event) *pulse.Event {
	c := *e
	c.ID, c.TenantID, c.ExternalID = strings.Clone(e.ID), strings.Clone(e.TenantID), strings.Clone(e.ExternalID)
	c.EventType, c.Severity = strings.Clone(e.EventType), pulse.Severity(strings.Clone(string(e.Severity)))
	c.Service, c.Endpoint, c.UserID = strings.Clone(e.Service), strings.Clone(e.Endpoint), strings.Clone(e.UserID)
	c.Message, c.ContentHash = strings.Clone(e.Message), strings.Clone(e.ContentHash)
	if e.Tags != nil {
		c.Tags = make(map[string]string, len(e.Tags))
		for k, v := range e.Tags {
			c.Tags[strings.Clone(k)] = strings.Clone(v)
		}
	}
	if e.Payload != nil {
		c.Payload = bytes.Clone(e.Payload)
	}
	return &c
}
