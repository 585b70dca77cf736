package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fleetConfig shapes the load of a client fleet.
type fleetConfig struct {
	name     string        // prefix of every external_id
	clients  int           // concurrent clients
	batchMax int           // every other request is a batch of 2..batchMax events; 0: single events only
	padBytes int           // payload padding per event
	pace     time.Duration // pause between two requests of one client
	retry    bool          // retry what did not get a 2xx (same body) until acknowledged
	// urls, when set, are several nodes: client i sends to urls[i%n], and
	// each retry goes to the next node (a node killed mid-run).
	urls        []string
	retryPause  time.Duration // pause before a retry
	timeout     time.Duration // client timeout of one request
	noKeepAlive bool
}

// fleet is a set of clients sending events with unique external_ids to one
// tenant and recording every answer.
type fleet struct {
	t      *testing.T
	cfg    fleetConfig
	url    string
	key    string
	rec    *recorder
	client *http.Client

	stop     chan struct{}
	giveUpAt atomic.Int64 // unix nanos after which retries stop (set by Stop)
	wg       sync.WaitGroup
}

func startFleet(t *testing.T, url, key string, cfg fleetConfig) *fleet {
	t.Helper()
	if cfg.retryPause == 0 {
		cfg.retryPause = 50 * time.Millisecond
	}
	if cfg.timeout == 0 {
		cfg.timeout = 20 * time.Second
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        4 * cfg.clients,
		MaxIdleConnsPerHost: 4 * cfg.clients,
		DisableKeepAlives:   cfg.noKeepAlive,
		DisableCompression:  true,
	}
	f := &fleet{t: t, cfg: cfg, url: url, key: key, rec: newRecorder(), stop: make(chan struct{}),
		client: &http.Client{Transport: tr, Timeout: cfg.timeout}}
	f.giveUpAt.Store(1<<63 - 1)
	t.Cleanup(func() { f.Stop(0); tr.CloseIdleConnections() })
	for i := range cfg.clients {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.run(i)
		}()
	}
	return f
}

// Stop ends the load: each client finishes its current request, retrying it
// for up to drain, and exits. Stop returns when every client has.
func (f *fleet) Stop(drain time.Duration) {
	select {
	case <-f.stop:
	default:
		f.giveUpAt.Store(time.Now().Add(drain).UnixNano())
		close(f.stop)
	}
	f.wg.Wait()
}

func (f *fleet) stopping() bool {
	select {
	case <-f.stop:
		return true
	default:
		return false
	}
}

func (f *fleet) run(ci int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(ci)))
	for n := 0; !f.stopping(); n++ {
		count := 1
		if f.cfg.batchMax > 1 && n%2 == 1 {
			count = 2 + rng.IntN(f.cfg.batchMax-1)
		}
		exts := make([]string, count)
		events := make([]map[string]any, count)
		for j := range count {
			exts[j] = fmt.Sprintf("%s-c%d-r%d-e%d", f.cfg.name, ci, n, j)
			events[j] = f.event(exts[j], ci, n, j)
		}
		var path string
		var body []byte
		if count == 1 && n%2 == 0 {
			path = "/api/v1/events"
			body, _ = json.Marshal(events[0])
		} else {
			path = "/api/v1/events/batch"
			body, _ = json.Marshal(map[string]any{"events": events})
		}
		f.rec.sent(exts)
		f.deliver(ci, path, body, exts)
		if f.cfg.pace > 0 {
			time.Sleep(f.cfg.pace) // pacing the load
		}
	}
}

var severities = []string{"debug", "info", "warning", "error", "critical"}

func (f *fleet) event(ext string, ci, n, j int) map[string]any {
	e := map[string]any{
		"event_type":  "chaos.test",
		"service":     fmt.Sprintf("svc-%d", ci),
		"severity":    severities[(n+j)%len(severities)],
		"endpoint":    fmt.Sprintf("/r/%d", n%17),
		"status_code": 200 + (n+j)%4*100,
		"user_id":     fmt.Sprintf("u-%d", j),
		"tags":        map[string]string{"client": strconv.Itoa(ci), "scenario": f.cfg.name},
		"external_id": ext,
		"payload":     map[string]any{"seq": n, "idx": j},
	}
	if f.cfg.padBytes > 0 {
		e["payload"].(map[string]any)["pad"] = strings.Repeat("p", f.cfg.padBytes)
	}
	return e
}

