package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions configure the scenarios run against a server.
type HTTPOptions struct {
	Target        string // base URL, e.g. http://127.0.0.1:8000
	AdminToken    string
	ServerPID     int // 0: CPU and RSS are not reported
	Backend       string
	BatchEvents   int // ingest-batch / ingest-dup / ingest-otlp / ingest-bulk total events
	BatchSize     int
	BatchClients  int
	SingleEvents  int
	SingleClients int
	SearchQueries int
	// SearchableProbes and SearchableRate shape the searchable scenario:
	// probes sent one at a time, over background batches at that rate
	// (events/s; 0: none).
	SearchableProbes int
	SearchableRate   float64
	// NetHTTP makes the ingest scenarios send through net/http's client
	// instead of one lean HTTP/1.1 connection per client goroutine
	// (wire.go); https targets always use net/http.
	NetHTTP bool
	Log     io.Writer
}

// Runner runs scenarios against one tenant it creates.
type Runner struct {
	o      HTTPOptions
	client *http.Client
	key    string
	run    string
	// addr and host are where ingest scenarios dial their wireConns; ""
	// when they use client.
	addr, host string

	failures atomic.Int64
	progress func(done, total int64)
}

// SetProgress makes the scenarios report the events sent so far (from
// many goroutines: f must be safe for that).
func (r *Runner) SetProgress(f func(done, total int64)) { r.progress = f }

// NewRunner creates a tenant with a limit high enough never to throttle.
func NewRunner(ctx context.Context, o HTTPOptions) (*Runner, error) {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	r := &Runner{o: o, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}, run: fmt.Sprintf("r%d", time.Now().UnixNano())}
	body := fmt.Sprintf(`{"name":"bench-%s","rate_limit_per_minute":1000000000}`, r.run)
	req, _ := http.NewRequestWithContext(ctx, "POST", o.Target+"/admin/v1/tenants", bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+o.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("create bench tenant: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		APIKey string `json:"api_key"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil, fmt.Errorf("create bench tenant: status %d (is the admin token right?)", resp.StatusCode)
	}
	r.key = out.APIKey
	if !o.NetHTTP {
		r.addr, r.host = wireAddr(o.Target)
	}
	return r, nil
}

// Run runs one named scenario.
func (r *Runner) Run(ctx context.Context, scenario string) (Result, error) {
	switch scenario {
	case "ingest-batch", "ingest-dup", "ingest-single", "ingest-otlp", "ingest-bulk", "search", "searchable":
	default:
		return Result{}, fmt.Errorf("unknown scenario %q (ingest-batch, ingest-single, ingest-dup, ingest-otlp, ingest-bulk, search, searchable)", scenario)
	}
	cpu0, _ := procCPU(r.o.ServerPID)
	self0, _ := procCPU(os.Getpid())
	stopAnon := func() float64 { return 0 }
	if r.o.ServerPID > 0 {
		stopAnon = anonPeak(r.o.ServerPID, 200*time.Millisecond)
	}
	var res Result
	var err error
	switch scenario {
	case "ingest-batch", "ingest-otlp", "ingest-bulk":
		res, err = r.ingest(ctx, scenario, r.o.BatchEvents, r.o.BatchSize, r.o.BatchClients, 0)
	case "ingest-dup":
		res, err = r.ingest(ctx, scenario, r.o.BatchEvents, r.o.BatchSize, r.o.BatchClients, 0.3)
	case "ingest-single":
		res, err = r.ingest(ctx, scenario, r.o.SingleEvents, 1, r.o.SingleClients, 0)
	case "search":
		res, err = r.search(ctx)
	case "searchable":
		res, err = r.searchable(ctx, r.o.SearchableProbes, r.o.SearchableRate)
	}
	res.Backend = r.o.Backend
	if self1, ok := procCPU(os.Getpid()); ok && res.Seconds > 0 {
		// The generator's own CPU (this process: body building, HTTP
		// client, progress output), so a run can tell whether the load
		// generator, not the server, is what saturates the cores.
		res.GeneratorCores = (self1 - self0) / res.Seconds
	}
	if r.o.ServerPID > 0 {
		if cpu1, ok := procCPU(r.o.ServerPID); ok {
			res.ServerCPUSec = cpu1 - cpu0
			if res.Seconds > 0 {
				res.ServerCores = res.ServerCPUSec / res.Seconds
			}
		}
		res.PeakRSSMB, _ = procPeakRSS(r.o.ServerPID)
	}
	res.PeakAnonMB = stopAnon()
	return res, err
}

