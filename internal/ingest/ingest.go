package ingest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Status of one event in a response.
const (
	StatusCreated     = "created"
	StatusDuplicate   = "duplicate"
	StatusConflict    = "conflict"
	StatusRejected    = "rejected"
	StatusRateLimited = "rate_limited"
	// StatusAccepted (log mode): durable in the ingest log, written to the
	// database shortly; whether it is new is settled there.
	StatusAccepted = "accepted"
)

// Result is the outcome for one input event.
type Result struct {
	Index  int                `json:"index"`
	Status string             `json:"status"`
	ID     string             `json:"id,omitempty"`
	Errors []pulse.FieldError `json:"errors,omitempty"`
}

// Outcome is the outcome of one request.
type Outcome struct {
	Results     []Result
	Accepted    int // created by this request
	Duplicates  int
	Rejected    int // invalid + conflicts
	RateLimited int
	Quota       pulse.Quota
	// Invalid holds the validation error of each rejected event (by index);
	// BadRequest is set when an event was not even JSON (single-event path).
	BadRequest error
}

// Config holds the service's dependencies and settings.
type Config struct {
	Store           pulse.EventStore
	Limiter         pulse.Limiter
	Clock           pulse.Clock
	Usage           *Usage // may be nil
	MaxPayloadBytes int
	Registerer      prometheus.Registerer
	// Log, when set (log mode), takes the accepted events instead of
	// Store.InsertEvents; the log's writers store them later.
	Log Log
	// LogCheckStored (log mode) looks the request's external ids up in
	// the store before publishing, so that a replay after the log's
	// duplicate window answers duplicate with the stored id and costs no
	// quota — one query per request with external ids. Without it the
	// look-up happens only when the quota is short, as in plain mode.
	LogCheckStored bool
}

// Log is the durable ingest log of log mode (internal/natslog).
type Log interface {
	// Append makes events (of tenantID, carrying ID and ContentHash)
	// durable in the log and returns one result per event: Created
	// (accepted), or Duplicate/Conflict with the first event's id for a
	// replay the log itself recognised (the id is empty when the log no
	// longer holds the first event). EUNAVAILABLE: nothing was kept;
	// EUNKNOWN: some events may be in the log.
	Append(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error)
}

// Service ingests events for tenants.
type Service struct {
	cfg     Config
	metrics *metrics
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = pulse.SystemClock{}
	}
	if cfg.MaxPayloadBytes == 0 {
		cfg.MaxPayloadBytes = pulse.DefaultMaxPayloadBytes
	}
	return &Service{cfg: cfg, metrics: newMetrics(cfg.Registerer)}
}

