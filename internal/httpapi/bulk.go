package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The Elasticsearch bulk API for log shippers, under
// /api/v1/ingest/elasticsearch: _bulk (the NDJSON body → one item per
// action with its own status, so a shipper retries only what must be
// retried), and the small answers shippers' version and health checks
// expect. Every answer carries X-Elastic-Product, which the official
// clients check. README.md, "Elasticsearch bulk API (log shippers)",
// documents the mapping and the statuses.

// esPrefix is where the Elasticsearch-compatible routes live.
const esPrefix = "/api/v1/ingest/elasticsearch"

// esVersion is the Elasticsearch version announced to shippers.
const esVersion = "8.11.0"

func (s *Server) esRoutes() {
	post := func(h http.HandlerFunc) http.HandlerFunc {
		return esProduct(s.require(pulse.ActIngest, s.verifySigned(h)))
	}
	get := func(h http.HandlerFunc) http.HandlerFunc { return esProduct(s.require(pulse.ActIngest, h)) }
	s.handle("POST "+esPrefix+"/_bulk", post(s.postBulk))
	s.handle("POST "+esPrefix+"/{index}/_bulk", post(s.postBulk))
	// GET also answers HEAD; the trailing-slash form is the same route
	// (clients append "/" to the base URL).
	s.handle("GET "+esPrefix, get(esInfo))
	s.mux.HandleFunc("GET "+esPrefix+"/{$}", get(esInfo))
	s.handle("GET "+esPrefix+"/_cluster/health", get(esHealth))
}

// esProduct marks every answer, refusals included, as Elasticsearch's.
func esProduct(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		h(w, r)
	}
}

func esInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "pulsestream", "cluster_name": "pulsestream",
		"version": map[string]any{
			"number": esVersion, "build_flavor": "default", "build_type": "pulsestream",
			"lucene_version": "9.8.0", "minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
}

func esHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"cluster_name": "pulsestream", "status": "green", "timed_out": false})
}

// bulkResponse is the answer shippers parse.
type bulkResponse struct {
	Took   int64                        `json:"took"`
	Errors bool                         `json:"errors"`
	Items  []map[string]*bulkItemResult `json:"items"`
}

type bulkItemResult struct {
	Index   string            `json:"_index"`
	ID      string            `json:"_id,omitempty"`
	Version int               `json:"_version,omitempty"`
	Result  string            `json:"result,omitempty"`
	Status  int               `json:"status"`
	Error   *ingest.BulkError `json:"error,omitempty"`
}

func (s *Server) postBulk(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	switch mediaType(r) {
	case "", "application/json", "application/x-ndjson", "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
	default:
		s.writeESError(w, r, pulse.Errorf(pulse.EUNSUPPORTED, "Content-Type must be application/x-ndjson or application/json"))
		return
	}
	l := s.decode.lease(tenantFrom(r.Context()).ID)
	defer l.release()
	body, err := readBody(r, s.MaxBodyBytes, l)
	if err == nil && !utf8.Valid(body) {
		err = pulse.Errorf(pulse.EBADREQUEST, "the body is not valid UTF-8")
	}
	if err != nil {
		s.writeESError(w, r, err)
		return
	}
	qp := r.URL.Query()
	items, err := ingest.DecodeBulk(body, ingest.BulkOptions{
		Index: r.PathValue("index"), ServiceField: qp.Get("service_field"),
		EventTypeField: qp.Get("event_type_field"), ExternalIDField: qp.Get("external_id_field"),
	})
	if err != nil {
		s.writeESError(w, r, err)
		return
	}
	resp := bulkResponse{Items: make([]map[string]*bulkItemResult, len(items))}
	results := make([]*bulkItemResult, len(items)) // resp.Items' values
	var (
		raws []json.RawMessage
		at   []int // the item of each raw
	)
	for i, it := range items {
		res := &bulkItemResult{Index: it.Index, ID: it.ID}
		if it.Err != nil {
			res.Status, res.Error = http.StatusBadRequest, it.Err
		} else {
			raws, at = append(raws, it.Event), append(at, i)
		}
		results[i], resp.Items[i] = res, map[string]*bulkItemResult{it.Op: res}
	}

	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	t := tenantFrom(ctx)
	var (
		quota   pulse.Quota
		limited bool
	)
	// A bulk request may hold more documents than a batch (Filebeat sends
	// up to 1600): it is ingested in chunks of MaxBatchEvents.
	for first := 0; first < len(raws); first += s.MaxBatchEvents {
		chunk := raws[first:min(first+s.MaxBatchEvents, len(raws))]
		out, err := s.ingest.Ingest(ctx, t, chunk)
		if err != nil {
			if first == 0 {
				s.writeESError(w, r, err) // nothing stored: the shipper retries it all
				return
			}
			// Earlier chunks are stored; the rest get the error's status
			// (a retry of them is safe: each item is retried alone).
			_, status, msg := s.errorStatus(&discardWriter{header: http.Header{}}, r, err)
			for _, i := range at[first:] {
				res := results[i]
				res.Status, res.Error = status, &ingest.BulkError{Type: esErrorType(status), Reason: msg}
			}
			break
		}
		quota = out.Quota
		for _, res := range out.Results {
			setBulkResult(results[at[first+res.Index]], res, out.Quota)
			limited = limited || res.Status == ingest.StatusRateLimited
		}
	}
	setQuotaHeaders(w, quota)
	if limited {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(quota.RetryAfter)))
	}
	for _, res := range results {
		resp.Errors = resp.Errors || res.Status >= 300
	}
	resp.Took = time.Since(start).Milliseconds()
	writeJSON(w, http.StatusOK, resp)
}

