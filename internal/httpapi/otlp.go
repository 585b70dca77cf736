package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The OTLP/HTTP logs receiver (POST /v1/logs): answers follow the OTLP
// spec — 200 with an ExportLogsServiceResponse (partial_success naming the
// records not taken), 429/503 with Retry-After when nothing was taken,
// other 4xx/5xx with a google.rpc.Status — each in the request's format.

// otlpMaxProblems is how many problems the error_message names.
const otlpMaxProblems = 3

// grpcCodes maps an HTTP status onto the google.rpc.Code of the Status body.
var grpcCodes = map[int]int32{
	http.StatusBadRequest: 3, http.StatusUnauthorized: 16, http.StatusForbidden: 7, http.StatusNotFound: 5,
	http.StatusRequestEntityTooLarge: 3, http.StatusUnsupportedMediaType: 3, http.StatusUnprocessableEntity: 3,
	http.StatusTooManyRequests: 8, http.StatusServiceUnavailable: 14, http.StatusInsufficientStorage: 8,
}

func (s *Server) postOTLPLogs(w http.ResponseWriter, r *http.Request) {
	var isJSON bool
	switch mediaType(r) {
	case "application/x-protobuf", "application/protobuf":
	case "application/json":
		isJSON = true
	default:
		s.writeError(w, r, pulse.Errorf(pulse.EUNSUPPORTED, "Content-Type must be application/x-protobuf or application/json"))
		return
	}
	l, release := s.bodyLease(r)
	defer release()
	body, err := readBody(r, s.MaxBodyBytes, l)
	if err != nil {
		s.writeOTLPError(w, r, isJSON, err)
		return
	}
	if !isJSON {
		// Counted on the wire, before decoding allocates a struct per record.
		n, groups, err := ingest.CountOTLPRecords(body)
		if err == nil && (n > ingest.OTLPMaxRecords || groups > ingest.OTLPMaxRecords) {
			err = tooManyOTLPRecords(max(n, groups))
		}
		if err != nil {
			s.writeOTLPError(w, r, isJSON, err)
			return
		}
	}
	req, err := ingest.DecodeOTLPLogs(body, isJSON)
	if err != nil {
		s.writeOTLPError(w, r, isJSON, err)
		return
	}
	recs := ingest.OTLPRecords(req)
	if len(recs) > ingest.OTLPMaxRecords {
		s.writeOTLPError(w, r, isJSON, tooManyOTLPRecords(len(recs)))
		return
	}
	opt := ingest.OTLPOptions{EventTypeAttr: r.URL.Query().Get("event_type_attribute")}
	// A chunk's event JSON may be far larger than the body (resource and
	// scope attributes are copied into every record): it is bounded like a
	// body's decoded form and charged to the decode budget while it lives.
	maxChunkBytes := int(min(s.MaxBodyBytes*DecodeAmplification, math.MaxInt32))
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	t := tenantFrom(ctx)

	// An export may hold more records than a batch: it is ingested in
	// chunks of MaxBatchEvents (exporters batch up to 512 records, the
	// Collector's batch processor up to 8192 by default), each chunk's
	// events built only when it is ingested.
	var (
		taken, rejected, limited int
		problems                 []string
		quota                    pulse.Quota
	)
	for start := 0; start < len(recs); start += s.MaxBatchEvents {
		chunk, size, err := ingest.OTLPChunkEvents(recs[start:min(start+s.MaxBatchEvents, len(recs))], opt, maxChunkBytes)
		if err == nil {
			err = l.chargeMemory(size)
		}
		var out *ingest.Outcome
		if err == nil {
			out, err = s.ingest.Ingest(ctx, t, chunk)
			l.giveBack(size)
		}
		if err != nil {
			if taken == 0 || s.otlpRetryable(r, err) && allHaveEventID(recs) {
				// Nothing stored yet, or a retry is exactly-once: the
				// exporter resends the whole export and the records
				// stored already answer duplicate.
				s.writeOTLPError(w, r, isJSON, err)
				return
			}
			// Earlier chunks are stored and the records carry no event.id:
			// a retry would store those again, so the rest is reported as
			// not taken. (The error's Retry-After does not go on this 200.)
			_, status, msg := s.errorStatus(&discardWriter{header: http.Header{}}, r, err)
			rejected += len(recs) - start
			p := fmt.Sprintf("log records %d-%d: %s (%d)", start, len(recs)-1, msg, status)
			if s.otlpRetryable(r, err) {
				p = fmt.Sprintf("log records %d-%d (%d records) were not stored because the server was unavailable (%s, %d); they cannot be retried safely without the %s attribute on every record",
					start, len(recs)-1, len(recs)-start, msg, status, ingest.OTLPEventIDAttr)
			}
			problems = append(problems, p)
			break
		}
		quota = out.Quota
		taken += out.Accepted + out.Duplicates
		rejected += out.Rejected
		limited += out.RateLimited
		for _, res := range out.Results {
			if len(problems) < otlpMaxProblems && (res.Status == ingest.StatusRejected || res.Status == ingest.StatusConflict) {
				problems = append(problems, otlpProblem(start+res.Index, res.Errors))
			}
		}
	}
	setQuotaHeaders(w, quota)
	if limited > 0 && taken == 0 {
		s.writeOTLPError(w, r, isJSON, rateLimited(quota, fmt.Sprintf("the tenant's events-per-minute quota is used up; no log record of the export was stored (%d over quota, %d invalid)", limited, rejected)))
		return
	}
	if limited > 0 {
		problems = append(problems, fmt.Sprintf("%d log records over the tenant's events-per-minute quota", limited))
	}
	writeOTLPBody(w, http.StatusOK, isJSON, otlpResponse(isJSON, int64(rejected+limited), strings.Join(problems, "; ")))
}

