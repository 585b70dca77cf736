package alert

import (
	"context"
	"sync"
	"time"

	"pulsestream/internal/pulse"
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

// For returns the limits in force for tenant.
func (c *LimitsCache) For(tenant string) pulse.AlertLimits {
	c.mu.Lock()
	stale := c.limits == nil || c.clock.Now().Sub(c.loaded) >= c.ttl
	c.mu.Unlock()
	if stale && c.reload.TryLock() {
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
