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
	"google.golang.org/protobuf/proto"

	"pulsestream/internal/pulse"
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
	body, err := otlpHexIDsToBase64(body)
	if err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, req); err != nil {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not an OTLP ExportLogsServiceRequest (JSON)")
	}
	return req, nil
}

// otlpHexIDsToBase64 rewrites the traceId and spanId of each log record
// from hex (OTLP JSON) to base64 (protojson's form for bytes).
func otlpHexIDsToBase64(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are written back exactly as sent
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not valid JSON")
	}
	changed := false
	for _, rl := range otlpList(doc, "resourceLogs", "resource_logs") {
		for _, sl := range otlpList(rl, "scopeLogs", "scope_logs") {
			for _, lr := range otlpList(sl, "logRecords", "log_records") {
				rec, _ := lr.(map[string]any)
				for _, k := range []string{"traceId", "trace_id", "spanId", "span_id"} {
					s, ok := rec[k].(string)
					if !ok || s == "" {
						continue
					}
					b, err := hex.DecodeString(s)
					if err != nil {
						return nil, pulse.Errorf(pulse.EBADREQUEST, "a log record's %s is not hex", k)
					}
					rec[k] = base64.StdEncoding.EncodeToString(b)
					changed = true
				}
			}
		}
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(doc)
}

// otlpList returns the array under the first present key of obj.
func otlpList(obj any, keys ...string) []any {
	m, _ := obj.(map[string]any)
	for _, k := range keys {
		if l, ok := m[k].([]any); ok {
			return l
		}
	}
	return nil
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

// OTLPEvents returns one event object per log record of req, in order
// (resource by resource, scope by scope).
func OTLPEvents(req *logspb.LogsData, opt OTLPOptions) []json.RawMessage {
	var out []json.RawMessage
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				raw, err := json.Marshal(OTLPEvent(rl.GetResource().GetAttributes(), sl.GetScope(), lr, opt))
				if err != nil { // not reachable: every value is JSON-safe
					raw = []byte(`null`)
				}
				out = append(out, raw)
			}
		}
	}
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
