package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/pulsestream/pulsestream/internal/config"
)

// The OTLP/HTTP logs door, driven by the OpenTelemetry Go SDK's own
// exporter (otlploghttp, protobuf) against the real server.

// collector keeps the records a LoggerProvider emits, so a test exports
// them itself and sees the exporter's answer.
type collector struct{ recs []sdklog.Record }

func (c *collector) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *collector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c *collector) Shutdown(context.Context) error                         { return nil }
func (c *collector) ForceFlush(context.Context) error                       { return nil }

// otlpRecords builds records with the SDK as an instrumented service would.
func otlpRecords(t *testing.T, ctx context.Context, service string, emit func(l otellog.Logger)) []sdklog.Record {
	t.Helper()
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", service), attribute.String("host.name", "web-1")))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(c))
	emit(lp.Logger("shop/payments", otellog.WithInstrumentationVersion("1.2.0")))
	return c.recs
}

func otlpExporter(t *testing.T, n *node, key string) *otlploghttp.Exporter {
	t.Helper()
	exp, err := otlploghttp.New(context.Background(),
		otlploghttp.WithEndpointURL(n.URL+"/v1/logs"),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + key}),
		otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp
}

func otlpRecord(at time.Time, sev otellog.Severity, body string, attrs ...attribute.KeyValue) otellog.Record {
	var r otellog.Record
	r.SetTimestamp(at)
	r.SetSeverity(sev)
	r.SetBody(attribute.StringValue(body))
	r.AddAttributes(attrs...)
	return r
}

// TestOTLPExporterMapping: records with a resource, attributes, trace
// context and one invalid record (a timestamp 2 h ahead) → the valid ones
// are stored with the documented mapping, the SDK reports a partial success
// of 1, the same export again stores nothing new (event.id), and another
// tenant sees none of them.
func TestOTLPExporterMapping(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("otel", 0)
		_, otherKey := n.tenant("other", 0)
		ctx := context.Background()
		now := n.Clock.Now()
		traceID, _ := trace.TraceIDFromHex("5b8efff798038103d269b633813fc60c")
		spanID, _ := trace.SpanIDFromHex("eee19b7ec3c1b174")
		spanCtx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))

		recs := otlpRecords(t, ctx, "payments", func(l otellog.Logger) {
			r := otlpRecord(now.Add(-time.Minute), otellog.SeverityError, "card declined",
				attribute.String("event.id", "pay-1"), attribute.String("http.route", "/pay"), attribute.Int("http.response.status_code", 402),
				attribute.String("user.id", "u-7"), attribute.String("region", "eu"), attribute.Int("attempt", 3))
			r.SetEventName("payment.failed")
			l.Emit(spanCtx, r)
			r = otlpRecord(now.Add(2*time.Hour), otellog.SeverityInfo, "from the future", attribute.String("event.id", "pay-2"))
			l.Emit(ctx, r)
			var body otellog.Record
			body.SetTimestamp(now.Add(-2 * time.Minute))
			body.SetSeverity(otellog.SeverityWarn2)
			body.SetBody(attribute.MapValue(attribute.String("order", "o-9"), attribute.Int("items", 2)))
			body.AddAttributes(attribute.String("event.id", "pay-3"))
			l.Emit(ctx, body)
		})
		exp := otlpExporter(t, n, key)
		err := exp.Export(ctx, recs)
		if err == nil || !strings.Contains(err.Error(), "(1 logs rejected)") || !strings.Contains(err.Error(), "log record 1: timestamp") {
			t.Fatalf("export: err = %v, want a partial success of 1 naming record 1's timestamp", err)
		}

		page := n.search(key, q("service", "payments"))
		if len(page.Events) != 2 {
			t.Fatalf("stored %d events, want 2: %+v", len(page.Events), page.Events)
		}
		byExt := map[string]storedEvent{}
		for _, e := range page.Events {
			byExt[e.ExternalID] = e
		}
		e := byExt["pay-1"]
		if e.EventType != "payment.failed" || e.Severity != "error" || e.Message != "card declined" || e.Endpoint != "/pay" ||
			e.StatusCode != 402 || e.UserID != "u-7" || !e.Timestamp.Equal(now.Add(-time.Minute)) {
			t.Errorf("record 0 stored as %+v", e)
		}
		wantTags := map[string]string{"trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174", "region": "eu", "host.name": "web-1"}
		for k, v := range wantTags {
			if e.Tags[k] != v {
				t.Errorf("tag %s = %q, want %q (tags %v)", k, e.Tags[k], v, e.Tags)
			}
		}
		for _, k := range []string{"event.id", "http.route", "user.id", "service.name"} {
			if _, ok := e.Tags[k]; ok {
				t.Errorf("tag %s repeats a mapped field", k)
			}
		}
		var p map[string]any
		mustUnmarshal(t, e.Payload, &p)
		if attrs, _ := p["attributes"].(map[string]any); attrs["attempt"] != 3.0 {
			t.Errorf("payload %s lacks attributes.attempt = 3", e.Payload)
		}
		if sc, _ := p["scope"].(map[string]any); sc["name"] != "shop/payments" || sc["version"] != "1.2.0" {
			t.Errorf("payload %s lacks the scope", e.Payload)
		}
		if p["severity_number"] != 17.0 || p["trace_flags"] != 1.0 {
			t.Errorf("payload %s lacks severity_number 17 / trace_flags 1", e.Payload)
		}
		e = byExt["pay-3"]
		mustUnmarshal(t, e.Payload, &p)
		if e.Severity != "warning" || e.EventType != "log" || e.Message != "" || fmt.Sprint(p["body"]) != "map[items:2 order:o-9]" {
			t.Errorf("record 2 (map body) stored as %+v, payload %s", e, e.Payload)
		}
		// Trace ids are tags, so a trace's logs are one search away.
		if got := n.search(key, q("tag", "trace_id:5b8efff798038103d269b633813fc60c")); len(got.Events) != 1 {
			t.Errorf("search by trace_id: %d events, want 1", len(got.Events))
		}

		// The exporter's retry of the same export stores nothing twice.
		if err := exp.Export(ctx, recs); err == nil || !strings.Contains(err.Error(), "(1 logs rejected)") {
			t.Fatalf("second export: %v", err)
		}
		if got := n.search(key, q("service", "payments")); len(got.Events) != 2 {
			t.Errorf("after the same export again: %d events, want 2", len(got.Events))
		}
		if got := n.search(otherKey, q()); len(got.Events) != 0 {
			t.Errorf("another tenant sees %d events", len(got.Events))
		}
	})
}

