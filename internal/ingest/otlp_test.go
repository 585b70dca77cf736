package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func TestOTLPSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    logspb.SeverityNumber
		text string
		want pulse.Severity
	}{
		{1, "", pulse.SeverityDebug}, {4, "", pulse.SeverityDebug}, // TRACE
		{5, "", pulse.SeverityDebug}, {8, "", pulse.SeverityDebug}, // DEBUG
		{9, "", pulse.SeverityInfo}, {12, "", pulse.SeverityInfo},
		{13, "", pulse.SeverityWarning}, {16, "", pulse.SeverityWarning},
		{17, "", pulse.SeverityError}, {20, "", pulse.SeverityError},
		{21, "", pulse.SeverityCritical}, {24, "", pulse.SeverityCritical},
		{17, "info", pulse.SeverityError}, // the number wins
		{0, "WARN", pulse.SeverityWarning}, {0, " Error ", pulse.SeverityError}, {0, "fatal", pulse.SeverityCritical},
		{0, "trace", pulse.SeverityDebug}, {0, "notice", pulse.SeverityInfo}, {0, "", pulse.SeverityInfo},
		{25, "", pulse.SeverityInfo}, {-1, "error", pulse.SeverityError}, // out of range: the text, else info
	}
	for _, tt := range tests {
		if got := OTLPSeverity(tt.n, tt.text); got != tt.want {
			t.Errorf("OTLPSeverity(%d, %q) = %s, want %s", tt.n, tt.text, got, tt.want)
		}
	}
}

func TestOTLPTimestamp(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 5, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name           string
		time, observed uint64
		want           string
	}{
		{"time", uint64(at.UnixNano()), uint64(at.Add(time.Second).UnixNano()), "2026-12-04T05:00:00.123456789Z"},
		{"observed when no time", 0, uint64(at.UnixNano()), "2026-12-04T05:00:00.123456789Z"},
		{"receive time when neither", 0, 0, ""},
	}
	for _, tt := range tests {
		e := OTLPEvent(nil, nil, &logspb.LogRecord{TimeUnixNano: tt.time, ObservedTimeUnixNano: tt.observed}, OTLPOptions{})
		if e.Timestamp != tt.want {
			t.Errorf("%s: timestamp %q, want %q", tt.name, e.Timestamp, tt.want)
		}
	}
}

func TestOTLPFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resource []*commonpb.KeyValue
		rec      *logspb.LogRecord
		opt      OTLPOptions
		check    func(e *eventObject) string
	}{
		{"defaults", nil, &logspb.LogRecord{}, OTLPOptions{}, func(e *eventObject) string {
			if e.Service != OTLPDefaultService || e.EventType != "log" || e.Severity != "info" || e.ExternalID != nil || e.Tags != nil || e.Payload != nil {
				return fmt.Sprintf("%+v", e)
			}
			return ""
		}},
		{"event.name attribute, enduser.id, url.path over http.route, status as string", []*commonpb.KeyValue{kv("service.name", str("svc"))},
			&logspb.LogRecord{Attributes: []*commonpb.KeyValue{kv("event.name", str("a.b")), kv("enduser.id", str("u")), kv("http.route", str("/r/{id}")), kv("url.path", str("/r/1")), kv("http.response.status_code", str("503"))}}, OTLPOptions{},
			func(e *eventObject) string {
				if e.Service != "svc" || e.EventType != "a.b" || e.UserID != "u" || e.Endpoint != "/r/1" || e.StatusCode != 503 || e.Tags["http.route"] != "/r/{id}" {
					return fmt.Sprintf("%+v", e)
				}
				return ""
			}},
		{"event_name field over attribute; bad status kept in payload", nil,
			&logspb.LogRecord{EventName: "x", Attributes: []*commonpb.KeyValue{kv("event.name", str("y")), kv("http.response.status_code", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}})}}, OTLPOptions{},
			func(e *eventObject) string {
				attrs, _ := e.Payload["attributes"].(map[string]any)
				if e.EventType != "x" || e.Tags["event.name"] != "y" || e.StatusCode != 0 || attrs["http.response.status_code"] != int64(42) {
					return fmt.Sprintf("%+v", e)
				}
				return ""
			}},
		{"event.id is external_id, even empty (then refused by validation)", nil,
			&logspb.LogRecord{Attributes: []*commonpb.KeyValue{kv(OTLPEventIDAttr, str(""))}}, OTLPOptions{},
			func(e *eventObject) string {
				if e.ExternalID == nil || *e.ExternalID != "" {
					return fmt.Sprintf("%+v", e)
				}
				return ""
			}},
		{"record attribute wins over resource", []*commonpb.KeyValue{kv("env", str("res"))},
			&logspb.LogRecord{Attributes: []*commonpb.KeyValue{kv("env", str("rec"))}}, OTLPOptions{},
			func(e *eventObject) string {
				if e.Tags["env"] != "rec" || e.Payload != nil {
					return fmt.Sprintf("%+v", e)
				}
				return ""
			}},
		{"configured event type attribute", nil,
			&logspb.LogRecord{Attributes: []*commonpb.KeyValue{kv("event.name", str("x")), kv("log.kind", str("audit"))}}, OTLPOptions{EventTypeAttr: "log.kind"},
			func(e *eventObject) string {
				if e.EventType != "audit" || e.Tags["event.name"] != "x" || e.Tags["log.kind"] != "" {
					return fmt.Sprintf("%+v", e)
				}
				return ""
			}},
	}
	for _, tt := range tests {
		if msg := tt.check(OTLPEvent(tt.resource, nil, tt.rec, tt.opt)); msg != "" {
			t.Errorf("%s: %s", tt.name, msg)
		}
	}
}

