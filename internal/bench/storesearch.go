package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// SearchOptions sizes SearchStore.
type SearchOptions struct {
	Events  int           // events filled into the new tenant
	Span    time.Duration // their timestamps spread evenly over the Span before now
	Batch   int           // events per InsertEvents while filling
	Clients int           // concurrent fillers
	Queries int           // queries per kind
	Log     io.Writer     // per-query figures (nil: none)
}

// filteredQueries are the search scenario's filtered newest-100 queries.
func filteredQueries() []url.Values {
	return []url.Values{
		{"service": {"checkout"}, "limit": {"100"}},
		{"min_severity": {"error"}, "limit": {"100"}},
		{"service": {"payments"}, "status_code_min": {"500"}, "limit": {"100"}},
		{"tag": {"region:eu-1"}, "limit": {"100"}},
		{"event_type": {"http.error"}, "severity": {"error"}, "limit": {"100"}},
		{"user_id": {"user-42"}, "limit": {"100"}},
		{"limit": {"100"}},
	}
}

// searchQueries are filteredQueries and full-text ones: a word in every
// message, a phrase, and a word that only one event holds (the trace id of
// event 4242, a rare-word search over the whole span).
func searchQueries() []url.Values {
	return append(filteredQueries(),
		url.Values{"q": {"handled"}, "limit": {"100"}},
		url.Values{"q": {`"dolor sit amet"`}, "service": {"payments"}, "limit": {"100"}},
		url.Values{"q": {string(appendTraceID(nil, 4242))}, "limit": {"100"}},
	)
}

// SearchStore measures search straight on the store (no HTTP) at a size
// the HTTP scenarios do not reach: it fills a new tenant with o.Events
// events spread over o.Span, then runs every query of searchQueries
// o.Queries times. It returns the fill as one result and one result per
// query (a q= query goes through pulse.SearchText with its budget, as the
// API does).
func SearchStore(ctx context.Context, s pulse.Store, backend string, o SearchOptions) ([]Result, error) {
	now := time.Now()
	t, err := pulse.NewTenant(pulse.NewID(), "bench-search", pulse.MaxRateLimitPerMinute, 30, now)
	if err != nil {
		return nil, err
	}
	if err := s.CreateTenant(ctx, t); err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	run := fmt.Sprintf("q%d", now.UnixNano())
	base := now.Add(-o.Span)
	step := o.Span / time.Duration(max(o.Events, 1))
	var next, errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			var tc timeCache
			batch := make([]*pulse.Event, 0, o.Batch)
			for ctx.Err() == nil {
				i := int(next.Add(int64(o.Batch))) - o.Batch
				if i >= o.Events {
					return
				}
				batch = batch[:0]
				for n := i; n < min(i+o.Batch, o.Events); n++ {
					buf = eventJSON(buf[:0], &tc, run, n, base.Add(time.Duration(n)*step))
					e, err := pulse.ParseEvent(buf, pulse.ParseOptions{Now: now, Retention: t.Retention()})
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						errs.Add(1)
						return
					}
					e.ID, e.TenantID, e.ReceivedAt = pulse.NewID(), t.ID, time.Now().UTC().Truncate(time.Microsecond)
					batch = append(batch, e)
				}
				if _, err := s.InsertEvents(ctx, t.ID, batch); err != nil {
					firstErr.CompareAndSwap(nil, err)
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	secs := time.Since(start).Seconds()
	results := []Result{{Scenario: "search-fill", Backend: backend, Events: o.Events, Seconds: secs,
		EventsPerSec: float64(o.Events) / secs, Note: "filling (events parsed inside the timed part)"}}
	for _, q := range searchQueries() {
		f, err := pulse.ParseEventFilter(q)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.Encode(), err)
		}
		var lat latencies
		found, qerrs := 0, 0
		qstart := time.Now()
		for range o.Queries {
			t0 := time.Now()
			var got []*pulse.Event
			if len(f.Text) > 0 {
				got, _, err = pulse.SearchText(ctx, s, t.ID, f, pulse.MaxTextScan)
			} else {
				got, err = s.SearchEvents(ctx, t.ID, f)
			}
			lat = append(lat, time.Since(t0))
			if err != nil {
				qerrs++
			}
			found = len(got)
		}
		qsecs := time.Since(qstart).Seconds()
		if o.Log != nil {
			fmt.Fprintf(o.Log, "search-store %-58s p50 %7.2f ms  p99 %7.2f ms  (%d found)\n", q.Encode(), lat.pct(0.5), lat.pct(0.99), found)
		}
		results = append(results, Result{Scenario: "search-store " + q.Encode(), Backend: backend, Requests: o.Queries, Errors: qerrs,
			Seconds: qsecs, EventsPerSec: float64(o.Queries) / qsecs, P50Ms: lat.pct(0.5), P99Ms: lat.pct(0.99),
			Note: fmt.Sprintf("events_per_sec = queries/s; %d events found", found)})
	}
	return results, ctx.Err()
}