// TestOTLPOverQuota: a tenant with a quota of 2 exports 3 records → 200
// with 1 rejected (over quota); the next export → 429 with Retry-After
// (the exporter's retryable answer), nothing stored; the wrong key → 401.
func TestOTLPOverQuota(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("quota", 2)
		ctx := context.Background()
		now := n.Clock.Now()
		recs := otlpRecords(t, ctx, "q", func(l otellog.Logger) {
			for i := range 3 {
				l.Emit(ctx, otlpRecord(now, otellog.SeverityInfo, label(i)))
			}
		})
		exp := otlpExporter(t, n, key)
		if err := exp.Export(ctx, recs); err == nil || !strings.Contains(err.Error(), "(1 logs rejected)") || !strings.Contains(err.Error(), "quota") {
			t.Fatalf("first export: %v, want 1 rejected over quota", err)
		}
		if err := exp.Export(ctx, recs); err == nil || !strings.Contains(err.Error(), "quota") {
			t.Fatalf("second export: %v, want the quota refusal", err)
		}

		// The same, seen on the wire: 429, Retry-After, a Status body.
		body := otlpProtoBody(t, "q", now, 3)
		r := n.do("POST", "/v1/logs", key, body, "Content-Type", "application/x-protobuf")
		expectStatus(t, r, http.StatusTooManyRequests)
		checkRetryAfter(t, r)
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			t.Errorf("429 Content-Type %q", ct)
		}
		if got := n.search(key, q("service", "q")); len(got.Events) != 2 {
			t.Errorf("stored %d events, want 2", len(got.Events))
		}
		expectStatus(t, n.do("POST", "/v1/logs", "psk_wrong", body, "Content-Type", "application/x-protobuf"), http.StatusUnauthorized)
	})
}

