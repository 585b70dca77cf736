package ingest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The OTLP/HTTP logs door: DecodeOTLPLogs reads an ExportLogsServiceRequest
// (protobuf or OTLP JSON) and OTLPEvents turns each log record into the
// event object the native API takes, so OTLP records go through the same
// validation, quotas and exactly-once as any batch (Service.Ingest). The
// mapping is documented in README.md, "OpenTelemetry".

// OTLP attribute names with a meaning here.
const (
	OTLPDefaultService = "unknown_service"
	OTLPDefaultType    = "log"
	// OTLPEventIDAttr is the record attribute whose string value becomes
	// the event's external_id (exactly-once on retries).
	OTLPEventIDAttr = "event.id"
)

// DecodeOTLPLogs decodes an ExportLogsServiceRequest body into the
// official logs.v1.LogsData, which the OTLP protos declare identical to it
// on the wire and in JSON (the collector package that declares the request
// links gRPC into the binary, +15 MB; TestDecodeOTLPLogs checks the two
// agree). The body is protobuf, or OTLP JSON when isJSON: protojson, with
// trace and span ids in hex as the OTLP spec has them and unknown fields
// ignored as the spec requires. An undecodable body is EBADREQUEST.
func DecodeOTLPLogs(body []byte, isJSON bool) (*logspb.LogsData, error) {
	req := &logspb.LogsData{}
	if !isJSON {
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (protobuf)")
		}
		return req, nil
	}
	// OTLP JSON has trace and span ids in hex where protojson expects
	// base64. Hex digits are base64 digits, so protojson takes them (as
	// other bytes); the ids are read here, typed — a few strings per
	// record, not a map per object — and set after it.
	var ids otlpJSONIDs
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ids); err != nil || dec.More() {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (JSON)")
	}
	var recs []otlpJSONRecord
	// (protojson refuses a name given in both spellings)
	for _, rl := range append(ids.ResourceLogs, ids.ResourceLogs2...) {
		for _, sl := range append(rl.ScopeLogs, rl.ScopeLogs2...) {
			recs = append(recs, sl.LogRecords...)
			recs = append(recs, sl.LogRecords2...)
		}
	}
	if len(recs) > OTLPMaxRecords {
		return nil, pulse.Errorf(pulse.ETOOLARGE, "the export holds %d log records, more than %d; send fewer records per export", len(recs), OTLPMaxRecords)
	}
	type hexIDs struct{ trace, span []byte }
	decoded := make([]hexIDs, len(recs))
	for i, r := range recs {
		for _, f := range []struct {
			name, hex string
			dst       *[]byte
		}{{"traceId", cmp.Or(r.TraceID, r.TraceID2), &decoded[i].trace}, {"spanId", cmp.Or(r.SpanID, r.SpanID2), &decoded[i].span}} {
			if f.hex == "" {
				continue
			}
			b, err := hex.DecodeString(f.hex)
			if err != nil {
				return nil, pulse.Errorf(pulse.EBADREQUEST, "a log record's %s is not hex", f.name)
			}
			*f.dst = b
		}
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, req); err != nil {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (JSON)")
	}
	all := OTLPRecords(req)
	if len(all) != len(recs) { // a key spelled in another case: seen by one decoder only
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (JSON)")
	}
	for i, r := range all {
		r.Log.TraceId, r.Log.SpanId = decoded[i].trace, decoded[i].span
	}
	return req, nil
}

// otlpJSONIDs is the part of an OTLP JSON export that holds the hex ids,
// under either spelling of each name (protojson accepts both).
type otlpJSONIDs struct {
	ResourceLogs  []otlpJSONResource `json:"resourceLogs"`
	ResourceLogs2 []otlpJSONResource `json:"resource_logs"`
}

type otlpJSONResource struct {
	ScopeLogs  []otlpJSONScope `json:"scopeLogs"`
	ScopeLogs2 []otlpJSONScope `json:"scope_logs"`
}

type otlpJSONScope struct {
	LogRecords  []otlpJSONRecord `json:"logRecords"`
	LogRecords2 []otlpJSONRecord `json:"log_records"`
}

