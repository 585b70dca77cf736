package natslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func wireEventFixture() *pulse.Event {
	at := time.Date(2026, 12, 4, 7, 0, 0, 123456000, time.UTC)
	return &pulse.Event{
		ID: pulse.NewID(), TenantID: "t-1", ExternalID: "x\n1", EventType: "a.b", Severity: pulse.SeverityError,
		Service: "api", Endpoint: "/v1", StatusCode: 503, UserID: "u", Message: "line 1\nline 2 <&>",
		Tags: map[string]string{"k": "v", "": "empty key"}, Timestamp: at, ReceivedAt: at.Add(time.Second),
		Payload: json.RawMessage("{\"a\": \"<b>\",\n \"n\": 1.50}"), ContentHash: "h",
	}
}

// A message carries every stored field of every event, and each payload
// byte for byte (encoding/json would compact it and escape <, > and &).
func TestWireBatchRoundTrip(t *testing.T) {
	t.Parallel()
	full := wireEventFixture()
	bare := &pulse.Event{ID: pulse.NewID(), TenantID: "t-1", EventType: "e", Severity: pulse.SeverityInfo, Service: "s",
		StatusCode: -1, Timestamp: time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC), ContentHash: "h2"}
	events := []*pulse.Event{full, bare, full}
	got, err := decodeMessage(encodeBatch("t-1", events))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, events) {
		t.Errorf("decodeMessage(encodeBatch(events)) =\n%+v\nwant\n%+v", got, events)
	}
	if got[1].Payload != nil || got[1].Tags != nil {
		t.Errorf("no payload, no tags: payload %q, tags %v", got[1].Payload, got[1].Tags)
	}
	if n := len(encodeBatch("t-1", events)); n > len(batchMagic)+20+eventSize(full)*2+eventSize(bare) {
		t.Errorf("body of %d bytes exceeds eventSize's bound", n)
	}
}

// Messages a previous version left in the stream (version 1: one event,
// JSON head, newline, payload) still decode.
func TestWireOldMessages(t *testing.T) {
	t.Parallel()
	e := wireEventFixture()
	body, err := encodeV1(e)
	if err != nil {
		t.Fatal(err)
	}
	// As version 1 wrote it, byte for byte (a fixed id and tag set).
	fixed := []byte(`{"tenant":"t-1","id":"0b7e1c7a-2f6e-4f7e-9a51-1f0c3f3b9d10","external_id":"x\n1","event_type":"a.b","severity":"error","service":"api","status_code":503,"tags":{"k":"v"},"timestamp":"2026-12-04T07:00:00.123456Z","received_at":"2026-12-04T07:00:01.123456Z","content_hash":"h"}` + "\n" + `{"a": "<b>"}`)
	for name, tc := range map[string]struct {
		body []byte
		want *pulse.Event
	}{
		"encoded": {body, e},
		"fixed": {fixed, &pulse.Event{ID: "0b7e1c7a-2f6e-4f7e-9a51-1f0c3f3b9d10", TenantID: "t-1", ExternalID: "x\n1", EventType: "a.b",
			Severity: pulse.SeverityError, Service: "api", StatusCode: 503, Tags: map[string]string{"k": "v"},
			Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt, ContentHash: "h", Payload: json.RawMessage(`{"a": "<b>"}`)}},
	} {
		got, err := decodeMessage(tc.body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%s: decodeMessage(v1) =\n%+v\nwant\n%+v", name, got, tc.want)
		}
	}
}