// tooManyOTLPRecords is the answer to an export beyond OTLPMaxRecords.
func tooManyOTLPRecords(n int) error {
	return pulse.Errorf(pulse.ETOOLARGE, "the export holds %d log records (or resource and scope entries), more than %d; send fewer records per export", n, ingest.OTLPMaxRecords)
}

// otlpRetryable reports whether err is an answer the exporter retries
// (429, 503): the server could not take the records, not a refusal of them.
func (s *Server) otlpRetryable(r *http.Request, err error) bool {
	_, status, _ := s.errorStatus(&discardWriter{header: http.Header{}}, r, err)
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// allHaveEventID reports whether every record carries event.id, so that
// resending the whole export stores each record once.
func allHaveEventID(recs []ingest.OTLPRecord) bool {
	for _, r := range recs {
		if !r.HasEventID() {
			return false
		}
	}
	return true
}

// otlpResponse encodes an ExportLogsServiceResponse with a partial_success
// when rejected > 0 (an empty response otherwise). It is written here, with
// protowire, because the collector package that declares the message links
// gRPC into the binary (+15 MB); TestOTLPResponse decodes it with the
// official type.
func otlpResponse(isJSON bool, rejected int64, msg string) []byte {
	if isJSON {
		if rejected == 0 {
			return []byte("{}")
		}
		data, _ := json.Marshal(map[string]any{"partialSuccess": map[string]string{
			"rejectedLogRecords": strconv.FormatInt(rejected, 10), "errorMessage": msg}})
		return data
	}
	if rejected == 0 {
		return nil
	}
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType) // rejected_log_records
	ps = protowire.AppendVarint(ps, uint64(rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType) // error_message
	ps = protowire.AppendString(ps, msg)
	out := protowire.AppendTag(nil, 1, protowire.BytesType) // partial_success
	return protowire.AppendBytes(out, ps)
}

// otlpProblem describes why record i was refused.
func otlpProblem(i int, errs []pulse.FieldError) string {
	if len(errs) == 0 {
		return fmt.Sprintf("log record %d: refused", i)
	}
	fe := errs[0]
	if fe.Field == "external_id" {
		fe.Field = "external_id (attribute " + ingest.OTLPEventIDAttr + ")"
	}
	return fmt.Sprintf("log record %d: %s %s (%s)", i, fe.Field, fe.Message, fe.Reason)
}

// writeOTLPError answers err with a google.rpc.Status in the request's
// format, with the status and Retry-After of the one error writer.
func (s *Server) writeOTLPError(w http.ResponseWriter, r *http.Request, isJSON bool, err error) {
	_, status, msg := s.errorStatus(w, r, err)
	code, ok := grpcCodes[status]
	if !ok {
		code = 13 // INTERNAL
	}
	writeOTLP(w, status, isJSON, &spb.Status{Code: code, Message: msg})
}

func writeOTLP(w http.ResponseWriter, status int, isJSON bool, m proto.Message) {
	var (
		data []byte
		err  error
	)
	if isJSON {
		data, err = protojson.Marshal(m)
	} else {
		data, err = proto.Marshal(m)
	}
	if err != nil { // not reachable for these messages
		status, data = http.StatusInternalServerError, nil
	}
	writeOTLPBody(w, status, isJSON, data)
}

func writeOTLPBody(w http.ResponseWriter, status int, isJSON bool, data []byte) {
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
