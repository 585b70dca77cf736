package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// setQuotaHeaders writes the classic X-RateLimit-* headers and the IETF
// draft's RateLimit-Policy / RateLimit pair.
func setQuotaHeaders(w http.ResponseWriter, q pulse.Quota) {
	if q.Limit <= 0 {
		return
	}
	remaining := max(q.Remaining, 0)
	reset := int((q.Reset + time.Second - 1) / time.Second)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(reset))
	h.Set("RateLimit-Policy", fmt.Sprintf(`"events";q=%d;w=60`, q.Limit))
	h.Set("RateLimit", fmt.Sprintf(`"events";r=%d;t=%d`, remaining, reset))
}

func rateLimited(q pulse.Quota, msg string) *pulse.Error {
	return &pulse.Error{Code: pulse.ERATELIMITED, Message: msg, RetryAfter: q.RetryAfter}
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	l, release := s.bodyLease(r)
	defer release()
	body, err := readJSONBody(r, s.MaxBodyBytes, l)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !json.Valid(body) {
		s.writeError(w, r, pulse.Errorf(pulse.EBADREQUEST, "the body is not valid JSON"))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	out, err := s.ingest.Ingest(ctx, tenantFrom(ctx), []json.RawMessage{body})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setQuotaHeaders(w, out.Quota)
	res := out.Results[0]
	switch res.Status {
	case ingest.StatusCreated:
		writeJSON(w, http.StatusCreated, map[string]string{"id": res.ID, "status": res.Status})
	case ingest.StatusAccepted: // log mode: durable in the ingest log, stored shortly
		writeJSON(w, http.StatusAccepted, map[string]string{"id": res.ID, "status": res.Status})
	case ingest.StatusDuplicate:
		writeJSON(w, http.StatusOK, map[string]string{"id": res.ID, "status": res.Status})
	case ingest.StatusConflict:
		s.writeError(w, r, &pulse.Error{Code: pulse.ECONFLICT, Message: "external_id was already used for an event with different content", ID: res.ID, Fields: res.Errors})
	case ingest.StatusRateLimited:
		s.writeError(w, r, rateLimited(out.Quota, "the tenant's events-per-minute quota is used up"))
	default:
		if out.BadRequest != nil {
			s.writeError(w, r, out.BadRequest)
			return
		}
		s.writeError(w, r, pulse.Invalid(res.Errors...))
	}
}

type batchResponse struct {
	Accepted    int             `json:"accepted"`
	Duplicates  int             `json:"duplicates"`
	Rejected    int             `json:"rejected"`
	RateLimited int             `json:"rate_limited"`
	Results     []ingest.Result `json:"results"`
}

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	l, release := s.bodyLease(r)
	defer release()
	decode := ingest.DecodeBatch
	var body []byte
	var err error
	if mediaType(r) == "application/x-ndjson" { // one event per line (issue 17)
		decode = ingest.DecodeNDJSON
		body, err = readUTF8Body(r, s.MaxBodyBytes, l)
	} else {
		body, err = readJSONBody(r, s.MaxBodyBytes, l)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := decode(body, s.MaxBatchEvents)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	out, err := s.ingest.Ingest(ctx, tenantFrom(ctx), events)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setQuotaHeaders(w, out.Quota)
	resp := batchResponse{Accepted: out.Accepted, Duplicates: out.Duplicates, Rejected: out.Rejected, RateLimited: out.RateLimited, Results: out.Results}
	if out.RateLimited > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(out.Quota.RetryAfter)))
	}
	switch {
	case out.RateLimited > 0 && out.Accepted == 0 && out.Duplicates == 0:
		s.writeProblem(w, r, rateLimited(out.Quota, "the tenant's events-per-minute quota is used up; no event of the batch was stored"), map[string]any{
			"accepted": resp.Accepted, "duplicates": resp.Duplicates, "rejected": resp.Rejected, "rate_limited": resp.RateLimited, "results": resp.Results,
		})
	case out.Rejected == len(out.Results):
		writeJSON(w, http.StatusUnprocessableEntity, resp)
	case s.ingest.LogMode() && out.Accepted > 0:
		writeJSON(w, http.StatusAccepted, resp) // durable in the ingest log, stored shortly
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !pulse.ValidID(id) {
		s.writeError(w, r, pulse.Errorf(pulse.ENOTFOUND, "event not found"))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	e, err := s.store.GetEvent(ctx, tenantFrom(ctx).ID, id)
	if pulse.IsNotFound(err) {
		s.writeError(w, r, pulse.Errorf(pulse.ENOTFOUND, "event not found"))
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

type searchResponse struct {
	Events     []*pulse.Event `json:"events"`
	NextCursor *string        `json:"next_cursor"`
}

func (s *Server) searchEvents(w http.ResponseWriter, r *http.Request) {
	f, err := pulse.ParseEventFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := searchResponse{Events: []*pulse.Event{}}
	if !f.NoMatch {
		ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
		defer cancel()
		limit := f.Limit
		f.Limit++ // one more tells whether there is a next page
		var events []*pulse.Event
		var resume *pulse.Cursor // where a q= scan stopped short (its page may be short)
		var err error
		if len(f.Text) > 0 {
			events, resume, err = pulse.SearchText(ctx, s.store, tenantFrom(ctx).ID, f, pulse.MaxTextScan)
		} else {
			events, err = s.store.SearchEvents(ctx, tenantFrom(ctx).ID, f)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(events) > limit {
			events = events[:limit]
			c := pulse.CursorAfter(events[limit-1]).Encode()
			resp.NextCursor = &c
		} else if resume != nil {
			c := resume.Encode()
			resp.NextCursor = &c
		}
		resp.Events = events
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) eventHistogram(w http.ResponseWriter, r *http.Request) {
	q, err := pulse.ParseHistogramQuery(r.URL.Query(), s.clock.Now(), pulse.MaxHistogramBuckets)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	rows, err := s.store.EventHistogram(ctx, tenantFrom(ctx).ID, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pulse.BuildHistogram(q, rows))
}
