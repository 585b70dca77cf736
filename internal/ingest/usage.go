package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// tally collects one request's counters.
type tally struct {
	tenant string
	hour   time.Time
	m      map[string]int64
}

func newTally(tenant string, now time.Time) *tally {
	return &tally{tenant: tenant, hour: now.UTC().Truncate(time.Hour), m: make(map[string]int64, 4)}
}

func (t *tally) add(metric string) { t.m[metric]++ }

func (t *tally) counts() []pulse.UsageCount {
	out := make([]pulse.UsageCount, 0, len(t.m))
	for k, v := range t.m {
		out = append(out, pulse.UsageCount{TenantID: t.tenant, Hour: t.hour, Metric: k, Count: v})
	}
	return out
}

type usageKey struct {
	tenant string
	hour   time.Time
	metric string
}

// Usage aggregates per-tenant hourly counters in memory and writes them to
// the store every interval, so that accounting never costs a write on the
// ingest path. Flush writes what is pending; the app calls it periodically
// from a goroutine it owns.
type Usage struct {
	store pulse.UsageStore

	mu      sync.Mutex
	pending map[usageKey]int64
}

// NewUsage returns an aggregator writing to store.
func NewUsage(store pulse.UsageStore) *Usage {
	return &Usage{store: store, pending: map[usageKey]int64{}}
}

// Add records counts.
func (u *Usage) Add(counts []pulse.UsageCount) {
	u.mu.Lock()
	for _, c := range counts {
		u.pending[usageKey{c.TenantID, c.Hour, c.Metric}] += c.Count
	}
	u.mu.Unlock()
}

// Flush writes the pending counters; on failure they are kept for the next try.
func (u *Usage) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[usageKey]int64{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	counts := make([]pulse.UsageCount, 0, len(batch))
	for k, v := range batch {
		counts = append(counts, pulse.UsageCount{TenantID: k.tenant, Hour: k.hour, Metric: k.metric, Count: v})
	}
	if err := u.store.AddUsage(ctx, counts); err != nil {
		u.mu.Lock()
		for k, v := range batch {
			u.pending[k] += v
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

// Interval is one row of a tenant's usage report.
type Interval struct {
	Start       time.Time        `json:"start"`
	Created     int64            `json:"created"`
	Duplicates  int64            `json:"duplicates"`
	Conflicts   int64            `json:"conflicts"`
	RateLimited int64            `json:"rate_limited"`
	Rejected    int64            `json:"rejected"`
	ByReason    map[string]int64 `json:"rejected_by_reason"`
}

// Summarize folds hourly counters into intervals of step (an hour or a day)
// covering [start, end), oldest first; empty intervals are included.
func Summarize(counts []pulse.UsageCount, start, end time.Time, step time.Duration) []Interval {
	start = start.UTC().Truncate(step)
	var out []Interval
	idx := map[int64]int{}
	for t := start; t.Before(end); t = t.Add(step) {
		idx[t.Unix()] = len(out)
		out = append(out, Interval{Start: t, ByReason: map[string]int64{}})
	}
	for _, c := range counts {
		i, ok := idx[c.Hour.UTC().Truncate(step).Unix()]
		if !ok {
			continue
		}
		iv := &out[i]
		switch {
		case c.Metric == "created":
			iv.Created += c.Count
		case c.Metric == "duplicate":
			iv.Duplicates += c.Count
		case c.Metric == "conflict":
			iv.Conflicts += c.Count
		case c.Metric == "rate_limited":
			iv.RateLimited += c.Count
		case len(c.Metric) > 9 && c.Metric[:9] == "rejected:":
			iv.Rejected += c.Count
			iv.ByReason[c.Metric[9:]] += c.Count
		}
	}
	return out
}

// Quota returns the tenant's current quota without using any of it.
func (s *Service) Quota(ctx context.Context, t *pulse.Tenant) (pulse.Quota, error) {
	return s.cfg.Limiter.Take(ctx, t.ID, t.RateLimitPerMinute, 0)
}
