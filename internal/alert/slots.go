package alert

import (
	"errors"
	"sync"
)

// DefaultTenantConcurrency is how many deliveries of one tenant a node runs
// at once when nothing else is configured.
const DefaultTenantConcurrency = 4

// TenantConcurrency says how many deliveries of a tenant may be in flight
// at once on one node. It is called for every job, so it must be cheap
// (a map or cache look-up, never a query per call). A result below 1
// counts as 1.
type TenantConcurrency func(tenantID string) int

// ErrDeferred is what Deliver returns when the tenant already has its share
// of deliveries in flight on this node: nothing was attempted, and the
// queue should try the job again later without counting an attempt (and
// without holding a worker while it waits).
var ErrDeferred = errors.New("the tenant's deliveries in flight are at its limit")

// IsDeferred reports whether a Deliver error means "later, nothing was tried".
func IsDeferred(err error) bool { return errors.Is(err, ErrDeferred) }

// tenantSlots counts each tenant's deliveries in flight on this node. A slot
// is taken without waiting or refused, so a tenant at its limit never makes
// a queue worker wait for it: a stalled receiver delays its own tenant only.
type tenantSlots struct {
	limit TenantConcurrency
	mu    sync.Mutex
	held  map[string]*tenantUse // busy tenants only
}

type tenantUse struct {
	held    int
	refused bool // since the tenant last had no slot held
}

func newTenantSlots(limit TenantConcurrency) *tenantSlots {
	return &tenantSlots{limit: limit, held: map[string]*tenantUse{}}
}

// tryAcquire takes a slot of tenant and returns its release, or ok false
// when the tenant is at its limit; first is then true for the first refusal
// since the tenant was last idle (worth one log line, not one per job).
func (s *tenantSlots) tryAcquire(tenant string) (release func(), ok, first bool) {
	limit := max(s.limit(tenant), 1) // outside the lock: it may read a cache
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.held[tenant]
	if u == nil {
		u = &tenantUse{}
		s.held[tenant] = u
	}
	if u.held >= limit {
		first, u.refused = !u.refused, true
		return nil, false, first
	}
	u.held++
	var once sync.Once
	return func() { once.Do(func() { s.release(tenant) }) }, true, false
}

func (s *tenantSlots) release(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.held[tenant]; u.held > 1 {
		u.held--
	} else {
		delete(s.held, tenant)
	}
}
