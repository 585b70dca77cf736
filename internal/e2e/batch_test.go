package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

func TestBatchOneInvalidAmongTen(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("batch", 0)
		var evs []map[string]any
		for i := range 10 {
			evs = append(evs, event(map[string]any{"message": fmt.Sprintf("m%d", i)}))
		}
		evs[6]["severity"] = "loud"
		r, b := n.batch(key, evs)
		expectStatus(t, r, http.StatusOK)
		b.checkOrder(t, 10)
		if b.Accepted != 9 || b.Rejected != 1 || b.Duplicates != 0 || b.RateLimited != 0 {
			t.Fatalf("counts = %+v, want accepted 9, rejected 1", b)
		}
		for i, res := range b.Results {
			if i == 6 {
				if res.Status != "rejected" || len(res.Errors) == 0 || res.Errors[0].Field != "severity" || res.Errors[0].Message == "" || res.ID != "" {
					t.Fatalf("result 6 = %+v, want rejected naming severity", res)
				}
				continue
			}
			if res.Status != "created" || !uuidRE.MatchString(res.ID) {
				t.Fatalf("result %d = %+v", i, res)
			}
			if e := n.get(key, res.ID); e.Message != fmt.Sprintf("m%d", i) {
				t.Fatalf("result %d points at event with message %q", i, e.Message)
			}
		}
		if p := n.search(key, nil); len(p.Events) != 9 {
			t.Fatalf("%d events stored, want 9", len(p.Events))
		}
	})
}

func TestBatchMixedOutcomes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("mixed", 0)
		old := n.ingest(key, event(map[string]any{"external_id": "old", "message": "a"}))
		evs := []map[string]any{
			event(map[string]any{"external_id": "x"}),                   // 0 created
			event(map[string]any{"external_id": "x"}),                   // 1 duplicate of 0
			event(map[string]any{"external_id": "y", "message": "one"}), // 2 created
			event(map[string]any{"external_id": "y", "message": "two"}), // 3 conflict with 2
			event(map[string]any{"external_id": "old", "message": "a"}), // 4 duplicate of the stored one
			event(map[string]any{"external_id": "old", "message": "b"}), // 5 conflict with the stored one
			event(map[string]any{"status_code": 1}),                     // 6 rejected
			event(map[string]any{"external_id": "x"}),                   // 7 duplicate of 0
		}
		raw := []any{}
		for _, e := range evs {
			raw = append(raw, e)
		}
		raw = append(raw, 5, "str", nil) // 8, 9, 10: not objects
		r := n.do("POST", "/api/v1/events/batch", key, map[string]any{"events": raw})
		expectStatus(t, r, http.StatusOK)
		var b batchResult
		mustUnmarshal(t, r.Body, &b)
		b.checkOrder(t, 11)
		want := []string{"created", "duplicate", "created", "conflict", "duplicate", "conflict", "rejected", "duplicate", "rejected", "rejected", "rejected"}
		for i, w := range want {
			if b.Results[i].Status != w {
				t.Fatalf("result %d = %+v, want %s (all: %s)", i, b.Results[i], w, r.Body)
			}
		}
		if b.Accepted != 2 || b.Duplicates != 3 || b.Rejected != 6 {
			t.Fatalf("counts = accepted %d duplicates %d rejected %d, want 2, 3, 6", b.Accepted, b.Duplicates, b.Rejected)
		}
		res := b.Results
		if res[1].ID != res[0].ID || res[7].ID != res[0].ID || res[3].ID != res[2].ID || res[4].ID != old || res[5].ID != old {
			t.Fatalf("duplicate/conflict ids do not name the original: %s", r.Body)
		}
		if res[0].ID == res[2].ID || res[0].ID == old {
			t.Fatalf("distinct events share an id: %s", r.Body)
		}
		for _, i := range []int{3, 5} {
			if len(res[i].Errors) == 0 || res[i].Errors[0].Field != "external_id" {
				t.Errorf("conflict %d does not name external_id: %+v", i, res[i])
			}
		}
		for _, i := range []int{6, 8, 9, 10} {
			if len(res[i].Errors) == 0 || res[i].Errors[0].Field == "" {
				t.Errorf("rejected %d names no field: %+v", i, res[i])
			}
		}
		if e := n.get(key, res[2].ID); e.Message != "one" {
			t.Errorf("conflicting second event overwrote the first: %q", e.Message)
		}
		if p := n.search(key, nil); len(p.Events) != 3 {
			t.Fatalf("%d events stored, want 3", len(p.Events))
		}

		// Replaying the batch creates nothing.
		r = n.do("POST", "/api/v1/events/batch", key, map[string]any{"events": raw})
		expectStatus(t, r, http.StatusOK)
		mustUnmarshal(t, r.Body, &b)
		if b.Accepted != 0 || b.Duplicates != 5 {
			t.Fatalf("replayed batch: %s", r.Body)
		}
		if p := n.search(key, nil); len(p.Events) != 3 {
			t.Fatalf("%d events after replay, want 3", len(p.Events))
		}
	})
}