// deliver sends one request until every event in it is acknowledged, or
// once when the fleet does not retry.
func (f *fleet) deliver(ci int, path string, body []byte, exts []string) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if !f.cfg.retry || time.Now().UnixNano() > f.giveUpAt.Load() {
				return
			}
			time.Sleep(f.cfg.retryPause) // pacing retries
		}
		phase := f.rec.currentPhase()
		start := time.Now()
		base := f.url
		if n := len(f.cfg.urls); n > 0 {
			base = f.cfg.urls[(ci+attempt)%n]
		}
		status, hdr, data, err := f.post(base, path, body)
		lat := time.Since(start)
		if err != nil {
			f.rec.netErr(phase, err, exts)
			continue
		}
		f.rec.answer(phase, status, lat)
		if status == http.StatusTooManyRequests {
			if s, _ := strconv.Atoi(hdr.Get("Retry-After")); s > 0 && f.cfg.retry {
				time.Sleep(min(time.Duration(s)*time.Second, time.Second)) // honouring Retry-After, capped
			}
		}
		if path == "/api/v1/events" {
			var r struct{ ID, Status string }
			switch {
			case status == http.StatusCreated || status == http.StatusOK || status == http.StatusAccepted: // 202: log mode
				if json.Unmarshal(data, &r) != nil || r.ID == "" {
					f.rec.unexpectedf("%s: %d with body %.200s", exts[0], status, data)
					return
				}
				f.rec.ack(exts[0], r.ID, r.Status)
				return
			case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage:
				f.rec.refused(exts, refusal(status, data))
			default:
				f.rec.refused(exts, strconv.Itoa(status))
				f.rec.unexpectedf("%s: status %d: %.300s", exts[0], status, data)
				if status < 500 {
					return
				}
			}
			continue
		}
		switch status {
		case http.StatusOK, http.StatusAccepted: // 202: log mode
			var br struct {
				Results []struct {
					Index  int    `json:"index"`
					Status string `json:"status"`
					ID     string `json:"id"`
				} `json:"results"`
			}
			if json.Unmarshal(data, &br) != nil || len(br.Results) != len(exts) {
				f.rec.unexpectedf("batch: 200 with %d results for %d events: %.200s", len(br.Results), len(exts), data)
				return
			}
			done := true
			for i, r := range br.Results {
				switch {
				case r.Index != i:
					f.rec.unexpectedf("batch result %d has index %d", i, r.Index)
				case r.Status == "created" || r.Status == "duplicate" || r.Status == "accepted":
					f.rec.ack(exts[i], r.ID, r.Status)
				case r.Status == "rate_limited":
					f.rec.refused(exts[i:i+1], "rate_limited")
					done = false
				default:
					f.rec.unexpectedf("%s: batch result %q", exts[i], r.Status)
				}
			}
			if done {
				return
			}
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInsufficientStorage:
			f.rec.refused(exts, refusal(status, data))
		default:
			f.rec.refused(exts, strconv.Itoa(status))
			f.rec.unexpectedf("batch: status %d: %.300s", status, data)
			if status < 500 {
				return
			}
		}
	}
}

// outcomeUnknown names a 503 whose problem type says the request may have
// been kept (the COMMIT's answer was lost and could not be re-checked).
const outcomeUnknown = "503-outcome_unknown"

// refusal names a refusing answer: its status, or outcomeUnknown.
func refusal(status int, body []byte) string {
	var p struct{ Type string }
	if status == http.StatusServiceUnavailable && json.Unmarshal(body, &p) == nil && strings.HasSuffix(p.Type, "#problem-outcome_unknown") {
		return outcomeUnknown
	}
	return strconv.Itoa(status)
}

func (f *fleet) post(base, path string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, data, nil
}

// evState is what the clients know about one external_id.
type evState struct {
	id         string // the acknowledged id
	ackStatus  string // created or duplicate, at the first acknowledgement
	lostAnswer bool   // an attempt that may have reached the server got no answer
	unknown    bool   // an attempt was answered 503 outcome_unknown: it may have been kept
	refusals   []string
}

