package bench

import (
	"strconv"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// door is the way events enter the server in an ingest scenario: the path,
// the Content-Type, and how a request body holding events first..first+size-1
// is built (appended to buf).
type door struct {
	path, contentType string
	body              func(buf []byte, run string, first, size int, base time.Time) []byte
}

// doorFor returns the door of an ingest scenario sending size events per
// request.
func doorFor(scenario string, size int) door {
	switch {
	case scenario == "ingest-otlp":
		return door{"/v1/logs", "application/x-protobuf", otlpBody}
	case scenario == "ingest-bulk":
		return door{"/api/v1/ingest/elasticsearch/_bulk", "application/x-ndjson", bulkBody}
	case size == 1:
		return door{"/api/v1/events", "application/json", nativeBody}
	default:
		return door{"/api/v1/events/batch", "application/json", nativeBody}
	}
}

func eventTime(base time.Time, n int) time.Time { return base.Add(time.Duration(n) * time.Microsecond) }

// nativeBody is one event object, or {"events":[...]} when size > 1.
func nativeBody(b []byte, run string, first, size int, base time.Time) []byte {
	var tc timeCache
	if size == 1 {
		return eventJSON(b, &tc, run, first, eventTime(base, first))
	}
	b = append(b, `{"events":[`...)
	for k := range size {
		if k > 0 {
			b = append(b, ',')
		}
		b = eventJSON(b, &tc, run, first+k, eventTime(base, first+k))
	}
	return append(b, "]}"...)
}

// bulkBody is NDJSON: an index action with _id (the external id) and an
// ECS-shaped document with the same content as eventJSON.
func bulkBody(b []byte, run string, first, size int, base time.Time) []byte {
	var tc timeCache
	for k := range size {
		n := first + k
		b = append(b, `{"index":{"_id":"`...)
		b = appendID(b, run, n)
		b = append(b, `"}}`+"\n"+`{"@timestamp":"`...)
		b = tc.appendTime(b, eventTime(base, n))
		b = append(b, `","event":{"dataset":"`...)
		b = append(b, types[n%len(types)]...)
		b = append(b, `"},"log":{"level":"`...)
		b = append(b, sevs[n%len(sevs)]...)
		b = append(b, `"},"service":{"name":"`...)
		b = append(b, services[n%len(services)]...)
		b = append(b, `"},"url":{"path":"`...)
		b = append(b, endpoints[n%len(endpoints)]...)
		b = append(b, `"},"http":{"response":{"status_code":`...)
		b = strconv.AppendInt(b, int64(statusCode(n)), 10)
		b = append(b, `}},"user":{"id":"user-`...)
		b = strconv.AppendInt(b, int64(n%5000), 10)
		b = append(b, `"},"message":"request handled `...)
		b = append(b, filler...)
		b = append(b, `","region":"eu-`...)
		b = strconv.AppendInt(b, int64(n%4), 10)
		b = append(b, `","version":"v1.`...)
		b = strconv.AppendInt(b, int64(n%7), 10)
		b = append(b, `","host":"host-`...)
		b = strconv.AppendInt(b, int64(n%50), 10)
		b = append(b, `","trace_id":"`...)
		b = appendTraceID(b, n)
		b = append(b, `","duration_ms":`...)
		b = strconv.AppendInt(b, int64(n%1000), 10)
		b = append(b, `,"attrs":{"a":1,"b":[1,2,3],"c":"xyz"}}`+"\n"...)
	}
	return b
}

// otlpBody is a protobuf ExportLogsServiceRequest (LogsData on the wire):
// one resource (service.name of the batch's first event) and scope, one
// record per event with the same content as eventJSON and an event.id
// attribute (the external id).
func otlpBody(b []byte, run string, first, size int, base time.Time) []byte {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	num := func(k string, v int) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(v)}}}
	}
	recs := make([]*logspb.LogRecord, size)
	for k := range recs {
		n := first + k
		recs[k] = &logspb.LogRecord{
			TimeUnixNano: uint64(eventTime(base, n).UnixNano()),
			EventName:    types[n%len(types)],
			SeverityText: sevs[n%len(sevs)],
			Body:         &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "request handled " + filler}},
			Attributes: []*commonpb.KeyValue{
				str("event.id", string(appendID(nil, run, n))),
				str("url.path", endpoints[n%len(endpoints)]),
				num("http.response.status_code", statusCode(n)),
				str("user.id", "user-"+strconv.Itoa(n%5000)),
				str("region", "eu-"+strconv.Itoa(n%4)),
				str("version", "v1."+strconv.Itoa(n%7)),
				str("host", "host-"+strconv.Itoa(n%50)),
				str("trace_id", string(appendTraceID(nil, n))),
				num("duration_ms", n%1000),
			},
		}
	}
	req := &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", services[first%len(services)])}},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "pulsestream-bench"}, LogRecords: recs}},
	}}}
	out, err := proto.MarshalOptions{}.MarshalAppend(b, req)
	if err != nil { // not reachable: every field is set by this function
		panic(err)
	}
	return out
}