// ingest sends total events in requests of size events from clients
// goroutines; dupShare of the requests replay an earlier request.
func (r *Runner) ingest(ctx context.Context, name string, total, size, clients int, dupShare float64) (Result, error) {
	run := r.run + "-" + name // each scenario has its own external ids
	d := doorFor(name, size)
	requests := (total + size - 1) / size
	var next atomic.Int64
	var errs, sent atomic.Int64
	lat := make([]latencies, clients)
	base := time.Now().Add(-time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, size*700+32)
			var wc *wireConn
			if r.addr != "" {
				wc = &wireConn{addr: r.addr, host: r.host, timeout: r.client.Timeout}
				defer wc.close()
			}
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= requests {
					return
				}
				first := i * size
				if dupShare > 0 && i > 0 && float64(i%10) < dupShare*10 {
					first = (i / 2) * size // replay an earlier request's events
				}
				buf = d.body(buf[:0], run, first, size, base)
				t0 := time.Now()
				ok := r.send(ctx, wc, d, buf)
				lat[c] = append(lat[c], time.Since(t0))
				if !ok {
					errs.Add(1)
				} else if n := sent.Add(int64(size)); r.progress != nil {
					r.progress(n, int64(total))
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all latencies
	for _, l := range lat {
		all = append(all, l...)
	}
	return Result{
		Scenario: name, Events: int(sent.Load()), Requests: requests, Errors: int(errs.Load()), Seconds: secs,
		EventsPerSec: float64(sent.Load()) / secs, P50Ms: all.pct(0.5), P99Ms: all.pct(0.99),
	}, ctx.Err()
}

// send posts body through wc, or through net/http when wc is nil, and
// tells whether the server accepted it.
func (r *Runner) send(ctx context.Context, wc *wireConn, d door, body []byte) bool {
	if wc == nil {
		return r.post(ctx, d, body)
	}
	status, err := wc.post(ctx, d.path, d.contentType, r.key, body)
	return r.accepted(d.path, status, err)
}

func (r *Runner) post(ctx context.Context, d door, body []byte) bool {
	req, _ := http.NewRequestWithContext(ctx, "POST", r.o.Target+d.path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.key)
	req.Header.Set("Content-Type", d.contentType)
	resp, err := r.client.Do(req)
	if err != nil {
		return r.accepted(d.path, 0, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return r.accepted(d.path, resp.StatusCode, nil)
}

// accepted tells whether an ingest request succeeded, logging the first
// three failures of the run.
func (r *Runner) accepted(path string, status int, err error) bool {
	if err != nil {
		if r.o.Log != nil && r.failures.Add(1) <= 3 {
			fmt.Fprintf(r.o.Log, "bench: %s: %v\n", path, err)
		}
		return false
	}
	ok := status == http.StatusOK || status == http.StatusCreated || status == http.StatusAccepted // 202: log mode
	if !ok && r.o.Log != nil && r.failures.Add(1) <= 3 {
		fmt.Fprintf(r.o.Log, "bench: %s answered %d\n", path, status)
	}
	return ok
}

// search runs filtered newest-100 queries over the tenant's events.
func (r *Runner) search(ctx context.Context) (Result, error) {
	queries := filteredQueries()
	var lat latencies
	per := make([]latencies, len(queries))
	errs := 0
	start := time.Now()
	for i := range r.o.SearchQueries {
		q := queries[i%len(queries)]
		req, _ := http.NewRequestWithContext(ctx, "GET", r.o.Target+"/api/v1/events?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+r.key)
		t0 := time.Now()
		resp, err := r.client.Do(req)
		if err != nil {
			errs++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		per[i%len(queries)] = append(per[i%len(queries)], time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			errs++
		}
	}
	secs := time.Since(start).Seconds()
	if r.o.Log != nil {
		for i, q := range queries {
			fmt.Fprintf(r.o.Log, "search %-60s p50 %6.2f ms  p99 %7.2f ms\n", q.Encode(), per[i].pct(0.5), per[i].pct(0.99))
		}
	}
	return Result{Scenario: "search", Requests: r.o.SearchQueries, Errors: errs, Seconds: secs,
		EventsPerSec: float64(len(lat)) / secs, P50Ms: lat.pct(0.5), P99Ms: lat.pct(0.99), Note: "events_per_sec = queries/s"}, ctx.Err()
}
