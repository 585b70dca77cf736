package natslog

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A message carries every stored field, and the payload byte for byte
// (encoding/json would compact it and escape <, > and &).
func TestWireRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 7, 0, 0, 123456000, time.UTC)
	e := &pulse.Event{
		ID: pulse.NewID(), TenantID: "t-1", ExternalID: "x\n1", EventType: "a.b", Severity: pulse.SeverityError,
		Service: "api", Endpoint: "/v1", StatusCode: 503, UserID: "u", Message: "line 1\nline 2 <&>",
		Tags: map[string]string{"k": "v"}, Timestamp: at, ReceivedAt: at.Add(time.Second),
		Payload: json.RawMessage("{\"a\": \"<b>\",\n \"n\": 1.50}"), ContentHash: "h",
	}
	body, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("decode(encode(e)) =\n%+v\nwant\n%+v", got, e)
	}
	plain := *e
	plain.Payload = nil
	body, _ = encode(&plain)
	if got, err := decode(body); err != nil || got.Payload != nil {
		t.Errorf("no payload: %v, payload %q", err, got.Payload)
	}
	for _, bad := range []string{"", "{}", "not json\n{}", `{"tenant":"t","id":"i"}` + "\n"} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
}

// The Nats-Msg-Id names (tenant, external_id) — the same for a replay
// through any node, different across tenants — or the event id.
func TestMsgID(t *testing.T) {
	t.Parallel()
	a := &pulse.Event{ID: "id-a", TenantID: "t1", ExternalID: "x"}
	b := &pulse.Event{ID: "id-b", TenantID: "t1", ExternalID: "x"}
	other := &pulse.Event{ID: "id-c", TenantID: "t2", ExternalID: "x"}
	split := &pulse.Event{ID: "id-d", TenantID: "t1x", ExternalID: ""}
	if msgID(a) != msgID(b) {
		t.Error("a replay has another message id")
	}
	if msgID(a) == msgID(other) {
		t.Error("two tenants' external ids share a message id")
	}
	if msgID(split) != "id-id-d" {
		t.Errorf("without external id: %q", msgID(split))
	}
}