// Ingest validates and stores raws (the JSON objects of one request) for
// tenant t. It returns an error only when nothing could be decided — the
// limiter failed closed, or the store failed (then nothing of the request is
// stored and the reserved quota is given back; or, with EUNKNOWN, the events
// may be stored and the quota stays taken, so that it is never overrun — a
// retry of a stored event is a duplicate and costs nothing). Per-event
// problems are in the Outcome.
func (s *Service) Ingest(ctx context.Context, t *pulse.Tenant, raws []json.RawMessage) (*Outcome, error) {
	now := s.cfg.Clock.Now()
	out := &Outcome{Results: make([]Result, len(raws))}
	usage := newTally(t.ID, now)

	// 1. Validate each event on its own.
	events := make([]*pulse.Event, len(raws))
	var withExt []string
	for i, raw := range raws {
		out.Results[i].Index = i
		e, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: now, Retention: t.Retention(), MaxPayloadBytes: s.cfg.MaxPayloadBytes, Decode: decodeEvent})
		if err != nil {
			out.Results[i].Status = StatusRejected
			if pe, ok := err.(*pulse.Error); ok && pe.Code == pulse.EINVALID {
				out.Results[i].Errors = pe.Fields
			} else {
				out.Results[i].Errors = []pulse.FieldError{{Field: "event", Message: "is not valid JSON", Reason: "event.malformed"}}
				if len(raws) == 1 {
					out.BadRequest = err
				}
			}
			reason := out.Results[i].Errors[0].Reason
			usage.add("rejected:" + reason)
			s.metrics.rejected.WithLabelValues(reason).Inc()
			continue
		}
		e.TenantID = t.ID
		e.ReceivedAt = now.UTC().Truncate(time.Microsecond)
		events[i] = e
		if e.ExternalID != "" {
			withExt = append(withExt, e.ExternalID)
		}
	}

	// 2. Reserve quota for the new events, in input order. Replays of
	// stored external ids must cost nothing: when everything fits, the store
	// tells them apart and their quota is given back in step 4; when it does
	// not, the stored ids are looked up first (one query) so that replays
	// never take the place of new events. Take is called even for zero
	// events so that every response reports the remaining quota. In log
	// mode with LogCheckStored the stored ids are always looked up first,
	// within a short budget (knownForLog): the log does not tell replays
	// apart after its duplicate window.
	var known map[string]pulse.StoredRef
	checked := s.cfg.Log != nil && s.cfg.LogCheckStored && len(withExt) > 0
	if checked {
		known = s.knownForLog(ctx, t.ID, withExt)
	}
	first, fresh := s.fresh(events, out, known)
	q, err := s.take(ctx, t, len(fresh))
	if err != nil {
		return nil, err
	}
	if q.Granted < len(fresh) && len(withExt) > 0 && !checked {
		var known map[string]pulse.StoredRef
		if s.cfg.Log != nil {
			known = s.knownForLog(ctx, t.ID, withExt) // the database may be down
		} else {
			known, err = s.cfg.Store.LookupExternalIDs(ctx, t.ID, withExt)
		}
		if err != nil {
			s.refund(ctx, t, q.Granted)
			return nil, err
		}
		if len(known) > 0 {
			s.refund(ctx, t, q.Granted)
			first, fresh = s.fresh(events, out, known)
			if q, err = s.take(ctx, t, len(fresh)); err != nil {
				return nil, err
			}
		}
	}
	out.Quota = q
	granted := q.Granted
	toStore := make([]*pulse.Event, 0, granted)
	for n, i := range fresh {
		if n < granted {
			events[i].ID = pulse.NewID()
			toStore = append(toStore, events[i])
		} else {
			out.Results[i] = Result{Index: i, Status: StatusRateLimited}
		}
	}

	// 4. Store in one transaction (or publish to the log); give back what
	// was not created.
	created := 0
	if len(toStore) > 0 {
		res, err := s.store(ctx, t.ID, toStore)
		if err != nil {
			if pulse.ErrorCode(err) != pulse.EUNKNOWN {
				s.refund(ctx, t, granted)
			}
			return nil, err
		}
		createdStatus := StatusCreated
		if s.cfg.Log != nil {
			createdStatus = StatusAccepted
		}
		for n, e := range toStore {
			i := fresh[n]
			switch res[n].Status {
			case pulse.Created:
				created++
				out.Results[i] = Result{Index: i, Status: createdStatus, ID: e.ID}
			case pulse.Duplicate: // a concurrent request stored it first
				out.Results[i] = Result{Index: i, Status: StatusDuplicate, ID: res[n].ID}
			default:
				out.Results[i] = conflict(i, res[n].ID)
			}
		}
		if unused := granted - created; unused > 0 {
			s.refund(ctx, t, unused)
			out.Quota.Remaining = min(out.Quota.Remaining+unused, out.Quota.Limit)
			if out.Quota.Remaining > 0 {
				out.Quota.RetryAfter = 0
			}
		}
	}

	// 5. Repeats inside the request follow their first occurrence. When the
	// first occurrence conflicted, the stored content is not the first's, so
	// its repeats are compared with what is stored (one query, rare path).
	var conflicted []string
	for i, e := range events {
		if e != nil && e.ExternalID != "" && out.Results[i].Status == "" && out.Results[first[e.ExternalID]].Status == StatusConflict {
			conflicted = append(conflicted, e.ExternalID)
		}
	}
	var stored map[string]pulse.StoredRef
	if len(conflicted) > 0 {
		// The request's events are committed by now, so a failed look-up
		// must not turn the answer into a 503: those repeats stay conflicts.
		stored, _ = s.cfg.Store.LookupExternalIDs(ctx, t.ID, conflicted)
	}
	for i, e := range events {
		if e == nil || e.ExternalID == "" || out.Results[i].Status != "" {
			continue
		}
		f := first[e.ExternalID]
		fr := out.Results[f]
		switch {
		case fr.Status == StatusRateLimited:
			out.Results[i] = Result{Index: i, Status: StatusRateLimited}
		case fr.Status == StatusConflict:
			if ref, ok := stored[e.ExternalID]; ok {
				out.Results[i] = replay(i, ref.ID, e.SameContent(ref.ContentHash))
			} else {
				out.Results[i] = conflict(i, fr.ID)
			}
		case e.SameContent(events[f].ContentHash):
			out.Results[i] = Result{Index: i, Status: StatusDuplicate, ID: fr.ID}
		default:
			out.Results[i] = conflict(i, fr.ID)
		}
	}

	// 6. Count.
	for _, r := range out.Results {
		switch r.Status {
		case StatusCreated, StatusAccepted:
			out.Accepted++
		case StatusDuplicate:
			out.Duplicates++
		case StatusConflict, StatusRejected:
			out.Rejected++
		case StatusRateLimited:
			out.RateLimited++
		}
		switch r.Status {
		case StatusRejected: // counted with its reason
		case StatusAccepted: // log mode: the tenant's usage counts it as created
			usage.add(StatusCreated)
		default:
			usage.add(r.Status)
		}
		s.metrics.events.WithLabelValues(r.Status).Inc()
	}
	if out.RateLimited > 0 {
		s.metrics.rateLimited.Add(float64(out.RateLimited))
	}
	if s.cfg.Usage != nil {
		s.cfg.Usage.Add(usage.counts())
	}
	return out, nil
}