type otlpJSONRecord struct {
	TraceID  string `json:"traceId"`
	TraceID2 string `json:"trace_id"`
	SpanID   string `json:"spanId"`
	SpanID2  string `json:"span_id"`
}

// otlpEvent is the native event object a record becomes.
type eventObject struct {
	EventType  string            `json:"event_type"`
	Severity   string            `json:"severity"`
	Service    string            `json:"service"`
	Endpoint   string            `json:"endpoint,omitempty"`
	StatusCode int               `json:"status_code,omitempty"`
	UserID     string            `json:"user_id,omitempty"`
	Message    string            `json:"message,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Timestamp  string            `json:"timestamp,omitempty"`
	ExternalID *string           `json:"external_id,omitempty"`
	Payload    map[string]any    `json:"payload,omitempty"`
}

// OTLPOptions change the mapping for one request.
type OTLPOptions struct {
	// EventTypeAttr names the record attribute that gives event_type when
	// the record has no event_name (default event.name).
	EventTypeAttr string
}

// OTLPMaxRecords is the most log records one export may hold; beyond it
// the export is refused whole (413). An empty record is 2 bytes on the
// wire but costs a decoded struct and an event object of its own, with
// its resource and scope attributes copied in, so the count — not the
// body size — bounds the memory an export costs. Exporters send 512
// records per export by default, the Collector's batch processor 8192.
// A protobuf export's resource and scope entries together are bounded by
// the same number.
const OTLPMaxRecords = 10_000

// CountOTLPRecords counts the log records of a protobuf
// ExportLogsServiceRequest, and its resource and scope entries (groups),
// without decoding it (resource_logs = 1, scope_logs = 2, log_records =
// 2), so an export with too many is refused before proto.Unmarshal
// allocates one struct for each. A body that is not well-formed protobuf
// is EBADREQUEST.
func CountOTLPRecords(body []byte) (records, groups int, err error) {
	err = otlpEachField(body, 1, func(rl []byte) error {
		groups++
		return otlpEachField(rl, 2, func(sl []byte) error {
			groups++
			return otlpEachField(sl, 2, func([]byte) error { records++; return nil })
		})
	})
	if err != nil {
		return 0, 0, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (protobuf)")
	}
	return records, groups, nil
}

// otlpEachField calls fn with the value of every length-delimited field
// num of the message b, skipping the other fields.
func otlpEachField(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
	}
	return nil
}

// OTLPRecord is one log record with the resource attributes and scope it
// is mapped with (pointers into the decoded request, nothing copied).
type OTLPRecord struct {
	Resource []*commonpb.KeyValue
	Scope    *commonpb.InstrumentationScope
	Log      *logspb.LogRecord
}

// HasEventID reports whether the record carries a non-empty event.id
// attribute (its event has an external_id: a retry is exactly-once).
func (r OTLPRecord) HasEventID() bool {
	s, ok := otlpString(r.Log.GetAttributes(), OTLPEventIDAttr)
	return ok && s != ""
}

// OTLPRecords lists the log records of req in order (resource by
// resource, scope by scope).
func OTLPRecords(req *logspb.LogsData) []OTLPRecord {
	var out []OTLPRecord
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				out = append(out, OTLPRecord{Resource: rl.GetResource().GetAttributes(), Scope: sl.GetScope(), Log: lr})
			}
		}
	}
	return out
}

// OTLPChunkEvents returns the event objects of recs, built only when the
// chunk is about to be ingested. Resource and scope attributes are copied
// into every record's event, so a small export can generate much more
// JSON than it has bytes: beyond maxBytes of event JSON (maxBytes <= 0:
// no bound) it stops and returns ETOOLARGE.
func OTLPChunkEvents(recs []OTLPRecord, opt OTLPOptions, maxBytes int) ([]json.RawMessage, int, error) {
	out := make([]json.RawMessage, 0, len(recs))
	total := 0
	for _, r := range recs {
		raw, err := json.Marshal(OTLPEvent(r.Resource, r.Scope, r.Log, opt))
		if err != nil { // not reachable: every value is JSON-safe
			raw = []byte(`null`)
		}
		total += len(raw)
		if maxBytes > 0 && total > maxBytes {
			return nil, 0, pulse.Errorf(pulse.ETOOLARGE, "the log records make more than %d bytes of events (resource and scope attributes are copied into every record); send fewer records per export", maxBytes)
		}
		out = append(out, raw)
	}
	return out, total, nil
}

// OTLPEvents returns one event object per log record of req, in order,
// without a bound (tests and small requests; the receiver uses
// OTLPChunkEvents).
func OTLPEvents(req *logspb.LogsData, opt OTLPOptions) []json.RawMessage {
	out, _, _ := OTLPChunkEvents(OTLPRecords(req), opt, 0)
	return out
}

// OTLPEvent maps one log record, with its resource attributes and scope,
// onto an event object (see README.md, "OpenTelemetry", for the table).
func OTLPEvent(res []*commonpb.KeyValue, scope *commonpb.InstrumentationScope, lr *logspb.LogRecord, opt OTLPOptions) *eventObject {
	rec := lr.GetAttributes()
	e := &eventObject{
		EventType: OTLPDefaultType,
		Severity:  string(OTLPSeverity(lr.GetSeverityNumber(), lr.GetSeverityText())),
		Service:   OTLPDefaultService,
	}
	if s, ok := otlpString(res, "service.name"); ok && s != "" {
		e.Service = s
	}
	payload := map[string]any{}
	// used: the record attributes mapped onto a field, not repeated as tags.
	used := map[string]bool{}
	typeAttr := cmp.Or(opt.EventTypeAttr, "event.name")
	if s := lr.GetEventName(); s != "" {
		e.EventType = s
	} else if s, ok := otlpString(rec, typeAttr); ok && s != "" {
		e.EventType, used[typeAttr] = s, true
	}
	if s, ok := otlpString(rec, OTLPEventIDAttr); ok {
		e.ExternalID, used[OTLPEventIDAttr] = &s, true
	}
	for _, k := range []string{"user.id", "enduser.id"} {
		if s, ok := otlpString(rec, k); ok && s != "" {
			e.UserID, used[k] = s, true
			break
		}
	}
	for _, k := range []string{"url.path", "http.route"} {
		if s, ok := otlpString(rec, k); ok && s != "" {
			e.Endpoint, used[k] = s, true
			break
		}
	}
	if v := otlpAttr(rec, "http.response.status_code"); v != nil {
		n, err := strconv.Atoi(fmt.Sprint(otlpJSONValue(v)))
		if err == nil && n >= 100 && n <= 599 {
			e.StatusCode, used["http.response.status_code"] = n, true
		}
	}
	if ts := otlpTime(lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano()); !ts.IsZero() {
		e.Timestamp = ts.Format(time.RFC3339Nano)
	}
	if b := lr.GetBody(); b != nil {
		if s, ok := b.GetValue().(*commonpb.AnyValue_StringValue); ok {
			e.Message = s.StringValue
			if len(e.Message) > pulse.MaxMessageBytes {
				// A long body (a stack trace) is kept whole in the payload;
				// the message is its first MaxMessageBytes (whole runes).
				payload["body"] = e.Message
				e.Message = strings.ToValidUTF8(e.Message[:pulse.MaxMessageBytes], "")
			}
		} else {
			payload["body"] = otlpJSONValue(b)
		}
	}

	tags := map[string]string{}
	if id := lr.GetTraceId(); len(id) == 16 && !allZero(id) {
		tags["trace_id"] = hex.EncodeToString(id)
	}
	if id := lr.GetSpanId(); len(id) == 8 && !allZero(id) {
		tags["span_id"] = hex.EncodeToString(id)
	}
	attrs := map[string]any{}
	// Record attributes first, then the scope's, then the resource's: the
	// first of a name wins, and tags are given out in that order.
	for i, list := range [][]*commonpb.KeyValue{rec, scope.GetAttributes(), res} {
		for _, kv := range list {
			k := kv.GetKey()
			if i == 0 && used[k] || i == 2 && k == "service.name" {
				continue // mapped onto a field
			}
			if _, seen := tags[k]; seen {
				continue
			}
			if _, seen := attrs[k]; seen {
				continue
			}
			if s, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok && len(tags) < pulse.MaxTags && tagFits(k, s.StringValue) {
				tags[k] = s.StringValue
				continue
			}
			attrs[k] = otlpJSONValue(kv.GetValue())
		}
	}
	if len(tags) > 0 {
		e.Tags = tags
	}
	if len(attrs) > 0 {
		payload["attributes"] = attrs
	}
	if n := lr.GetSeverityNumber(); n != 0 {
		payload["severity_number"] = int32(n)
	}
	if s := lr.GetSeverityText(); s != "" {
		payload["severity_text"] = s
	}
	if f := lr.GetFlags() & 0xff; f != 0 {
		payload["trace_flags"] = f
	}
	if n := lr.GetDroppedAttributesCount(); n != 0 {
		payload["dropped_attributes_count"] = n
	}
	if scope.GetName() != "" || scope.GetVersion() != "" {
		payload["scope"] = map[string]string{"name": scope.GetName(), "version": scope.GetVersion()}
	}
	if len(payload) > 0 {
		e.Payload = payload
	}
	return e
}

// OTLPSeverity maps a severity number (the OTLP ranges: 1-4 TRACE, 5-8
// DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL) onto the five
// levels; without a number, the severity text (case-insensitive); else info.
func OTLPSeverity(n logspb.SeverityNumber, text string) pulse.Severity {
	switch {
	case n >= 1 && n <= 8:
		return pulse.SeverityDebug
	case n >= 9 && n <= 12:
		return pulse.SeverityInfo
	case n >= 13 && n <= 16:
		return pulse.SeverityWarning
	case n >= 17 && n <= 20:
		return pulse.SeverityError
	case n >= 21 && n <= 24:
		return pulse.SeverityCritical
	}
	return SeverityFromText(text)
}

// SeverityFromText maps a level name (case-insensitive: trace, debug,
// info, notice, warn, error, fatal, crit, alert, emerg, panic…) onto the
// five levels; an unknown or empty name is info.
func SeverityFromText(text string) pulse.Severity {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "trace", "debug":
		return pulse.SeverityDebug
	case "warn", "warning":
		return pulse.SeverityWarning
	case "error", "err":
		return pulse.SeverityError
	case "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic":
		return pulse.SeverityCritical
	}
	return pulse.SeverityInfo
}

// otlpTime is the record's time, else its observed time, else zero (the
// receive time is then used).
func otlpTime(unixNano, observed uint64) time.Time {
	for _, n := range []uint64{unixNano, observed} {
		if n != 0 {
			return time.Unix(int64(n/1e9), int64(n%1e9)).UTC()
		}
	}
	return time.Time{}
}

// tagFits reports whether k: v is within the tag rules (pulse.checkTags).
func tagFits(k, v string) bool {
	return k != "" && utf8.RuneCountInString(k) <= pulse.MaxTagKeyLen && utf8.RuneCountInString(v) <= pulse.MaxTagValueLen &&
		!strings.ContainsRune(k, ':') && !strings.ContainsRune(k, 0) && !strings.ContainsRune(v, 0)
}

func otlpAttr(list []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range list {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

func otlpString(list []*commonpb.KeyValue, key string) (string, bool) {
	s, ok := otlpAttr(list, key).GetValue().(*commonpb.AnyValue_StringValue)
	if !ok {
		return "", false
	}
	return s.StringValue, true
}

// otlpJSONValue turns an AnyValue into plain JSON: objects for key-value
// lists, arrays, numbers (NaN and infinities as strings), base64 for
// bytes, null for an empty value.
func otlpJSONValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, otlpJSONValue(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			if _, seen := out[kv.GetKey()]; !seen {
				out[kv.GetKey()] = otlpJSONValue(kv.GetValue())
			}
		}
		return out
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