// TestOTLPAttributeLimits: only strings within the tag rules become tags,
// at most MaxTags of them; the rest is kept in payload.attributes.
func TestOTLPAttributeLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", pulse.MaxTagValueLen+1)
	tests := []struct {
		name    string
		attr    *commonpb.KeyValue
		tag     bool
		payload any
	}{
		{"string", kv("k", str("v")), true, nil},
		{"value at the limit", kv("k", str(long[1:])), true, nil},
		{"value too long", kv("k", str(long)), false, long},
		{"key too long", kv(strings.Repeat("k", pulse.MaxTagKeyLen+1), str("v")), false, "v"},
		{"key with a colon", kv("a:b", str("v")), false, "v"},
		{"empty key", kv("", str("v")), false, "v"},
		{"int", kv("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 7}}), false, int64(7)},
		{"bool", kv("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}), false, true},
		{"NaN", kv("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.NaN()}}), false, "NaN"},
		{"bytes", kv("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1, 2}}}), false, "AQI="},
		{"empty value", kv("k", nil), false, nil},
	}
	for _, tt := range tests {
		e := OTLPEvent(nil, nil, &logspb.LogRecord{Attributes: []*commonpb.KeyValue{tt.attr}}, OTLPOptions{})
		_, isTag := e.Tags[tt.attr.Key]
		attrs, _ := e.Payload["attributes"].(map[string]any)
		got, inPayload := attrs[tt.attr.Key]
		if isTag != tt.tag || inPayload == tt.tag || fmt.Sprint(got) != fmt.Sprint(tt.payload) {
			t.Errorf("%s: tag %v, payload %v (%v); want tag %v, payload %v", tt.name, isTag, inPayload, got, tt.tag, tt.payload)
		}
	}

	// 60 string attributes: the first MaxTags (record order) are tags.
	var many []*commonpb.KeyValue
	for i := range 60 {
		many = append(many, kv(fmt.Sprintf("k%02d", i), str("v")))
	}
	e := OTLPEvent(nil, nil, &logspb.LogRecord{Attributes: many}, OTLPOptions{})
	attrs, _ := e.Payload["attributes"].(map[string]any)
	if len(e.Tags) != pulse.MaxTags || len(attrs) != 60-pulse.MaxTags || e.Tags["k49"] != "v" || attrs["k50"] != "v" {
		t.Errorf("60 attributes: %d tags, %d in payload", len(e.Tags), len(attrs))
	}
	// And the event passes validation.
	raw, _ := json.Marshal(e)
	if _, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: time.Now()}); err != nil {
		t.Errorf("60 attributes: %v", err)
	}
}

// TestOTLPBodies: a string body is the message; any other body is kept as
// JSON in payload.body.
func TestOTLPBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    *commonpb.AnyValue
		message string
		payload string // payload.body as JSON; "" for none
	}{
		{"string", str("hello"), "hello", ""},
		{"int", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -3}}, "", `-3`},
		{"double", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}, "", `1.5`},
		{"+Inf", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(1)}}, "", `"+Inf"`},
		{"array", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("a"), {Value: &commonpb.AnyValue_BoolValue{}}}}}}, "", `["a",false]`},
		{"map, first key wins", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{kv("a", str("1")), kv("a", str("2")), kv("n", nil)}}}}, "", `{"a":"1","n":null}`},
		{"empty", &commonpb.AnyValue{}, "", `null`},
		{"string over the message limit", str(strings.Repeat("a", pulse.MaxMessageBytes-1) + "é"), strings.Repeat("a", pulse.MaxMessageBytes-1), `"` + strings.Repeat("a", pulse.MaxMessageBytes-1) + `é"`},
	}
	for _, tt := range tests {
		e := OTLPEvent(nil, nil, &logspb.LogRecord{Body: tt.body}, OTLPOptions{})
		got := ""
		if b, ok := e.Payload["body"]; ok {
			data, _ := json.Marshal(b)
			got = string(data)
		}
		if e.Message != tt.message || got != tt.payload {
			t.Errorf("%s: message %q payload.body %s; want %q %s", tt.name, e.Message, got, tt.message, tt.payload)
		}
	}
}