// otlpProtoBody is an export of n records of service svc at time at.
func otlpProtoBody(t *testing.T, svc string, at time.Time, n int) []byte {
	t.Helper()
	sl := &logspb.ScopeLogs{}
	for i := range n {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: uint64(at.UnixNano()), Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: label(i)}}})
	}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: svc}}}}},
		ScopeLogs: []*logspb.ScopeLogs{sl},
	}}}
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOTLPJSON: an OTLP JSON export (hex ids, lowerCamelCase, enum ints)
// is stored like protobuf, event_type from the attribute the query names; an undecodable body is 400 with a Status.
func TestOTLPJSON(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("json", 0)
		at := n.Clock.Now().Add(-time.Minute)
		body := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
			"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityNumber":21,"body":{"stringValue":"down"},
			"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
			"attributes":[{"key":"event.id","value":{"stringValue":"j-1"}},{"key":"url.path","value":{"stringValue":"/x"}},{"key":"log.kind","value":{"stringValue":"audit"}}],"unknownField":1}]}]}]}`, at.UnixNano())
		r := n.do("POST", "/v1/logs?event_type_attribute=log.kind", key, body, "Content-Type", "application/json")
		expectStatus(t, r, http.StatusOK)
		if r.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(r.Body)) != "{}" {
			t.Errorf("answer %s %q, want application/json {}", r.Header.Get("Content-Type"), r.Body)
		}
		page := n.search(key, q("external_id", "j-1"))
		if len(page.Events) != 1 {
			t.Fatalf("stored %d", len(page.Events))
		}
		e := page.Events[0]
		if e.Service != "api" || e.EventType != "audit" || e.Severity != "critical" || e.Endpoint != "/x" || e.Tags["trace_id"] != "5b8efff798038103d269b633813fc60c" || !e.Timestamp.Equal(at.Truncate(time.Microsecond)) {
			t.Errorf("stored %+v", e)
		}

		r = n.do("POST", "/v1/logs", key, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}`, "Content-Type", "application/json")
		expectStatus(t, r, http.StatusBadRequest)
		var st map[string]any
		if err := json.Unmarshal(r.Body, &st); err != nil || st["code"] != 3.0 || st["message"] == "" {
			t.Errorf("400 body %s, want a google.rpc.Status", r.Body)
		}
		expectStatus(t, n.do("POST", "/v1/logs", key, "x", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	})
}

// TestOTLPLargeExportAndSigning: an export larger than the batch limit is
// stored whole, in chunks; a tenant that requires signed requests refuses
// an unsigned export (401) and takes a signed one.
func TestOTLPLargeExportAndSigning(t *testing.T) {
	t.Parallel()
	mutate := func(c *config.Config) {
		c.MaxBatchEvents = 4
		c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	}
	eachBackendCfg(t, mutate, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("big", 0)
		body := otlpProtoBody(t, "big", n.Clock.Now(), 10)
		r := n.do("POST", "/v1/logs", key, body, "Content-Type", "application/x-protobuf")
		expectStatus(t, r, http.StatusOK)
		var resp collogspb.ExportLogsServiceResponse
		if err := proto.Unmarshal(r.Body, &resp); err != nil || resp.PartialSuccess != nil {
			t.Fatalf("answer %v %v, want a full success", &resp, err)
		}
		if got := n.search(key, q("service", "big", "limit", "100")); len(got.Events) != 10 {
			t.Fatalf("stored %d of 10 records", len(got.Events))
		}

		r = n.do("POST", "/api/v1/signing-secrets", key, map[string]any{"name": "otel"})
		expectStatus(t, r, http.StatusCreated)
		secret := r.JSON(t)["secret"].(string)
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"require_signed_requests": true}), http.StatusOK)
		body = otlpProtoBody(t, "signed", n.Clock.Now(), 1)
		expectStatus(t, n.do("POST", "/v1/logs", key, body, "Content-Type", "application/x-protobuf"), http.StatusUnauthorized)
		headers := append([]string{"Content-Type", "application/x-protobuf"}, signedHeaders(secret, n.Clock.Now().Unix(), body)...)
		expectStatus(t, n.do("POST", "/v1/logs", key, body, headers...), http.StatusOK)
		if got := n.search(key, q("service", "signed")); len(got.Events) != 1 {
			t.Fatalf("signed export: stored %d", len(got.Events))
		}
	})
}
