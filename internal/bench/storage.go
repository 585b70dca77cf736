package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Storage writes total events straight through the store (no HTTP, no JSON
// decoding of requests), batch rows per InsertEvents, from clients
// goroutines: the raw storage path that HTTP ingestion is compared with.
func Storage(ctx context.Context, s pulse.Store, backend string, total, batch, clients int) (Result, error) {
	now := time.Now()
	t, err := pulse.NewTenant(pulse.NewID(), "bench-storage", pulse.MaxRateLimitPerMinute, 30, now)
	if err != nil {
		return Result{}, err
	}
	if err := s.CreateTenant(ctx, t); err != nil {
		return Result{}, fmt.Errorf("create tenant: %w", err)
	}
	// Build the rows the way ingestion would, outside the timed part.
	run := fmt.Sprintf("s%d", now.UnixNano())
	base := now.Add(-time.Minute)
	events := make([]*pulse.Event, total)
	var buf []byte
	var tc timeCache
	for i := range events {
		buf = eventJSON(buf[:0], &tc, run, i, base.Add(time.Duration(i)*time.Microsecond))
		e, err := pulse.ParseEvent(buf, pulse.ParseOptions{Now: now, Retention: t.Retention()})
		if err != nil {
			return Result{}, err
		}
		e.ID, e.TenantID, e.ReceivedAt = pulse.NewID(), t.ID, now.UTC().Truncate(time.Microsecond)
		events[i] = e
	}
	var next, errs atomic.Int64
	lat := make([]latencies, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(int64(batch))) - batch
				if i >= total {
					return
				}
				t0 := time.Now()
				if _, err := s.InsertEvents(ctx, t.ID, events[i:min(i+batch, total)]); err != nil {
					errs.Add(1)
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all latencies
	for _, l := range lat {
		all = append(all, l...)
	}
	return Result{Scenario: "storage", Backend: backend, Events: total, Requests: len(all), Errors: int(errs.Load()), Seconds: secs,
		EventsPerSec: float64(total) / secs, P50Ms: all.pct(0.5), P99Ms: all.pct(0.99)}, ctx.Err()
}