// TestDecodeOTLPLogs: protobuf and OTLP JSON give the same request; hex
// ids in JSON; undecodable bodies are 400s.
func TestDecodeOTLPLogs(t *testing.T) {
	t.Parallel()
	want := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", str("s"))}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
			TimeUnixNano: 1767225600000000001, SeverityNumber: 9, Body: str("m"),
			TraceId: []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
			SpanId:  []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74},
		}}}},
	}}}
	// The official request type, decoded as LogsData.
	pb, _ := proto.Marshal(want)
	got, err := DecodeOTLPLogs(pb, false)
	if err != nil || !proto.Equal(got, &logspb.LogsData{ResourceLogs: want.ResourceLogs}) {
		t.Fatalf("protobuf: %v %v", got, err)
	}
	js := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},"scopeLogs":[{"logRecords":[
		{"timeUnixNano":"1767225600000000001","severityNumber":9,"body":{"stringValue":"m"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","future":true}]}]}]}`
	got, err = DecodeOTLPLogs([]byte(js), true)
	if err != nil || !proto.Equal(got, &logspb.LogsData{ResourceLogs: want.ResourceLogs}) {
		t.Fatalf("JSON: %v %v", got, err)
	}
	for _, bad := range []string{`{`, `[]`, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}`, `{"resourceLogs":7}`, `{} {}`} {
		if _, err := DecodeOTLPLogs([]byte(bad), true); pulse.ErrorCode(err) != pulse.EBADREQUEST {
			t.Errorf("JSON %s: %v, want EBADREQUEST", bad, err)
		}
	}
	// snake_case names, as protojson also accepts.
	got, err = DecodeOTLPLogs([]byte(`{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174"}]}]}]}`), true)
	if lr := got.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0]; err != nil || !bytes.Equal(lr.TraceId, want.ResourceLogs[0].ScopeLogs[0].LogRecords[0].TraceId) || !bytes.Equal(lr.SpanId, want.ResourceLogs[0].ScopeLogs[0].LogRecords[0].SpanId) {
		t.Errorf("snake_case: %v %v", got, err)
	}
	// More records than OTLPMaxRecords: refused before protojson decodes them.
	many := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}` + strings.Repeat(",{}", OTLPMaxRecords) + `]}]}]}`
	if _, err := DecodeOTLPLogs([]byte(many), true); pulse.ErrorCode(err) != pulse.ETOOLARGE {
		t.Errorf("%d records in JSON: %v, want ETOOLARGE", OTLPMaxRecords+1, err)
	}
	if _, err := DecodeOTLPLogs([]byte{0xff, 0xff}, false); pulse.ErrorCode(err) != pulse.EBADREQUEST {
		t.Errorf("bad protobuf: %v", err)
	}
}

// FuzzDecodeOTLPJSON: any body is decoded or refused with EBADREQUEST,
// never a panic, and every record maps onto an event object that
// pulse.ParseEvent accepts or refuses as a client error.
func FuzzDecodeOTLPJSON(f *testing.F) {
	f.Add(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},"scopeLogs":[{"scope":{"name":"n"},"logRecords":[{"timeUnixNano":"1767225600000000001","severityNumber":9,"body":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}}]}},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","attributes":[{"key":"event.id","value":{"stringValue":"x"}}]}]}]}]}`)
	f.Add(`{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"","body":{"doubleValue":"NaN"}}]}]}]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeOTLPLogs([]byte(body), true)
		if err != nil {
			if pulse.ErrorCode(err) != pulse.EBADREQUEST {
				t.Fatalf("error %v is not EBADREQUEST", err)
			}
			return
		}
		for _, raw := range OTLPEvents(req, OTLPOptions{}) {
			_, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: time.Now()})
			if code := pulse.ErrorCode(err); err != nil && code != pulse.EINVALID {
				t.Fatalf("event %s: %v", raw, err)
			}
		}
	})
}

// TestCountOTLPRecords: the wire count agrees with the decoded request,
// and a malformed body is a bad request.
func TestCountOTLPRecords(t *testing.T) {
	t.Parallel()
	req := &logspb.LogsData{}
	want, groups := 0, 0
	for i := range 3 {
		groups += i + 2
		rl := &logspb.ResourceLogs{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "s"}}}}}}
		for j := range i + 1 {
			sl := &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "x"}}
			for range i*7 + j {
				sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{})
				want++
			}
			rl.ScopeLogs = append(rl.ScopeLogs, sl)
		}
		req.ResourceLogs = append(req.ResourceLogs, rl)
	}
	body, _ := proto.Marshal(req)
	n, g, err := CountOTLPRecords(body)
	if err != nil || n != want || g != groups || len(OTLPRecords(req)) != want {
		t.Fatalf("count %d records %d groups %v, decoded %d; want %d, %d", n, g, err, len(OTLPRecords(req)), want, groups)
	}
	if _, _, err := CountOTLPRecords(body[:len(body)-1]); pulse.ErrorCode(err) != pulse.EBADREQUEST {
		t.Errorf("truncated body: %v", err)
	}
}

// TestOTLPChunkEventsBounded: one 100 KiB resource attribute copied into
// 1000 empty records would make ~100 MB of event JSON; with a 1 MiB bound
// the generation stops at the bound with ETOOLARGE, having allocated a few
// MiB, not ~100 MB (not parallel: it measures the process's allocations).
func TestOTLPChunkEventsBounded(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	rl := &logspb.ResourceLogs{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "big", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: big}}}}}}
	sl := &logspb.ScopeLogs{}
	for range 1000 {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{})
	}
	rl.ScopeLogs = []*logspb.ScopeLogs{sl}
	recs := OTLPRecords(&logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{rl}})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, _, err := OTLPChunkEvents(recs, OTLPOptions{}, 1<<20)
	runtime.ReadMemStats(&after)
	var pe *pulse.Error
	if !errors.As(err, &pe) || pe.Code != pulse.ETOOLARGE || out != nil {
		t.Fatalf("err %v, %d events; want too_large", err, len(out))
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 16<<20 {
		t.Errorf("allocated %d bytes generating a chunk bounded to 1 MiB", alloc)
	}
	t.Logf("allocated %d bytes before stopping at the 1 MiB bound", alloc)
	// Within the bound, the same records are generated whole.
	if out, size, err := OTLPChunkEvents(recs[:5], OTLPOptions{}, 1<<20); err != nil || len(out) != 5 || size < 5*len(big) {
		t.Errorf("5 records: %d events, %d bytes, %v", len(out), size, err)
	}
}