// logLookupTimeout bounds log mode's look-up of stored external ids: the
// database may be down, and ingestion must not wait for it.
const logLookupTimeout = 250 * time.Millisecond

// knownForLog is, in log mode, what the database already stores of the
// request's external ids, so that a replay arriving after JetStream's
// duplicate window is answered as a duplicate with the stored id and costs
// no quota. When the database does not answer in logLookupTimeout it is
// nothing: the event goes to the log, and its writer settles it (stored
// once; the quota it took stays taken).
func (s *Service) knownForLog(ctx context.Context, tenantID string, externalIDs []string) map[string]pulse.StoredRef {
	ctx, cancel := context.WithTimeout(ctx, logLookupTimeout)
	defer cancel()
	known, err := s.cfg.Store.LookupExternalIDs(ctx, tenantID, externalIDs)
	if err != nil {
		return nil
	}
	return known
}

// LogMode reports whether events go to the ingest log (answers 202).
func (s *Service) LogMode() bool { return s.cfg.Log != nil }

// store stores events, or in log mode appends them to the log. A replay
// the log recognised after its first event left the log (written) gets the
// stored id from the database; when that look-up fails too, it is answered
// as a duplicate without an id.
func (s *Service) store(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	if s.cfg.Log == nil {
		return s.cfg.Store.InsertEvents(ctx, tenantID, events)
	}
	res, err := s.cfg.Log.Append(ctx, tenantID, events)
	if err != nil {
		return nil, err
	}
	var missing []string
	for n, r := range res {
		if r.Status != pulse.Created && r.ID == "" {
			missing = append(missing, events[n].ExternalID)
		}
	}
	if len(missing) == 0 {
		return res, nil
	}
	stored := s.knownForLog(ctx, tenantID, missing)
	for n, r := range res {
		if ref, ok := stored[events[n].ExternalID]; ok && r.Status != pulse.Created && r.ID == "" {
			res[n] = pulse.InsertResult{Status: pulse.Conflict, ID: ref.ID}
			if events[n].SameContent(ref.ContentHash) {
				res[n].Status = pulse.Duplicate
			}
		}
	}
	return res, nil
}

// fresh lists the events that would be created, in input order — all valid
// events minus replays of known external ids (resolved into out) and minus
// repeats inside the request — and the index of each external id's first
// new occurrence.
func (s *Service) fresh(events []*pulse.Event, out *Outcome, known map[string]pulse.StoredRef) (map[string]int, []int) {
	first := make(map[string]int, len(events))
	fresh := make([]int, 0, len(events))
	for i, e := range events {
		if e == nil {
			continue
		}
		if e.ExternalID != "" {
			if ref, ok := known[e.ExternalID]; ok {
				out.Results[i] = replay(i, ref.ID, e.SameContent(ref.ContentHash))
				continue
			}
			if _, seen := first[e.ExternalID]; seen {
				continue // resolved after the first occurrence is stored
			}
			first[e.ExternalID] = i
		}
		fresh = append(fresh, i)
	}
	return first, fresh
}

func (s *Service) take(ctx context.Context, t *pulse.Tenant, n int) (pulse.Quota, error) {
	start := time.Now()
	q, err := s.cfg.Limiter.Take(ctx, t.ID, t.RateLimitPerMinute, n)
	s.metrics.limiterLatency.Observe(time.Since(start).Seconds())
	return q, err
}

func (s *Service) refund(ctx context.Context, t *pulse.Tenant, n int) {
	if n <= 0 {
		return
	}
	// The request's context may be ending; the refund must still happen.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = s.cfg.Limiter.Return(ctx, t.ID, t.RateLimitPerMinute, n)
}

func replay(i int, id string, sameContent bool) Result {
	if sameContent {
		return Result{Index: i, Status: StatusDuplicate, ID: id}
	}
	return conflict(i, id)
}

func conflict(i int, id string) Result {
	return Result{Index: i, Status: StatusConflict, ID: id, Errors: []pulse.FieldError{{
		Field: "external_id", Message: "was already used for an event with different content", Reason: "external_id.conflict",
	}}}
}
