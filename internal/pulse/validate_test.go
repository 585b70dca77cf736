package pulse

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func parseOpts() ParseOptions {
	return ParseOptions{Now: testNow, Retention: 30 * 24 * time.Hour, MaxPayloadBytes: 1 << 10}
}

func TestParseEventValid(t *testing.T) {
	t.Parallel()
	e, err := ParseEvent([]byte(`{"event_type":"http.request","service":"api","severity":"error","endpoint":"/x",
		"status_code":503,"user_id":"u1","message":"boom","tags":{"a":"b"},"timestamp":"2026-11-26T11:00:00.1234567+01:00",
		"external_id":"ext-1","payload":{"k": [1, 2]}}`), parseOpts())
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	if !e.Timestamp.Equal(want) || e.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp = %v, want %v (UTC, microseconds)", e.Timestamp, want)
	}
	if e.Severity != SeverityError || e.StatusCode != 503 || e.Tags["a"] != "b" || string(e.Payload) != `{"k":[1,2]}` || e.ExternalID != "ext-1" {
		t.Errorf("fields not parsed: %+v", e)
	}
	if len(e.ContentHash) != 32 {
		t.Errorf("content hash %q", e.ContentHash)
	}
}

func TestParseEventDefaultsAndHash(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event_type":"x","service":"s","external_id":"1"}`)
	a, err := ParseEvent(body, parseOpts())
	if err != nil {
		t.Fatal(err)
	}
	if a.Severity != SeverityInfo || !a.Timestamp.Equal(testNow) {
		t.Errorf("defaults: severity %q timestamp %v", a.Severity, a.Timestamp)
	}
	later := parseOpts()
	later.Now = testNow.Add(time.Hour)
	b, _ := ParseEvent([]byte(`{ "service":"s", "event_type":"x", "external_id":"1" }`), later)
	if a.ContentHash != b.ContentHash {
		t.Error("a replay of the same event (other key order, no timestamp, later) must hash the same")
	}
	c, _ := ParseEvent([]byte(`{"event_type":"x","service":"s2","external_id":"1"}`), parseOpts())
	if a.ContentHash == c.ContentHash {
		t.Error("different content must hash differently")
	}
}

func TestParseEventRules(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name, body, field, reason string
	}{
		{"missing event_type", `{"service":"s"}`, "event_type", "event_type.required"},
		{"empty event_type", `{"event_type":"","service":"s"}`, "event_type", "event_type.required"},
		{"event_type charset", `{"event_type":"a b","service":"s"}`, "event_type", "event_type.invalid"},
		{"event_type too long", `{"event_type":"` + long(129) + `","service":"s"}`, "event_type", "event_type.too_long"},
		{"event_type number", `{"event_type":5,"service":"s"}`, "event_type", "event_type.type"},
		{"missing service", `{"event_type":"x"}`, "service", "service.required"},
		{"service too long", `{"event_type":"x","service":"` + long(129) + `"}`, "service", "service.too_long"},
		{"severity", `{"event_type":"x","service":"s","severity":"loud"}`, "severity", "severity.invalid"},
		{"endpoint too long", `{"event_type":"x","service":"s","endpoint":"` + long(513) + `"}`, "endpoint", "endpoint.too_long"},
		{"status_code low", `{"event_type":"x","service":"s","status_code":99}`, "status_code", "status_code.invalid"},
		{"status_code high", `{"event_type":"x","service":"s","status_code":600}`, "status_code", "status_code.invalid"},
		{"status_code string", `{"event_type":"x","service":"s","status_code":"200"}`, "status_code", "status_code.invalid"},
		{"status_code float", `{"event_type":"x","service":"s","status_code":200.5}`, "status_code", "status_code.invalid"},
		{"status_code huge", `{"event_type":"x","service":"s","status_code":1e400}`, "status_code", "status_code.invalid"},
		{"user_id too long", `{"event_type":"x","service":"s","user_id":"` + long(257) + `"}`, "user_id", "user_id.too_long"},
		{"message too long", `{"event_type":"x","service":"s","message":"` + long(16<<10+1) + `"}`, "message", "message.too_long"},
		{"tags not object", `{"event_type":"x","service":"s","tags":[1]}`, "tags", "tags.type"},
		{"tag value number", `{"event_type":"x","service":"s","tags":{"a":1}}`, "tags", "tags.type"},
		{"tag key too long", `{"event_type":"x","service":"s","tags":{"` + long(65) + `":"v"}}`, "tags", "tags.key_invalid"},
		{"tag value too long", `{"event_type":"x","service":"s","tags":{"k":"` + long(257) + `"}}`, "tags", "tags.value_too_long"},
		{"timestamp format", `{"event_type":"x","service":"s","timestamp":"yesterday"}`, "timestamp", "timestamp.invalid"},
		{"timestamp future", `{"event_type":"x","service":"s","timestamp":"2026-11-26T13:00:01Z"}`, "timestamp", "timestamp.future"},
		{"timestamp too old", `{"event_type":"x","service":"s","timestamp":"2026-10-01T00:00:00Z"}`, "timestamp", "timestamp.too_old"},
		{"external_id empty", `{"event_type":"x","service":"s","external_id":""}`, "external_id", "external_id.required"},
		{"external_id too long", `{"event_type":"x","service":"s","external_id":"` + long(257) + `"}`, "external_id", "external_id.too_long"},
		{"external_id header injection", `{"event_type":"x","service":"s","external_id":"a\r\nX-Evil: 1"}`, "external_id", "external_id.invalid"},
		{"payload array", `{"event_type":"x","service":"s","payload":[1]}`, "payload", "payload.invalid"},
		{"payload too large", `{"event_type":"x","service":"s","payload":{"a":"` + long(1100) + `"}}`, "payload", "payload.too_large"},
		{"payload NUL", `{"event_type":"x","service":"s","payload":{"a":"\u0000"}}`, "payload", "payload.invalid"},
		{"NUL in service", `{"event_type":"x","service":"s\u0000"}`, "service", "service.invalid"},
		{"unknown field", `{"event_type":"x","service":"s","colour":"red"}`, "colour", "field.unknown"},
		{"duplicate key", `{"event_type":"x","service":"s","service":"t"}`, "service", "field.duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEvent([]byte(tc.body), parseOpts())
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != EINVALID {
				t.Fatalf("want EINVALID, got %v", err)
			}
			for _, f := range pe.Fields {
				if f.Field == tc.field && f.Reason == tc.reason {
					return
				}
			}
			t.Fatalf("want field %s reason %s, got %+v", tc.field, tc.reason, pe.Fields)
		})
	}
}

