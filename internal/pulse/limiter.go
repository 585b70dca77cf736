package pulse

import (
	"context"
	"time"
)

// Quota is a limiter's answer: how many of the asked events were granted
// and the state of the tenant's bucket afterwards.
type Quota struct {
	Granted    int
	Limit      int
	Remaining  int
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until the next event would be allowed; 0 when Remaining > 0
}

// Limiter enforces events-per-minute quotas with burst = limit and refill
// of limit per minute. Take reserves before anything is written; Return
// gives back what was reserved but not created. Implementations: inmem
// (one node) and redis (shared by all nodes).
type Limiter interface {
	// Take grants k of n events (0 <= k <= n), as many as fit, atomically.
	Take(ctx context.Context, tenantID string, limit, n int) (Quota, error)
	// Return refunds n previously granted events.
	Return(ctx context.Context, tenantID string, limit, n int) error
}
