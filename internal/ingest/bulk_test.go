package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// bulkOne decodes one index action with doc and returns its event.
func bulkOne(t *testing.T, doc string, opt BulkOptions) eventObject {
	t.Helper()
	items, err := DecodeBulk([]byte(`{"index":{"_index":"logs","_id":"a-1"}}`+"\n"+doc+"\n"), opt)
	if err != nil || len(items) != 1 || items[0].Event == nil {
		t.Fatalf("DecodeBulk: %v %+v", err, items)
	}
	var e eventObject
	if err := json.Unmarshal(items[0].Event, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBulkMapping: the documented mapping of a document's fields.
func TestBulkMapping(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", pulse.MaxMessageBytes+10)
	cases := []struct {
		name string
		doc  string
		opt  BulkOptions
		want func(e eventObject) bool
	}{
		{"defaults: service is the index, type log, _id the external_id", `{}`, BulkOptions{},
			func(e eventObject) bool {
				return e.Service == "logs" && e.EventType == "log" && e.Severity == "info" && *e.ExternalID == "a-1" && e.Tags == nil && e.Payload == nil
			}},
		{"ECS fields, nested", `{"@timestamp":"2026-01-01T00:00:00.5Z","message":"hi","log":{"level":"WARN"},"service":{"name":"api"},"event":{"dataset":"nginx.access"},` +
			`"http":{"request":{"method":"GET","bytes":12},"response":{"status_code":503}},"url":{"path":"/x"},"user":{"id":"u1"},"host":{"name":"web-1"}}`, BulkOptions{},
			func(e eventObject) bool {
				return e.Timestamp == "2026-01-01T00:00:00.5Z" && e.Message == "hi" && e.Severity == "warning" && e.Service == "api" && e.EventType == "nginx.access" &&
					e.StatusCode == 503 && e.Endpoint == "/x" && e.UserID == "u1" && len(e.Tags) == 2 && e.Tags["host.name"] == "web-1" && e.Tags["http.request.method"] == "GET" &&
					len(e.Payload) == 1 && e.Payload["http.request.bytes"] == 12.0
			}},
		{"ECS fields, dotted keys", `{"log.level":"error","service.name":"api","http.response.status_code":"404","url.path":"/y","user.id":"u2"}`, BulkOptions{},
			func(e eventObject) bool {
				return e.Severity == "error" && e.Service == "api" && e.StatusCode == 404 && e.Endpoint == "/y" && e.UserID == "u2" && e.Tags == nil
			}},
		{"nested wins over dotted", `{"log.level":"debug","log":{"level":"crit"}}`, BulkOptions{},
			func(e eventObject) bool { return e.Severity == "critical" && e.Tags == nil }},
		{"epoch millis and timestamp", `{"timestamp":1767225600123}`, BulkOptions{},
			func(e eventObject) bool { return e.Timestamp == "2026-01-01T00:00:00.123Z" }},
		{"Fluent Bit's log key, level key", `{"log":"line","level":"notice"}`, BulkOptions{},
			func(e eventObject) bool { return e.Message == "line" && e.Severity == "info" }},
		{"query fields", `{"app":"billing","kind":"audit","rid":"r-9","service":{"name":"ignored"}}`,
			BulkOptions{ServiceField: "app", EventTypeField: "kind", ExternalIDField: "rid"},
			func(e eventObject) bool {
				return e.Service == "billing" && e.EventType == "audit" && *e.ExternalID == "r-9" && e.Tags["service.name"] == "ignored"
			}},
		{"status out of range stays in the payload", `{"http":{"response":{"status_code":99}}}`, BulkOptions{},
			func(e eventObject) bool { return e.StatusCode == 0 && e.Payload["http.response.status_code"] == 99.0 }},
		{"arrays, numbers, long and colon-keyed strings go to the payload", `{"a":[1,"x"],"b":true,"c":"` + strings.Repeat("v", 300) + `","d:e":"f","g":{}}`, BulkOptions{},
			func(e eventObject) bool { return e.Tags == nil && len(e.Payload) == 5 }},
		{"long message kept whole in the payload", `{"message":"` + long + `"}`, BulkOptions{},
			func(e eventObject) bool {
				return len(e.Message) == pulse.MaxMessageBytes && e.Payload["message"] == long
			}},
	}
	for _, tc := range cases {
		e := bulkOne(t, tc.doc, tc.opt)
		if !tc.want(e) {
			t.Errorf("%s: got %+v", tc.name, e)
		}
	}
}

// TestBulkTagLimit: past pulse.MaxTags string fields, the rest go to the
// payload, in path order, and the event stays valid.
func TestBulkTagLimit(t *testing.T) {
	t.Parallel()
	doc := map[string]string{}
	for i := range pulse.MaxTags + 5 {
		doc[string(rune('a'+i/26))+string(rune('a'+i%26))] = "v"
	}
	data, _ := json.Marshal(doc)
	e := bulkOne(t, string(data), BulkOptions{})
	if len(e.Tags) != pulse.MaxTags || len(e.Payload) != 5 || e.Tags["aa"] != "v" || e.Payload["cc"] != "v" {
		t.Fatalf("tags %d payload %v", len(e.Tags), e.Payload)
	}
	raw, _ := json.Marshal(e)
	if _, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeBulk: the framing — which lines make the whole request a 400
// and which refuse one item.
func TestDecodeBulk(t *testing.T) {
	t.Parallel()
	body := "\n" + `{"create":{"_id":"c"}}` + "\r\n" + `{"message":"m"}` + "\n\n" +
		`{"delete":{"_index":"x","_id":"d"}}` + "\n" +
		`{"update":{"_id":"u"}}` + "\n" + `{"doc":{}}` + "\n" +
		`{"index":{}}` + "\n" + `[1]` + "\n" +
		`{"index":null}` + "\n" + `{"a":1}` // no final newline
	items, err := DecodeBulk([]byte(body), BulkOptions{Index: "url"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op, index, id, errType string
	}{{"create", "url", "c", ""}, {"delete", "x", "d", bulkErrUnsupported}, {"update", "url", "u", bulkErrUnsupported},
		{"index", "url", "", BulkErrMapperParsing}, {"index", "url", "", ""}}
	if len(items) != len(want) {
		t.Fatalf("%d items: %+v", len(items), items)
	}
	for i, w := range want {
		it := items[i]
		gotErr := ""
		if it.Err != nil {
			gotErr = it.Err.Type
		}
		if it.Op != w.op || it.Index != w.index || it.ID != w.id || gotErr != w.errType || (it.Event == nil) != (w.errType != "") {
			t.Errorf("item %d = %+v, want %+v", i, it, w)
		}
	}

	for _, bad := range []string{
		"", "\n\n", `[]`, `{"index":{}} `, `{"index":{},"create":{}}`, `{"upsert":{}}` + "\n{}", `{"index":{"_id":5}}` + "\n{}",
		`{"index":{}}` + "\n" + `{}` + "\n" + `{"create":{}}` + "\n", "not json\n{}",
	} {
		if _, err := DecodeBulk([]byte(bad), BulkOptions{}); pulse.ErrorCode(err) != pulse.EBADREQUEST {
			t.Errorf("%q: err %v, want EBADREQUEST", bad, err)
		}
	}
}

// FuzzDecodeBulk: any body is refused as a whole with EBADREQUEST, or
// gives items that each hold an event or an error; every event is either
// valid or EINVALID (never a malformed object), and decoding is
// deterministic, so a shipper's retry has the same content hash.
func FuzzDecodeBulk(f *testing.F) {
	f.Add(`{"index":{"_index":"logs","_id":"1"}}` + "\n" + `{"@timestamp":"2026-01-01T00:00:00Z","message":"m","log":{"level":"error"},"http.response.status_code":500,"a":[{"b":null}]}` + "\n")
	f.Add(`{"create":{}}` + "\n" + `{"timestamp":-1e40,"log":"x","service":{"name":""}}` + "\n" + `{"delete":{"_id":"x"}}` + "\n")
	f.Add(`{"update":{}}` + "\n" + `{"doc":{"a":"\ud800"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		items, err := DecodeBulk([]byte(body), BulkOptions{Index: "i"})
		if err != nil {
			if pulse.ErrorCode(err) != pulse.EBADREQUEST {
				t.Fatalf("error %v is not EBADREQUEST", err)
			}
			return
		}
		again, _ := DecodeBulk([]byte(body), BulkOptions{Index: "i"})
		for i, it := range items {
			if (it.Event == nil) == (it.Err == nil) {
				t.Fatalf("item %d has both or neither an event and an error: %+v", i, it)
			}
			if !bytes.Equal(it.Event, again[i].Event) {
				t.Fatalf("item %d decodes differently: %s vs %s", i, it.Event, again[i].Event)
			}
			if it.Event == nil {
				continue
			}
			_, err := pulse.ParseEvent(it.Event, pulse.ParseOptions{Now: time.Now()})
			if code := pulse.ErrorCode(err); err != nil && code != pulse.EINVALID {
				t.Fatalf("event %s: %v", it.Event, err)
			}
		}
	})
}
