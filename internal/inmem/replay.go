package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// DefaultReplayEntriesPerTenant bounds what one tenant can make a node
// remember: 100,000 signed requests within the window (about 330 a second
// for 5 minutes; batches carry up to 1,000 events each), ~10 MB.
const DefaultReplayEntriesPerTenant = 100_000

// ReplayGuard is a pulse.ReplayGuard whose memory is this process: exact
// for one node (each node of a cluster remembers only what it accepted;
// use the Redis guard there). Entries expire with their TTL by the injected
// clock; a tenant at its cap gets EUNAVAILABLE until entries expire,
// failing closed, since a request that cannot be remembered cannot be
// told from a replay later.
type ReplayGuard struct {
	clock pulse.Clock
	max   int

	mu      sync.Mutex
	tenants map[string]*replayTenant
}

type replayTenant struct {
	seen      map[string]time.Time // key → expiry
	nextSweep int                  // sweep expired entries when seen reaches this size
}

var _ pulse.ReplayGuard = (*ReplayGuard)(nil)

// NewReplayGuard returns a guard keeping at most maxPerTenant entries per
// tenant (DefaultReplayEntriesPerTenant when <= 0). Run Sweep, or Run in a
// goroutine you own, to free the memory of tenants that went quiet.
func NewReplayGuard(clock pulse.Clock, maxPerTenant int) *ReplayGuard {
	if clock == nil {
		clock = pulse.SystemClock{}
	}
	if maxPerTenant <= 0 {
		maxPerTenant = DefaultReplayEntriesPerTenant
	}
	return &ReplayGuard{clock: clock, max: maxPerTenant, tenants: map[string]*replayTenant{}}
}

// FirstSeen implements pulse.ReplayGuard. Expired entries of the tenant
// are swept whenever its map has doubled since the last sweep, so the work
// is amortised O(1) per call.
func (g *ReplayGuard) FirstSeen(_ context.Context, tenantID, key string, ttl time.Duration) (bool, error) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.tenants[tenantID]
	if t == nil {
		t = &replayTenant{seen: map[string]time.Time{}, nextSweep: 64}
		g.tenants[tenantID] = t
	}
	if exp, ok := t.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(t.seen) >= t.nextSweep || len(t.seen) >= g.max {
		t.sweep(now)
		t.nextSweep = max(64, 2*len(t.seen))
	}
	if len(t.seen) >= g.max {
		retry := time.Duration(0)
		for _, exp := range t.seen {
			if d := exp.Sub(now); retry == 0 || d < retry {
				retry = d
			}
		}
		return false, &pulse.Error{Code: pulse.EUNAVAILABLE, RetryAfter: retry,
			Message: "too many signed requests to remember within the signature window; retry later or send larger batches"}
	}
	t.seen[key] = now.Add(ttl)
	return true, nil
}

// Forget implements pulse.ReplayGuard.
func (g *ReplayGuard) Forget(_ context.Context, tenantID, key string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.tenants[tenantID]; t != nil {
		delete(t.seen, key)
	}
	return nil
}

func (t *replayTenant) sweep(now time.Time) {
	for k, exp := range t.seen {
		if !now.Before(exp) {
			delete(t.seen, k)
		}
	}
}

// Sweep drops every expired entry and the tenants left with none.
func (g *ReplayGuard) Sweep() {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, t := range g.tenants {
		t.sweep(now)
		if len(t.seen) == 0 {
			delete(g.tenants, id)
		}
	}
}

// Run sweeps every minute until ctx is done.
func (g *ReplayGuard) Run(ctx context.Context) { runEvery(ctx, time.Minute, g.Sweep) }

// runEvery calls fn every d until ctx is done.
func runEvery(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