// recorder holds every answer of a fleet.
type recorder struct {
	mu         sync.Mutex
	events     map[string]*evState
	phase      string
	phases     []string
	statuses   map[string]map[string]int // phase → status → count
	netErrs    map[string]map[string]int // phase → error class → count
	latencies  map[string][]time.Duration
	okLat      []time.Duration // latency of 2xx answers
	shedLat    []time.Duration // latency of 429 and 503 answers
	violations []string
	// keptRefused lists events a retry found stored although every earlier
	// attempt got a refusal (503, 429, ...), which promises nothing was kept.
	keptRefused []string
	unexpected  []string
	nUnexp      int
}

// compact shortens a list of answers: "503 ×40".
func compact(xs []string) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", xs[i], j-i))
		i = j
	}
	return strings.Join(parts, ", ")
}

func newRecorder() *recorder {
	return &recorder{events: map[string]*evState{}, phase: "load", phases: []string{"load"},
		statuses: map[string]map[string]int{}, netErrs: map[string]map[string]int{}, latencies: map[string][]time.Duration{}}
}

// setPhase labels the answers of requests started from now on.
func (r *recorder) setPhase(p string) {
	r.mu.Lock()
	r.phase = p
	if !slices.Contains(r.phases, p) {
		r.phases = append(r.phases, p)
	}
	r.mu.Unlock()
}

func (r *recorder) currentPhase() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

func (r *recorder) sent(exts []string) {
	r.mu.Lock()
	for _, e := range exts {
		r.events[e] = &evState{}
	}
	r.mu.Unlock()
}

func bump(m map[string]map[string]int, phase, key string) {
	if m[phase] == nil {
		m[phase] = map[string]int{}
	}
	m[phase][key]++
}

func (r *recorder) answer(phase string, status int, lat time.Duration) {
	r.mu.Lock()
	bump(r.statuses, phase, strconv.Itoa(status))
	r.latencies[phase] = append(r.latencies[phase], lat)
	switch {
	case status >= 200 && status < 300:
		r.okLat = append(r.okLat, lat)
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		r.shedLat = append(r.shedLat, lat)
	}
	r.mu.Unlock()
}

// errClass names a transport error: refused (never reached a server),
// reset, eof, timeout, idle_closed or other. Every class but refused may
// have reached the server, so the events count as possibly committed.
func errClass(err error) string {
	var ne net.Error
	switch {
	case isRefused(err):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "idle_closed" // a kept-alive connection the server had closed
	}
	return "other"
}

