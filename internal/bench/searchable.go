package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// searchable measures "publish → searchable": probes send one event each
// (with a unique external id) and poll the search by that id every 2 ms
// until it appears; the latency runs from the send to the first search
// that finds it. Meanwhile, with rate > 0, background clients send
// batches paced at rate events/s (e.g. half the measured peak). In log mode
// this is the writers' delay; in plain mode the commit is before the answer,
// so it is about one search.
func (r *Runner) searchable(ctx context.Context, probes int, rate float64) (Result, error) {
	run := r.run + "-searchable"
	bctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var sentBG int64
	var mu sync.Mutex
	if rate > 0 {
		d := doorFor("ingest-batch", r.o.BatchSize)
		every := time.Duration(float64(r.o.BatchSize) / rate * float64(time.Second) * float64(r.o.BatchClients))
		for c := range r.o.BatchClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(every)
				defer t.Stop()
				buf := make([]byte, 0, r.o.BatchSize*700+32)
				for n := 0; ; n++ {
					select {
					case <-bctx.Done():
						return
					case <-t.C:
					}
					buf = d.body(buf[:0], fmt.Sprintf("%s-bg%d", run, c), n*r.o.BatchSize, r.o.BatchSize, time.Now())
					if r.post(bctx, d, buf) {
						mu.Lock()
						sentBG += int64(r.o.BatchSize)
						mu.Unlock()
					}
				}
			}()
		}
	}
	single := doorFor("ingest-single", 1)
	var lat latencies
	errs := 0
	start := time.Now()
	for i := range probes {
		if ctx.Err() != nil {
			break
		}
		body := single.body(nil, run+"-probe", i, 1, time.Now())
		var ev struct {
			ExternalID string `json:"external_id"`
		}
		_ = json.Unmarshal(body, &ev)
		t0 := time.Now()
		if !r.post(ctx, single, body) {
			errs++
			continue
		}
		q := url.Values{"external_id": {ev.ExternalID}, "limit": {"1"}}
		for found := false; !found && ctx.Err() == nil; {
			if time.Since(t0) > 30*time.Second {
				errs++
				break
			}
			found = r.found(ctx, q)
			if !found {
				time.Sleep(2 * time.Millisecond) // polling the search
			}
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(20 * time.Millisecond) // spacing the probes
	}
	secs := time.Since(start).Seconds()
	stop()
	wg.Wait()
	note := "latency = send → found by search; no background load"
	if rate > 0 {
		note = fmt.Sprintf("latency = send → found by search; background %.0f events/s asked, %.0f sent", rate, float64(sentBG)/secs)
	}
	return Result{Scenario: "searchable", Events: len(lat), Requests: probes, Errors: errs, Seconds: secs,
		EventsPerSec: float64(sentBG) / secs, P50Ms: lat.pct(0.5), P99Ms: lat.pct(0.99), Note: note}, ctx.Err()
}

// found reports whether a search with q returns an event.
func (r *Runner) found(ctx context.Context, q url.Values) bool {
	req, _ := http.NewRequestWithContext(ctx, "GET", r.o.Target+"/api/v1/events?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := r.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && json.Unmarshal(data, &page) == nil && len(page.Events) > 0
}
