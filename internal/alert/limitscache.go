package alert

import (
	"context"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// LimitsCache holds every tenant's alert limits (the defaults with the
// tenant's overrides) for callers that ask per job, such as the webhook
// deliverer's TenantConcurrency: one ListTenants per TTL per node, never a
// query per call. The caller that finds the cache stale reloads it; the
// others meanwhile keep the previous values and never wait for the query.
type LimitsCache struct {
	store    TenantLister
	clock    pulse.Clock
	ttl      time.Duration
	defaults pulse.AlertLimits

	reload sync.Mutex // held by the one caller reloading
	mu     sync.Mutex
	limits map[string]pulse.AlertLimits
	loaded time.Time
}

// NewLimitsCache returns a cache over store; ttl is how long a change of
// a tenant's overrides may take to be seen (default 5s).
func NewLimitsCache(store TenantLister, clock pulse.Clock, ttl time.Duration, defaults pulse.AlertLimits) *LimitsCache {
	if clock == nil {
		clock = pulse.SystemClock{}
	}
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	return &LimitsCache{store: store, clock: clock, ttl: ttl, defaults: defaults}
}

// For returns the limits in force for tenant. Until the first load has
// ended every caller waits for it (a tenant's lowered override must hold
// from the first job on); after that only the caller that reloads waits.
func (c *LimitsCache) For(tenant string) pulse.AlertLimits {
	c.mu.Lock()
	never := c.limits == nil
	stale := never || c.clock.Now().Sub(c.loaded) >= c.ttl
	c.mu.Unlock()
	switch {
	case never:
		c.reload.Lock()
		c.mu.Lock()
		never = c.limits == nil // another caller may have loaded it meanwhile
		c.mu.Unlock()
		if never {
			c.load()
		}
		c.reload.Unlock()
	case stale && c.reload.TryLock():
		c.load()
		c.reload.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.limits[tenant]; ok {
		return l
	}
	return c.defaults
}

// load reads the tenants; on failure the previous values stay for another
// TTL (the store being down must not turn into a query per job).
func (c *LimitsCache) load() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tenants, err := c.store.ListTenants(ctx)
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded = now
	if err != nil {
		if c.limits == nil {
			c.limits = map[string]pulse.AlertLimits{}
		}
		return
	}
	m := make(map[string]pulse.AlertLimits, len(tenants))
	for _, t := range tenants {
		m[t.ID] = c.defaults.With(t.AlertLimits)
	}
	c.limits = m
}