func (r *recorder) netErr(phase string, err error, exts []string) {
	class := errClass(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	bump(r.netErrs, phase, class)
	if class == "other" && len(r.unexpected) < 10 {
		r.unexpected = append(r.unexpected, "transport error: "+err.Error())
	}
	if class == "refused" {
		return // the request never reached a server
	}
	for _, e := range exts {
		if s := r.events[e]; s.id == "" {
			s.lostAnswer = true
		}
	}
}

func (r *recorder) refused(exts []string, why string) {
	r.mu.Lock()
	for _, e := range exts {
		if s := r.events[e]; s.id == "" {
			s.refusals = append(s.refusals, why)
			s.unknown = s.unknown || why == outcomeUnknown
		}
	}
	r.mu.Unlock()
}

func (r *recorder) ack(ext, id, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.events[ext]
	if s.id != "" {
		if s.id != id {
			r.violations = append(r.violations, fmt.Sprintf("%s acknowledged with two ids: %s, then %s", ext, s.id, id))
		}
		return
	}
	s.id, s.ackStatus = id, status
	if status == "duplicate" && !s.lostAnswer && !s.unknown {
		if len(s.refusals) == 0 {
			r.violations = append(r.violations, fmt.Sprintf("%s: the first answer is a duplicate", ext))
		} else {
			// Only refusals came before: a refused attempt was kept.
			r.keptRefused = append(r.keptRefused, fmt.Sprintf("%s (answers before: %s)", ext, compact(s.refusals)))
		}
	}
}

func (r *recorder) unexpectedf(format string, args ...any) {
	r.mu.Lock()
	r.nUnexp++
	if len(r.unexpected) < 10 {
		r.unexpected = append(r.unexpected, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
}

// statusTotal counts answers with status over every phase.
func (r *recorder) statusTotal(status int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.statuses {
		n += m[strconv.Itoa(status)]
	}
	return n
}

// phaseStatuses returns a copy of the status counts of phase.
func (r *recorder) phaseStatuses(phase string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.statuses[phase] {
		out[k] = v
	}
	return out
}

func (r *recorder) phaseMaxLatency(phase string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Max(append([]time.Duration{0}, r.latencies[phase]...))
}

func (r *recorder) acked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.events {
		if s.id != "" {
			n++
		}
	}
	return n
}

// figures is the outcome of one fleet after the exactly-once check.
type figures struct {
	Sent               int                       `json:"events_sent"`
	Acknowledged       int                       `json:"acknowledged"`
	Found              int                       `json:"found"`
	Lost               int                       `json:"lost"`
	Duplicates         int                       `json:"duplicates"`
	Unknown            int                       `json:"stored_never_sent"`
	IDMismatch         int                       `json:"id_mismatch"`
	StoredUnacked      int                       `json:"stored_unacknowledged"`
	StoredAfterRefusal int                       `json:"stored_after_refusal_only"`
	AnswersLost        int                       `json:"answers_lost_but_committed"`
	KeptAfterRefusal   int                       `json:"kept_although_refused"`
	OutcomeUnknown     int                       `json:"outcome_unknown"`               // events answered 503 outcome_unknown at least once
	UnknownKept        int                       `json:"outcome_unknown_but_committed"` // ... of which were stored
	KeptRefused        []string                  `json:"kept_although_refused_examples,omitempty"`
	Requests           int                       `json:"requests"`
	Statuses           map[string]map[string]int `json:"statuses_by_phase"`
	NetErrors          map[string]map[string]int `json:"transport_errors_by_phase"`
	Unexpected         int                       `json:"unexpected_answers"`
	Violations         []string                  `json:"violations,omitempty"`
	OKP50ms            float64                   `json:"latency_2xx_p50_ms"`
	OKP99ms            float64                   `json:"latency_2xx_p99_ms"`
	OKMaxms            float64                   `json:"latency_2xx_max_ms"`
	ShedP99ms          float64                   `json:"latency_429_503_p99_ms"`
	ShedMaxms          float64                   `json:"latency_429_503_max_ms"`
}

func (f figures) transportErrors() int { return f.transportErrorsOf("") }

// transportErrorsOf counts transport errors of class (all when "").
func (f figures) transportErrorsOf(class string) int {
	n := 0
	for _, m := range f.NetErrors {
		for c, k := range m {
			if class == "" || c == class {
				n += k
			}
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// verify reads every event of the fleet's tenant back from srv and checks
// exactly-once: every acknowledged external_id stored once with its
// acknowledged id, nothing stored twice, nothing stored that was never sent,
// nothing stored that only ever got refusals.
func (f *fleet) verify(t *testing.T, srv *server) figures {
	t.Helper()
	stored := map[string][]string{} // external_id → ids
	noExt := 0
	cursor := ""
	for {
		// 500, not the maximum 1000: with limit=1000 the SQLite store
		// answers next_cursor=null although more events follow (see
		// TestHostileSearchPagingAtMaxLimit in internal/e2e).
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		st, body, err := srv.get("/api/v1/events?"+q.Encode(), f.key)
		if err != nil || st != http.StatusOK {
			t.Fatalf("search for the exactly-once check: %d %v %.300s", st, err, body)
		}
		var page struct {
			Events []struct {
				ID         string `json:"id"`
				ExternalID string `json:"external_id"`
			} `json:"events"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("search response: %v", err)
		}
		for _, e := range page.Events {
			if e.ExternalID == "" {
				noExt++
				continue
			}
			stored[e.ExternalID] = append(stored[e.ExternalID], e.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}

	r := f.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	fig := figures{Sent: len(r.events), Unknown: noExt, Statuses: r.statuses, NetErrors: r.netErrs, Unexpected: r.nUnexp}
	for _, m := range r.statuses {
		for _, n := range m {
			fig.Requests += n
		}
	}
	for _, m := range r.netErrs {
		for _, n := range m {
			fig.Requests += n
		}
	}
	var problems, kept []string
	note := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for ext, ids := range stored {
		if len(ids) > 1 {
			fig.Duplicates += len(ids) - 1
			note("%s stored %d times: %v", ext, len(ids), ids)
		}
		s, ok := r.events[ext]
		if !ok {
			fig.Unknown++
			note("%s stored but never sent", ext)
			continue
		}
		if s.unknown {
			fig.UnknownKept++
		}
		if s.id == "" {
			fig.StoredUnacked++
			if !s.lostAnswer && !s.unknown {
				fig.StoredAfterRefusal++
				kept = append(kept, fmt.Sprintf("%s (never acknowledged; answers: %s)", ext, compact(s.refusals)))
			}
		}
	}
	for ext, s := range r.events {
		if s.unknown {
			fig.OutcomeUnknown++
		}
		if s.id == "" {
			continue
		}
		fig.Acknowledged++
		if s.ackStatus == "duplicate" && s.lostAnswer {
			fig.AnswersLost++
		}
		ids, ok := stored[ext]
		switch {
		case !ok:
			fig.Lost++
			note("%s acknowledged as %s but not stored", ext, s.id)
		case !slices.Contains(ids, s.id):
			fig.IDMismatch++
			note("%s acknowledged as %s but stored as %v", ext, s.id, ids)
		default:
			fig.Found++
		}
	}
	fig.Violations = append(slices.Clone(r.violations), problems...)
	kept = append(kept, r.keptRefused...)
	fig.KeptAfterRefusal = len(kept)
	fig.KeptRefused = kept[:min(len(kept), 5)]
	fig.OKP50ms = ms(percentile(r.okLat, 0.50))
	fig.OKP99ms = ms(percentile(r.okLat, 0.99))
	fig.OKMaxms = ms(slices.Max(append([]time.Duration{0}, r.okLat...)))
	fig.ShedP99ms = ms(percentile(r.shedLat, 0.99))
	fig.ShedMaxms = ms(slices.Max(append([]time.Duration{0}, r.shedLat...)))
	if len(r.unexpected) > 0 {
		t.Logf("unexpected answers (first %d of %d): %q", len(r.unexpected), r.nUnexp, r.unexpected)
	}
	return fig
}

// refusalsKeptNothing fails t when an event was stored although every answer
// it got was a refusal: a 503 or 429 promises that nothing was kept (a 503
// outcome_unknown does not, and is counted apart).
func refusalsKeptNothing(t *testing.T, fig figures) {
	t.Helper()
	if fig.KeptAfterRefusal != 0 {
		t.Errorf("%d events were stored although every answer refused them (a 503/429 promises nothing was kept); e.g. %q",
			fig.KeptAfterRefusal, fig.KeptRefused)
	}
}

// exactlyOnce fails t unless fig shows exactly-once delivery: every
// acknowledged event stored once under its id, nothing stored twice or
// unsent, and no refusal that kept the event.
func exactlyOnce(t *testing.T, fig figures) {
	t.Helper()
	exactlyOnceAcked(t, fig)
	refusalsKeptNothing(t, fig)
}

// exactlyOnceAcked is exactlyOnce without the check on refusals.
func exactlyOnceAcked(t *testing.T, fig figures) {
	t.Helper()
	if fig.Acknowledged == 0 {
		t.Errorf("no event was acknowledged at all")
	}
	if fig.Lost != 0 || fig.Duplicates != 0 || fig.Unknown != 0 || fig.IDMismatch != 0 || len(fig.Violations) != 0 {
		t.Errorf("exactly-once violated: lost=%d duplicates=%d stored_never_sent=%d id_mismatch=%d; first problems:\n  %s",
			fig.Lost, fig.Duplicates, fig.Unknown, fig.IDMismatch, strings.Join(fig.Violations, "\n  "))
	}
}

func logFigures(t *testing.T, name string, fig figures) {
	t.Helper()
	t.Logf("%s: sent=%d acknowledged=%d found=%d lost=%d duplicates=%d stored_never_sent=%d stored_unacknowledged=%d answers_lost_but_committed=%d kept_although_refused=%d outcome_unknown=%d (committed %d) requests=%d unexpected=%d 2xx latency p50=%.1fms p99=%.1fms max=%.1fms",
		name, fig.Sent, fig.Acknowledged, fig.Found, fig.Lost, fig.Duplicates, fig.Unknown, fig.StoredUnacked, fig.AnswersLost, fig.KeptAfterRefusal, fig.OutcomeUnknown, fig.UnknownKept, fig.Requests, fig.Unexpected, fig.OKP50ms, fig.OKP99ms, fig.OKMaxms)
	t.Logf("%s: 429/503 latency p99=%.1fms max=%.1fms; statuses by phase %v; transport errors by phase %v", name, fig.ShedP99ms, fig.ShedMaxms, fig.Statuses, fig.NetErrors)
}
