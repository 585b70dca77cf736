package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Live tail defaults (TailConfig's zero values).
const (
	DefaultTailsPerTenant      = 5
	DefaultTailsPerNode        = 500
	DefaultTailEventsPerSecond = 100
	DefaultTailPoll            = time.Second
	DefaultTailHeartbeat       = 15 * time.Second
	// tailOverlap is how far behind its newest id a tail re-reads ids: a
	// request that got its id earlier may commit later (ids are taken at
	// receive time), as the alert evaluator's overlap.
	tailOverlap = 3 * time.Second
	// tailScanPage bounds one read of new events; tailScanPages the reads
	// per poll, so one poll's work is bounded whatever a tenant sends.
	tailScanPage  = 1000
	tailScanPages = 5
)

// TailConfig bounds the live tails (GET /api/v1/events/tail).
type TailConfig struct {
	PerTenant       int           // concurrent tails of one tenant (429 beyond)
	PerNode         int           // concurrent tails of the node (429 beyond)
	EventsPerSecond int           // events sent per second and tail; the rest are counted as dropped
	Poll            time.Duration // how often the store is read
	Heartbeat       time.Duration // comment lines that keep proxies from closing an idle stream
	// Ticker makes the poll ticker (nil: time.NewTicker); tests drive it.
	Ticker func(d time.Duration) (<-chan time.Time, func())
}

func (c TailConfig) withDefaults() TailConfig {
	if c.PerTenant <= 0 {
		c.PerTenant = DefaultTailsPerTenant
	}
	if c.PerNode <= 0 {
		c.PerNode = DefaultTailsPerNode
	}
	if c.EventsPerSecond <= 0 {
		c.EventsPerSecond = DefaultTailEventsPerSecond
	}
	if c.Poll <= 0 {
		c.Poll = DefaultTailPoll
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultTailHeartbeat
	}
	if c.Ticker == nil {
		c.Ticker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return c
}

// forTenant is c with the tenant's overrides (non-zero fields of l) in
// place of the defaults; the per-node cap is the node's alone.
func (c TailConfig) forTenant(l pulse.TailLimits) TailConfig {
	eff := pulse.TailLimits{MaxStreams: c.PerTenant, EventsPerSecond: c.EventsPerSecond}.With(l)
	c.PerTenant, c.EventsPerSecond = eff.MaxStreams, eff.EventsPerSecond
	return c
}

// tails counts open tails per tenant and on the node, and ends them all
// when the server shuts down.
type tails struct {
	mu       sync.Mutex
	perTen   map[string]int
	total    int
	closing  chan struct{}
	closeOne sync.Once
}

func newTails() *tails {
	return &tails{perTen: map[string]int{}, closing: make(chan struct{})}
}

func (t *tails) acquire(tenantID string, cfg TailConfig) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perTen[tenantID] >= cfg.PerTenant || t.total >= cfg.PerNode {
		return false
	}
	t.perTen[tenantID]++
	t.total++
	return true
}

func (t *tails) release(tenantID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total--
	if t.perTen[tenantID]--; t.perTen[tenantID] <= 0 {
		delete(t.perTen, tenantID)
	}
}

// CloseStreams ends every live tail (and refuses new ones): the app calls
// it when the HTTP server starts shutting down, which would otherwise wait
// for streams that never end by themselves.
func (s *Server) CloseStreams() {
	s.tails.closeOne.Do(func() { close(s.tails.closing) })
}

func (s *Server) tailEvents(w http.ResponseWriter, r *http.Request) {
	f, err := pulse.ParseTailFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant := tenantFrom(r.Context())
	tenantID := tenant.ID
	cfg := s.Tail.forTenant(tenant.TailLimits)
	select {
	case <-s.tails.closing:
		s.writeError(w, r, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "the server is shutting down", RetryAfter: time.Second})
		return
	default:
	}
	if !s.tails.acquire(tenantID, cfg) {
		s.writeError(w, r, &pulse.Error{Code: pulse.ERATELIMITED, RetryAfter: 10 * time.Second,
			Message: fmt.Sprintf("the tenant already has %d live tails open (its limit, tail_limits.max_streams), or the node is at its limit; close one or retry later", cfg.PerTenant)})
		return
	}
	defer s.tails.release(tenantID)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	tl := &tailer{store: s.store, tenantID: tenantID, filter: f, perPoll: max(1, int(int64(cfg.EventsPerSecond)*int64(cfg.Poll)/int64(time.Second))),
		seen: map[string]int64{}}
	if err := tl.start(ctx); err != nil {
		s.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(text string) bool {
		// The server's write timeout is for answers, not streams: each
		// write gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprint(w, text); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(": tail of new events\n\n") {
		return
	}
	poll, stopPoll := cfg.Ticker(cfg.Poll)
	defer stopPoll()
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.tails.closing:
			return
		case <-beat.C:
			if !write(": keep-alive\n\n") {
				return
			}
		case <-poll:
			events, dropped, err := tl.poll(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.Warn("live tail: read failed; retrying at the next poll", "tenant", tenantID, "err", err)
				}
				continue
			}
			for _, e := range events {
				data, err := json.Marshal(e)
				if err != nil {
					continue
				}
				if !write("event: event\nid: " + e.ID + "\ndata: " + string(data) + "\n\n") {
					return
				}
			}
			if dropped > 0 && !write(fmt.Sprintf("event: dropped\ndata: {\"dropped\":%d}\n\n", dropped)) {
				return
			}
		}
	}
}