// Anything else is refused (the writer drops it as poison), including
// every truncation of a good version 2 body and trailing bytes.
func TestWireRefusesMalformed(t *testing.T) {
	t.Parallel()
	good := encodeBatch("t-1", []*pulse.Event{wireEventFixture(), wireEventFixture()})
	bad := [][]byte{
		nil, []byte("{}"), []byte("not json\n{}"), []byte(`{"tenant":"t","id":"i"}` + "\n"),
		append(bytes.Clone(good), 0),
		encodeBatch("t-1", nil),
		encodeBatch("", []*pulse.Event{wireEventFixture()}),
		encodeBatch("t-1", []*pulse.Event{{ID: "i"}}), // no content hash
		{0xB5, 'P', 'S', 3, 1},                        // a later version
	}
	for n := range good {
		bad = append(bad, good[:n])
	}
	for _, b := range bad {
		if _, err := decodeMessage(b); err == nil {
			t.Errorf("decodeMessage(%q) accepted", b)
		}
	}
}

// The Nats-Msg-Id names the tenant and the events' dedup keys in order:
// the same for a retry of the request through any node (new event ids,
// other content), different for another tenant, another order or another
// event set; events without external id are named by their id.
func TestMsgID(t *testing.T) {
	t.Parallel()
	ev := func(id, ext string) *pulse.Event { return &pulse.Event{ID: id, ExternalID: ext, ContentHash: id} }
	req := []*pulse.Event{ev("a", "x"), ev("b", "y")}
	retry := []*pulse.Event{ev("c", "x"), ev("d", "y")}
	for name, tc := range map[string]struct {
		tenant string
		events []*pulse.Event
		same   bool
	}{
		"retry":        {"t1", retry, true},
		"other tenant": {"t2", req, false},
		"other order":  {"t1", []*pulse.Event{retry[1], retry[0]}, false},
		"subset":       {"t1", retry[:1], false},
		"keys split":   {"t", []*pulse.Event{ev("e", "1x"), ev("f", "y")}, false},
		"no ext id":    {"t1", []*pulse.Event{ev("a", ""), ev("b", "y")}, false},
	} {
		if got := msgID(tc.tenant, tc.events) == msgID("t1", req); got != tc.same {
			t.Errorf("%s: same id %v, want %v", name, got, tc.same)
		}
	}
	noExt := []*pulse.Event{ev("a", "")}
	if msgID("t1", noExt) != msgID("t1", []*pulse.Event{ev("a", "")}) || msgID("t1", noExt) == msgID("t1", []*pulse.Event{ev("b", "")}) {
		t.Error("an event without external id is not named by its id")
	}
}

// A request splits into messages of at most maxMessageEvents events and
// maxBody bytes, in order, the same way every time.
func TestChunks(t *testing.T) {
	t.Parallel()
	var events []*pulse.Event
	for i := range 2500 {
		events = append(events, &pulse.Event{ID: fmt.Sprint(i), ContentHash: "h"})
	}
	one := eventSize(events[0])
	for name, tc := range map[string]struct {
		n, maxBody int
		want       []chunk
	}{
		"by count": {2500, 1 << 20, []chunk{{0, 1000}, {1000, 2000}, {2000, 2500}}},
		"by bytes": {5, 2*one + 1, []chunk{{0, 2}, {2, 4}, {4, 5}}},
		"one":      {1, 1, []chunk{{0, 1}}}, // larger than maxBody alone: its own message
		"none":     {0, 1 << 20, nil},
	} {
		// eventSize of ids "0".."9" equals; 2-digit ids are 1 byte longer.
		if got := chunks(events[:tc.n], tc.maxBody); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// encodeV1 is the version 1 body of e, as the previous version of
// Append wrote it.
func encodeV1(e *pulse.Event) ([]byte, error) {
	head, err := json.Marshal(wireEvent{
		Tenant: e.TenantID, ID: e.ID, ExternalID: e.ExternalID, EventType: e.EventType, Severity: e.Severity,
		Service: e.Service, Endpoint: e.Endpoint, StatusCode: e.StatusCode, UserID: e.UserID, Message: e.Message,
		Tags: e.Tags, Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt, ContentHash: e.ContentHash,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	body := make([]byte, 0, len(head)+1+len(e.Payload))
	body = append(append(head, '\n'), e.Payload...)
	return body, nil
}