// setBulkResult writes the outcome of one event into its item, as
// Elasticsearch would: created 201; a duplicate (the _id was stored with
// the same content) 200 "noop", which shippers count as done; a conflict
// (other content) 409; invalid 400; over quota 429, which shippers retry.
func setBulkResult(item *bulkItemResult, res ingest.Result, q pulse.Quota) {
	if item.ID == "" {
		item.ID = res.ID
	}
	switch res.Status {
	case ingest.StatusCreated:
		item.Status, item.Result, item.Version = http.StatusCreated, "created", 1
	case ingest.StatusDuplicate:
		item.Status, item.Result, item.Version = http.StatusOK, "noop", 1
	case ingest.StatusConflict:
		item.Status = http.StatusConflict
		item.Error = &ingest.BulkError{Type: "version_conflict_engine_exception",
			Reason: fmt.Sprintf("[%s]: version conflict, an event with this id was stored with different content", item.ID)}
	case ingest.StatusRateLimited:
		item.Status = http.StatusTooManyRequests
		item.Error = &ingest.BulkError{Type: "es_rejected_execution_exception",
			Reason: fmt.Sprintf("the tenant's events-per-minute quota is used up; retry in %d s", retrySeconds(q.RetryAfter))}
	default:
		item.Status = http.StatusBadRequest
		reason := "the document is not a valid event"
		if len(res.Errors) > 0 {
			fe := res.Errors[0]
			reason = fmt.Sprintf("failed to parse field [%s]: %s (%s)", fe.Field, fe.Message, fe.Reason)
		}
		item.Error = &ingest.BulkError{Type: ingest.BulkErrMapperParsing, Reason: reason}
	}
}

// esErrorTypes name a whole-request refusal as Elasticsearch would.
var esErrorTypes = map[int]string{
	http.StatusBadRequest: "parse_exception", http.StatusUnauthorized: "security_exception", http.StatusForbidden: "security_exception",
	http.StatusRequestTimeout: "timeout_exception", http.StatusRequestEntityTooLarge: "content_too_long_exception",
	http.StatusUnsupportedMediaType: "media_type_header_exception", http.StatusTooManyRequests: "es_rejected_execution_exception",
	http.StatusServiceUnavailable: "unavailable_shards_exception",
}

func esErrorType(status int) string {
	if t, ok := esErrorTypes[status]; ok {
		return t
	}
	return "exception"
}

// writeESError answers err in Elasticsearch's error format, with the
// status and Retry-After of the one error writer.
func (s *Server) writeESError(w http.ResponseWriter, r *http.Request, err error) {
	_, status, msg := s.errorStatus(w, r, err)
	cause := map[string]string{"type": esErrorType(status), "reason": msg}
	writeJSON(w, status, map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": cause["type"], "reason": msg},
		"status": status,
	})
}
