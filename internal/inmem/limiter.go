package inmem

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// LimiterConfig configures a Limiter. The zero value is usable.
type LimiterConfig struct {
	// Clock tells the time; tests inject a fake one. Default pulse.SystemClock.
	Clock pulse.Clock
	// SweepInterval is how often Run evicts tenants whose bucket is full
	// again. Default one minute, the refill period.
	SweepInterval time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c LimiterConfig) WithDefaults() LimiterConfig {
	if c.Clock == nil {
		c.Clock = pulse.SystemClock{}
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Minute
	}
	return c
}

// shardCount spreads tenants over independently locked maps so that
// requests for different tenants rarely wait for each other.
const shardCount = 256

type shard struct {
	mu      sync.Mutex
	buckets map[string]bucket
	_       [48]byte // keep neighbouring shards' mutexes on separate cache lines
}

// Limiter is a pulse.Limiter whose buckets live in this process: exact for
// one node, and per node when several run (each enforces the full limit).
// A tenant without a bucket has a full one, so only tenants that used part
// of their quota in the last minute take memory; Sweep (run by Run) drops
// the others, keeping memory bounded by recent activity, not tenant count.
type Limiter struct {
	clock  pulse.Clock
	sweep  time.Duration
	seed   maphash.Seed
	shards [shardCount]shard
}

var _ pulse.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter. Start Run in a goroutine you own to evict
// idle tenants, or call Sweep yourself.
func NewLimiter(cfg LimiterConfig) *Limiter {
	cfg = cfg.WithDefaults()
	l := &Limiter{clock: cfg.Clock, sweep: cfg.SweepInterval, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]bucket)
	}
	return l
}

func (l *Limiter) shard(tenantID string) *shard {
	return &l.shards[maphash.String(l.seed, tenantID)%shardCount]
}

// Take grants min(n, available) of the tenant's events in one locked step
// and never fails for a valid limit. A limit outside [1,
// pulse.MaxRateLimitPerMinute] is a caller bug and returns a plain error.
func (l *Limiter) Take(_ context.Context, tenantID string, limit, n int) (pulse.Quota, error) {
	if err := checkLimit(limit); err != nil {
		return pulse.Quota{}, err
	}
	now := l.clock.Now().UnixMicro()
	s := l.shard(tenantID)
	s.mu.Lock()
	b, q := s.buckets[tenantID].take(now, int64(limit), int64(n))
	s.store(tenantID, b)
	s.mu.Unlock()
	return q, nil
}

// Return refunds n of the tenant's events, never above the burst.
func (l *Limiter) Return(_ context.Context, tenantID string, limit, n int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	now := l.clock.Now().UnixMicro()
	s := l.shard(tenantID)
	s.mu.Lock()
	if b, ok := s.buckets[tenantID]; ok {
		s.store(tenantID, b.refund(now, int64(limit), int64(n)))
	}
	s.mu.Unlock()
	return nil
}

// store keeps b, or forgets the tenant when its bucket is full, which is
// the same state. The caller holds s.mu.
func (s *shard) store(tenantID string, b bucket) {
	if b.used == 0 {
		delete(s.buckets, tenantID)
		return
	}
	s.buckets[tenantID] = b
}

// Sweep evicts every tenant whose bucket is full again at now. It locks one
// shard at a time, so Take and Return on other shards proceed meanwhile.
func (l *Limiter) Sweep(now time.Time) {
	us := now.UnixMicro()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		evicted := 0
		for id, b := range s.buckets {
			if us >= b.full {
				delete(s.buckets, id)
				evicted++
			}
		}
		// Go maps never shrink (maps.Clone keeps the size too); after a
		// burst of tenants has gone idle, copy the survivors into a new map
		// so the memory is released.
		if evicted > len(s.buckets) {
			live := make(map[string]bucket, len(s.buckets))
			for id, b := range s.buckets {
				live[id] = b
			}
			s.buckets = live
		}
		s.mu.Unlock()
	}
}

// Run sweeps every SweepInterval until ctx is done. Start it in a goroutine
// you own; it returns once ctx is done.
func (l *Limiter) Run(ctx context.Context) {
	runEvery(ctx, l.sweep, func() { l.Sweep(l.clock.Now()) })
}

// len returns the number of tenants holding state, for tests.
func (l *Limiter) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