func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("refusals", 100000)

		// Every event invalid: 422 with the batch shape.
		r, b := n.batch(key, []map[string]any{event(map[string]any{"service": nil}), event(map[string]any{"severity": "x"})})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		b.checkOrder(t, 2)
		if b.Accepted != 0 || b.Rejected != 2 || b.Results[0].Errors[0].Field != "service" || b.Results[1].Errors[0].Field != "severity" {
			t.Fatalf("all-invalid batch: %s", r.Body)
		}

		// Event count.
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"events":[]}`), "events")
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{}`), "events")
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"events":null}`), "events")
		many := make([]map[string]any, 1001)
		for i := range many {
			many[i] = event(nil)
		}
		r = n.do("POST", "/api/v1/events/batch", key, map[string]any{"events": many})
		if r.Status == http.StatusUnprocessableEntity {
			invalid(t, r, "events")
		} else {
			problem(t, r, http.StatusRequestEntityTooLarge)
		}

		// Shape.
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"events":{"event_type":"a"}}`), "events")
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"events":"a"}`), "events")
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"events":[{"event_type":"a","service":"b"}],"extra":1}`), "extra")
		for _, body := range []string{`[{"event_type":"a","service":"b"}]`, `"events"`, `7`} {
			r := n.do("POST", "/api/v1/events/batch", key, body)
			if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
				t.Errorf("batch body %s: status %d, want 400 or 422", body, r.Status)
			}
			problem(t, r, r.Status)
		}
		problem(t, n.do("POST", "/api/v1/events/batch", key, `{"events":[`), http.StatusBadRequest)
		problem(t, n.do("POST", "/api/v1/events/batch", key, `{"events":[]}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)

		if p := n.search(key, nil); len(p.Events) != 0 {
			t.Fatalf("%d events stored from refused batches", len(p.Events))
		}

		// Exactly 1000 is fine.
		r, b = n.batch(key, many[:1000])
		expectStatus(t, r, http.StatusOK)
		if b.Accepted != 1000 {
			t.Fatalf("1000-event batch accepted %d", b.Accepted)
		}
	})
}

// TestBatchEnvelopeExactNames: the envelope's one field is "events",
// spelled exactly.
func TestBatchEnvelopeExactNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("envelope", 0)
		invalid(t, n.do("POST", "/api/v1/events/batch", key, `{"EVENTS":[{"event_type":"a","service":"b"}]}`), "EVENTS")
		if p := n.search(key, nil); len(p.Events) != 0 {
			t.Fatalf("%d events stored", len(p.Events))
		}
	})
}

// A repeat inside a batch whose first occurrence conflicts is compared with
// what is stored, not with the first occurrence: [{x,H2},{x,H1}] against a
// stored {x,H1} is [conflict, duplicate], whatever the remaining quota.
func TestBatchRepeatAfterConflictMatchesStored(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("repeat-conflict", 100000)
		stored := event(map[string]any{"external_id": "x", "service": "one"})
		first := n.do("POST", "/api/v1/events", key, stored)
		expectStatus(t, first, http.StatusCreated)
		id := first.JSON(t)["id"]
		r := n.do("POST", "/api/v1/events/batch", key, map[string]any{"events": []any{
			event(map[string]any{"external_id": "x", "service": "two"}), stored,
		}})
		expectStatus(t, r, http.StatusOK)
		res := r.JSON(t)["results"].([]any)
		a, b := res[0].(map[string]any), res[1].(map[string]any)
		if a["status"] != "conflict" || b["status"] != "duplicate" || a["id"] != id || b["id"] != id {
			t.Fatalf("results = %v, want [conflict, duplicate] with the stored id %v", res, id)
		}
	})
}
