package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

var sprintf = fmt.Sprintf

// TestIdempotencyCanonical: a replay of an event under its external_id is
// a duplicate when it means the same (keys in another order, 1.0 for 1,
// another escape of one string, the same instant in another offset) and a
// conflict when a value changed, on singles and in batches.
func TestIdempotencyCanonical(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("canon", 0)
		const orig = `{"event_type":"order.paid","service":"shop","external_id":"o-1","timestamp":"%s",` +
			`"tags":{"a":"1","b":"2"},"payload":{"amount":1,"items":[{"sku":"x","qty":2}],"id":12345678901234567890}}`
		ts := ts(n.Clock.Now().Add(-1e9))
		first := n.do("POST", "/api/v1/events", key, sprintf(orig, ts))
		expectStatus(t, first, http.StatusCreated)
		id := first.JSON(t)["id"]

		same := []string{
			sprintf(orig, ts),
			sprintf(`{"payload":{"id":12345678901234567890,"items":[{"qty":2,"sku":"x"}],"amount":1.0},"tags":{"b":"2","a":"1"},`+
				`"timestamp":"%s","external_id":"o-1","service":"shop","event_type":"order.paid"}`, ts),
			sprintf(`{"event_type":"order.paid","service":"shop","external_id":"o-1","timestamp":"%s",`+
				`"tags":{"a":"1","b":"2"},"payload":{"amount":1e0,"items":[{"sku":"\u0078","qty":20e-1}],"id":12345678901234567890}}`, ts),
		}
		for _, body := range same {
			r := n.do("POST", "/api/v1/events", key, body)
			expectStatus(t, r, http.StatusOK)
			if r.JSON(t)["id"] != id {
				t.Fatalf("duplicate answered another id: %s", r.Body)
			}
		}
		different := []string{
			sprintf(`{"event_type":"order.paid","service":"shop","external_id":"o-1","timestamp":"%s",`+
				`"tags":{"a":"1","b":"2"},"payload":{"amount":2,"items":[{"sku":"x","qty":2}],"id":12345678901234567890}}`, ts),
			// float64 cannot tell these two integers apart; the comparison can.
			sprintf(`{"event_type":"order.paid","service":"shop","external_id":"o-1","timestamp":"%s",`+
				`"tags":{"a":"1","b":"2"},"payload":{"amount":1,"items":[{"sku":"x","qty":2}],"id":12345678901234567891}}`, ts),
			sprintf(`{"event_type":"order.paid","service":"shop","external_id":"o-1","timestamp":"%s",`+
				`"tags":{"a":"1","b":"2"},"payload":{"amount":"1","items":[{"sku":"x","qty":2}],"id":12345678901234567890}}`, ts),
		}
		for _, body := range different {
			problem(t, n.do("POST", "/api/v1/events", key, body), http.StatusConflict)
		}

		// In a batch: a reordered repeat of a new event and of the stored one.
		r := n.do("POST", "/api/v1/events/batch", key, `{"events":[`+
			`{"event_type":"x","service":"s","external_id":"b-1","payload":{"a":1,"b":2}},`+
			`{"service":"s","event_type":"x","external_id":"b-1","payload":{"b":2.0,"a":1}},`+
			sprintf(orig, ts)+`,`+same[1]+`]}`)
		expectStatus(t, r, http.StatusOK)
		var got []string
		for _, res := range r.JSON(t)["results"].([]any) {
			got = append(got, res.(map[string]any)["status"].(string))
		}
		if want := []string{"created", "duplicate", "duplicate", "duplicate"}; !slices.Equal(got, want) {
			t.Fatalf("batch statuses %v, want %v: %s", got, want, r.Body)
		}
	})
}

// TestExternalIDRules: an external id with white space at an end or an
// invisible character is refused (422 naming external_id), not cleaned up.
func TestExternalIDRules(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("extid", 0)
		for _, bad := range []string{" o-1", "o-1 ", "o-1\t", "o\u200b-1", "\ufeffo-1", "o-1\u202e", "o\u00001"} {
			invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": bad})), "external_id")
		}
		n.ingest(key, event(map[string]any{"external_id": "o 1/é"}))
	})
}

// TestEscapedKeysAndSurrogates: a key written with an escape is the same
// key (a duplicate is refused), and a lone surrogate escape, which would be
// stored as U+FFFD, is refused wherever it is.
func TestEscapedKeysAndSurrogates(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("escapes", 0)
		cases := map[string]string{
			`{"event_type":"x","service":"s","tags":{"a":"1","\u0061":"2"}}`: "tags.a",
			`{"event_type":"x","service":"s","\u0073ervice":"t"}`:            "service",
			`{"event_type":"x","service":"s","payload":{"k":1,"\u006b":2}}`:  "payload",
			`{"event_type":"x","service":"s","tags":{"a":"\ud800"}}`:         "tags",
			`{"event_type":"x","service":"s","message":"\udc00"}`:            "message",
			`{"event_type":"x","service":"s","payload":{"k":["a\ud83d"]}}`:   "payload",
			`{"event_type":"x","service":"s","payload":{"\udbff":1}}`:        "payload",
			`{"event_type":"x","service":"s","external_id":"\ud800\ud800"}`:  "external_id",
		}
		for body, field := range cases {
			invalid(t, n.do("POST", "/api/v1/events", key, body), field)
		}
		// In a batch the bad event is refused alone.
		r := n.do("POST", "/api/v1/events/batch", key, `{"events":[{"event_type":"x","service":"s","tags":{"a":"\ud800"}},{"event_type":"x","service":"s"}]}`)
		expectStatus(t, r, http.StatusOK)
		results := r.JSON(t)["results"].([]any)
		if s0, s1 := results[0].(map[string]any)["status"], results[1].(map[string]any)["status"]; s0 != "rejected" || s1 != "created" {
			t.Fatalf("batch statuses %v %v: %s", s0, s1, r.Body)
		}
		// A proper pair is stored as the character it encodes.
		id := n.ingest(key, map[string]any{"event_type": "x", "service": "s", "tags": map[string]any{"e": "😀"}})
		if got := n.get(key, id).Tags["e"]; got != "😀" {
			t.Fatalf("tag stored as %q", got)
		}
	})
}