func TestParseEventManyTagsAndDeepNesting(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"event_type":"x","service":"s","tags":{`)
	for i := range 10000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + `":"v"`)
	}
	b.WriteString(`}}`)
	if _, err := ParseEvent([]byte(b.String()), parseOpts()); ErrorCode(err) != EINVALID {
		t.Errorf("10,000 tags: want EINVALID, got %v", err)
	}
	deep := `{"event_type":"x","service":"s","payload":` + strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000) + "}"
	opt := parseOpts()
	opt.MaxPayloadBytes = 1 << 20
	if _, err := ParseEvent([]byte(deep), opt); err == nil || (ErrorCode(err) != EINVALID && ErrorCode(err) != EBADREQUEST) {
		t.Errorf("depth bomb: want a 4xx error, got %v", err)
	}
}

func TestParseEventNotJSON(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"event_type":`, `nope`, `{"a":1}{"b":2}`, "\xff\xfe"} {
		if _, err := ParseEvent([]byte(body), parseOpts()); ErrorCode(err) != EBADREQUEST && ErrorCode(err) != EINVALID {
			t.Errorf("%q: want EBADREQUEST or EINVALID, got %v", body, err)
		}
	}
	if _, err := ParseEvent([]byte(`[1,2]`), parseOpts()); ErrorCode(err) != EINVALID {
		t.Errorf("array: want EINVALID, got %v", err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"event_type":"x","service":"s"}`,
		`{"event_type":"a.b","service":"s","severity":"error","status_code":500,"tags":{"a":"b"},"payload":{"x":[1,{"y":null}]},"timestamp":"2026-11-26T11:00:00Z","external_id":"e"}`,
		`{"event_type":"x","service":"s","service":"t"}`, `[]`, `null`, `{"payload":"\u0000"}`,
		`{"event_type":"x","service":"s","tags":{"a":"1","\u0061":"2"}}`, `{"event_type":"x","service":"s","message":"\ud800"}`,
		`{"event_type":"x","service":"s","payload":{"b":1.0,"a":[1e400,"\ud83d\ude00",-0]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data, parseOpts())
		if err != nil {
			if c := ErrorCode(err); c != EINVALID && c != EBADREQUEST {
				t.Fatalf("unexpected error code %q: %v", c, err)
			}
			return
		}
		if e.EventType == "" || e.Service == "" || e.Severity.Rank() < 0 || e.ContentHash == "" {
			t.Fatalf("accepted an invalid event: %+v", e)
		}
		if strings.ContainsRune(e.Service+e.EventType+e.Endpoint+e.UserID+e.Message+e.ExternalID, 0) {
			t.Fatal("accepted a NUL character")
		}
	})
}

func TestParseEventExactNamesAndTagDuplicates(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"event_type":"x","service":"s","Service":"t"}`:            "Service",
		`{"event_type":"x","SERVICE":"s"}`:                          "SERVICE",
		`{"event_type":"x","service":"s","tags":{"a":"1","a":"2"}}`: "tags.a",
	}
	for body, field := range cases {
		_, err := ParseEvent([]byte(body), parseOpts())
		pe, ok := err.(*Error)
		if !ok || pe.Code != EINVALID || !slices.ContainsFunc(pe.Fields, func(f FieldError) bool { return f.Field == field }) {
			t.Errorf("%s: want EINVALID naming %s, got %v", body, field, err)
		}
	}
	if _, err := ParseEvent([]byte("{\"event_type\":\"x\",\"service\":\"s\xff\"}"), parseOpts()); ErrorCode(err) != EBADREQUEST {
		t.Errorf("invalid UTF-8: want EBADREQUEST, got %v", err)
	}
}

func TestDecodeCursorRefusesImpossibleTimes(t *testing.T) {
	t.Parallel()
	id := NewID()
	for _, ts := range []time.Time{time.Unix(-1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := DecodeCursor(Cursor{Timestamp: ts, ID: id}.Encode()); err == nil {
			t.Errorf("cursor at %v accepted", ts)
		}
	}
}