// tailer finds the tenant's events committed since it started, in receive
// (id) order. It keeps a watermark (the newest id read) and re-reads the
// ids of the overlap behind it, so an event whose id was taken before an
// already-read one but that committed after it is still seen once.
type tailer struct {
	store     pulse.Store
	tenantID  string
	filter    pulse.EventFilter
	perPoll   int
	watermark string
	seen      map[string]int64 // ids read within the overlap → their millisecond
}

// start places the watermark at the newest committed id and marks the
// overlap behind it as seen: only events committed from now on are sent.
func (t *tailer) start(ctx context.Context) error {
	newest, err := t.store.MaxEventID(ctx)
	if err != nil {
		return err
	}
	t.watermark = newest
	if newest == "" {
		return nil
	}
	ids, err := t.store.ScanEvents(ctx, pulse.EventScan{TenantID: t.tenantID, AfterID: t.floor(), UpToID: newest, IDsOnly: true, Limit: 100_000})
	if err != nil {
		return err
	}
	for _, e := range ids {
		t.seen[e.ID] = pulse.IDMillis(e.ID)
	}
	return nil
}

func (t *tailer) floor() string {
	if t.watermark == "" {
		return ""
	}
	return pulse.IDAt(pulse.IDMillis(t.watermark) - tailOverlap.Milliseconds())
}

// poll returns the new matching events (full, at most perPoll, oldest
// first) and how many more matched but were not sent.
func (t *tailer) poll(ctx context.Context) ([]*pulse.Event, int, error) {
	var fresh []*pulse.Event
	take := func(es []*pulse.Event) {
		for _, e := range es {
			if _, ok := t.seen[e.ID]; ok {
				continue
			}
			t.seen[e.ID] = pulse.IDMillis(e.ID)
			if t.filter.Matches(e) {
				fresh = append(fresh, e)
			}
		}
	}
	if t.watermark != "" {
		// Late commits in the overlap: ids first (an index-only read),
		// then in full only when one was not seen.
		ids, err := t.store.ScanEvents(ctx, pulse.EventScan{TenantID: t.tenantID, AfterID: t.floor(), UpToID: t.watermark, IDsOnly: true, Limit: 100_000})
		if err != nil {
			return nil, 0, err
		}
		for _, e := range ids {
			if _, ok := t.seen[e.ID]; !ok {
				late, err := t.store.ScanEvents(ctx, pulse.EventScan{TenantID: t.tenantID, AfterID: t.floor(), UpToID: t.watermark, Limit: 100_000})
				if err != nil {
					return nil, 0, err
				}
				take(late)
				break
			}
		}
	}
	for range tailScanPages {
		es, err := t.store.ScanEvents(ctx, pulse.EventScan{TenantID: t.tenantID, AfterID: t.watermark, Limit: tailScanPage})
		if err != nil {
			return nil, 0, err
		}
		take(es)
		if len(es) > 0 {
			t.watermark = es[len(es)-1].ID
		}
		if len(es) < tailScanPage {
			break
		}
	}
	// Forget what fell out of the overlap.
	floor := pulse.IDMillis(t.watermark) - tailOverlap.Milliseconds()
	for id, ms := range t.seen {
		if ms < floor {
			delete(t.seen, id)
		}
	}
	dropped := max(len(fresh)-t.perPoll, 0)
	fresh = fresh[:min(len(fresh), t.perPoll)]
	// The scan leaves out message and payload: read the events to send.
	out := make([]*pulse.Event, 0, len(fresh))
	for _, e := range fresh {
		full, err := t.store.GetEvent(ctx, t.tenantID, e.ID)
		if pulse.IsNotFound(err) {
			continue // removed by retention meanwhile
		} else if err != nil {
			return nil, 0, err
		}
		out = append(out, full)
	}
	return out, dropped, nil
}
