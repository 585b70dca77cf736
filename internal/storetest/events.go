package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("InsertEventsCreated", testInsertCreated)
	register("InsertEventsEmpty", testInsertEmpty)
	register("InsertEventsDuplicate", testInsertDuplicate)
	register("InsertEventsConflict", testInsertConflict)
	register("InsertEventsCanonicalAndLegacyHash", testInsertCanonicalAndLegacyHash)
	register("InsertEventsDuplicateWithinCall", testInsertDuplicateWithinCall)
	register("InsertEventsExternalIDPerTenant", testInsertExternalIDPerTenant)
	register("InsertEventsWithoutExternalID", testInsertWithoutExternalID)
	register("InsertEventsConcurrentSameExternalID", testInsertConcurrent)
	register("InsertEventsBatch1000", testInsertBatch1000)
	register("InsertEventsAtomicOnError", testInsertAtomic)
	register("EventRoundTrip", testEventRoundTrip)
	register("GetEventNotFound", testGetEventNotFound)
	register("LookupExternalIDs", testLookupExternalIDs)
}

func getEvent(t *testing.T, s pulse.Store, tenantID, id string) *pulse.Event {
	t.Helper()
	e, err := s.GetEvent(t.Context(), tenantID, id)
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", id, err)
	}
	return e
}

func wantResult(t *testing.T, got pulse.InsertResult, status pulse.InsertStatus, id string) {
	t.Helper()
	if got.Status != status || got.ID != id {
		t.Errorf("result = {%v %s}, want {%v %s}", got.Status, got.ID, status, id)
	}
}

func testInsertCreated(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	ts := now().Add(-time.Minute)
	a, b := withExternalID(newEvent(tn.ID, ts), "order-1"), newEvent(tn.ID, ts)
	res := insert(t, s, tn.ID, a, b)
	wantResult(t, res[0], pulse.Created, a.ID)
	wantResult(t, res[1], pulse.Created, b.ID)
	checkEvent(t, getEvent(t, s, tn.ID, a.ID), a)
	checkEvent(t, getEvent(t, s, tn.ID, b.ID), b)
}

func testInsertEmpty(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	res, err := s.InsertEvents(t.Context(), tn.ID, nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("InsertEvents(nil) = %v, %v; want no results, no error", res, err)
	}
}

func testInsertDuplicate(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	orig := withExternalID(newEvent(tn.ID, now()), "dup-1")
	insert(t, s, tn.ID, orig)
	replay := *orig
	replay.ID = newID() // a replay gets a new id from the server; same content
	replay.ReceivedAt = orig.ReceivedAt.Add(time.Second)
	res := insert(t, s, tn.ID, &replay)
	wantResult(t, res[0], pulse.Duplicate, orig.ID)
	checkEvent(t, getEvent(t, s, tn.ID, orig.ID), orig)
	_, err := s.GetEvent(t.Context(), tn.ID, replay.ID)
	wantCode(t, err, pulse.ENOTFOUND)
}

func testInsertConflict(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	orig := withExternalID(newEvent(tn.ID, now()), "conf-1")
	insert(t, s, tn.ID, orig)
	other := newEvent(tn.ID, now())
	other.Message = "different content"
	withExternalID(other, "conf-1")
	res := insert(t, s, tn.ID, other)
	wantResult(t, res[0], pulse.Conflict, orig.ID)
	checkEvent(t, getEvent(t, s, tn.ID, orig.ID), orig) // the original is kept
	_, err := s.GetEvent(t.Context(), tn.ID, other.ID)
	wantCode(t, err, pulse.ENOTFOUND)
}

// testInsertCanonicalAndLegacyHash: stores compare content only through
// pulse.Event.SameContent, so a replay in another form of an event is a
// duplicate, and so is a byte-identical replay of an event stored by a
// version that hashed the bytes as sent (its hash below was computed by
// that version for this body).
func testInsertCanonicalAndLegacyHash(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	parse := func(body string) *pulse.Event {
		t.Helper()
		e, err := pulse.ParseEvent([]byte(body), pulse.ParseOptions{Now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatalf("ParseEvent: %v", err)
		}
		e.ID, e.TenantID, e.ReceivedAt = newID(), tn.ID, now()
		return e
	}
	const sent = `{"event_type":"x","service":"s","external_id":"k","timestamp":"2026-11-26T10:00:00+01:00","payload":{"b":1.0,"a":[1e0,"\u00e9"]}}`
	old := parse(sent)
	old.ContentHash = "8df2ce292632cee5b9a38f77684182dd" // as stored before the canonical hash
	insert(t, s, tn.ID, old)
	res := insert(t, s, tn.ID, parse(sent), parse(sent))
	wantResult(t, res[0], pulse.Duplicate, old.ID)
	wantResult(t, res[1], pulse.Duplicate, old.ID)

	fresh := parse(strings.Replace(sent, `"k"`, `"k2"`, 1))
	insert(t, s, tn.ID, fresh)
	reordered := parse(`{"external_id":"k2","service":"s","event_type":"x","timestamp":"2026-11-26T09:00:00Z","payload":{"a":[1,"é"],"b":1}}`)
	changed := parse(`{"external_id":"k2","service":"s","event_type":"x","timestamp":"2026-11-26T09:00:00Z","payload":{"a":[1,"é"],"b":2}}`)
	res = insert(t, s, tn.ID, reordered, changed)
	wantResult(t, res[0], pulse.Duplicate, fresh.ID)
	wantResult(t, res[1], pulse.Conflict, fresh.ID)
}

func testInsertDuplicateWithinCall(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	first := withExternalID(newEvent(tn.ID, now()), "same")
	again := *first
	again.ID = newID()
	changed := newEvent(tn.ID, now())
	changed.Message = "changed"
	withExternalID(changed, "same")
	plain := newEvent(tn.ID, now())
	res := insert(t, s, tn.ID, first, &again, plain, changed)
	wantResult(t, res[0], pulse.Created, first.ID)
	wantResult(t, res[1], pulse.Duplicate, first.ID)
	wantResult(t, res[2], pulse.Created, plain.ID)
	wantResult(t, res[3], pulse.Conflict, first.ID)
	got, err := s.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 100})
	if err != nil {
		t.Fatalf("SearchEvents: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("stored %d events, want 2", len(got))
	}
}

func testInsertExternalIDPerTenant(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	ea := withExternalID(newEvent(a.ID, now()), "shared-ext")
	eb := newEvent(b.ID, now())
	eb.TenantID = b.ID
	withExternalID(eb, "shared-ext")
	wantResult(t, insert(t, s, a.ID, ea)[0], pulse.Created, ea.ID)
	wantResult(t, insert(t, s, b.ID, eb)[0], pulse.Created, eb.ID)
	checkEvent(t, getEvent(t, s, a.ID, ea.ID), ea)
	checkEvent(t, getEvent(t, s, b.ID, eb.ID), eb)
}

func testInsertWithoutExternalID(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	e := newEvent(tn.ID, now())
	for range 3 {
		same := *e // identical content, no external_id: always a new event
		same.ID = newID()
		wantResult(t, insert(t, s, tn.ID, &same)[0], pulse.Created, same.ID)
	}
	got, err := s.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 10})
	if err != nil {
		t.Fatalf("SearchEvents: %v", err)
	}
	if len(got) != 3 {
		t.Errorf("stored %d events, want 3", len(got))
	}
}

func testInsertConcurrent(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	const n = 50
	proto := withExternalID(newEvent(tn.ID, now()), "race")
	results := make([]pulse.InsertResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := *proto
			e.ID = newID()
			<-start
			res, err := s.InsertEvents(t.Context(), tn.ID, []*pulse.Event{&e})
			if err == nil && len(res) == 1 {
				results[i] = res[0]
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	var created, dup int
	id := ""
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("InsertEvents #%d: %v", i, errs[i])
		}
		switch results[i].Status {
		case pulse.Created:
			created++
		case pulse.Duplicate:
			dup++
		}
		if id == "" {
			id = results[i].ID
		} else if results[i].ID != id {
			t.Errorf("result #%d has id %s, others %s", i, results[i].ID, id)
		}
	}
	if created != 1 || dup != n-1 {
		t.Fatalf("created=%d duplicate=%d, want 1 and %d", created, dup, n-1)
	}
	got, err := s.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 100})
	if err != nil {
		t.Fatalf("SearchEvents: %v", err)
	}
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("stored %v, want exactly %s", ids(got), id)
	}
}

func testInsertBatch1000(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	base := now().Add(-time.Hour)
	events := make([]*pulse.Event, 1000)
	for i := range events {
		events[i] = newEvent(tn.ID, base.Add(time.Duration(i)*time.Millisecond))
		if i%2 == 0 {
			events[i].Tags = map[string]string{"i": fmt.Sprint(i)}
			withExternalID(events[i], fmt.Sprintf("batch-%d", i))
		}
	}
	res := insert(t, s, tn.ID, events...)
	for i, r := range res {
		wantResult(t, r, pulse.Created, events[i].ID)
	}
	got, err := s.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: pulse.MaxSearchLimit})
	if err != nil {
		t.Fatalf("SearchEvents: %v", err)
	}
	if len(got) != 1000 {
		t.Fatalf("SearchEvents returned %d events, want 1000", len(got))
	}
	for i, e := range got {
		checkEvent(t, e, events[999-i])
	}
}

// testInsertAtomic makes the third event fail (it reuses the first one's
// primary key) and checks that nothing of the call was stored.
func testInsertAtomic(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	a := withExternalID(newEvent(tn.ID, now()), "atomic-a")
	b := newEvent(tn.ID, now())
	bad := newEvent(tn.ID, now())
	bad.ID = a.ID
	if _, err := s.InsertEvents(t.Context(), tn.ID, []*pulse.Event{a, b, bad}); err == nil {
		t.Fatalf("InsertEvents with a repeated primary key succeeded")
	}
	for _, e := range []*pulse.Event{a, b} {
		_, err := s.GetEvent(t.Context(), tn.ID, e.ID)
		wantCode(t, err, pulse.ENOTFOUND)
	}
	refs, err := s.LookupExternalIDs(t.Context(), tn.ID, []string{"atomic-a"})
	if err != nil {
		t.Fatalf("LookupExternalIDs: %v", err)
	}
	if len(refs) != 0 {
		t.Errorf("external id of a failed call is stored: %v", refs)
	}
	// The store still works and the external id is free.
	wantResult(t, insert(t, s, tn.ID, a)[0], pulse.Created, a.ID)
}

func testEventRoundTrip(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	full := newEvent(tn.ID, now().Add(-90*time.Minute+123*time.Microsecond))
	full.ReceivedAt = now().Add(-time.Second)
	full.EventType = "payment.failed:v2-x_y"
	full.Severity = pulse.SeverityCritical
	full.Service = "billing ✓"
	full.Endpoint = "/v1/payments/{id}?q=1"
	full.StatusCode = 503
	full.UserID = "user-Ω-42"
	full.Message = "card \"declined\"\nline two 'quoted' \\ back; DROP TABLE events; -- 💥"
	full.Tags = map[string]string{"env": "prod", "région": "eu-west", "empty": "", "sql": "' OR 1=1 --"}
	full.Payload = json.RawMessage(`{"amount":12.5,"currency":"EUR","items":[1,2,{"x":null}],"nested":{"a":"\u00e9"}}`)
	withExternalID(full, "ext ✓ 1")

	minimal := newEvent(tn.ID, now().Add(-time.Hour))
	minimal.Severity = pulse.SeverityDebug
	rehash(minimal) // StatusCode 0, empty optional strings, no tags, no payload

	insert(t, s, tn.ID, full, minimal)
	checkEvent(t, getEvent(t, s, tn.ID, full.ID), full)
	checkEvent(t, getEvent(t, s, tn.ID, minimal.ID), minimal)

	got, err := s.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 10})
	if err != nil {
		t.Fatalf("SearchEvents: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("SearchEvents returned %d events, want 2", len(got))
	}
	checkEvent(t, got[0], minimal) // newer first
	checkEvent(t, got[1], full)
}

func testGetEventNotFound(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	e := newEvent(a.ID, now())
	insert(t, s, a.ID, e)
	_, err := s.GetEvent(t.Context(), b.ID, e.ID)
	wantCode(t, err, pulse.ENOTFOUND)
	_, err = s.GetEvent(t.Context(), a.ID, newID())
	wantCode(t, err, pulse.ENOTFOUND)
}

func testLookupExternalIDs(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	e1 := withExternalID(newEvent(a.ID, now()), "look-1")
	e2 := withExternalID(newEvent(a.ID, now()), "look-2")
	eb := newEvent(b.ID, now())
	withExternalID(eb, "look-3")
	insert(t, s, a.ID, e1, e2, newEvent(a.ID, now()))
	insert(t, s, b.ID, eb)

	got, err := s.LookupExternalIDs(t.Context(), a.ID, []string{"look-1", "look-2", "look-3", "missing", "look-1"})
	if err != nil {
		t.Fatalf("LookupExternalIDs: %v", err)
	}
	want := map[string]pulse.StoredRef{
		"look-1": {ID: e1.ID, ContentHash: e1.ContentHash},
		"look-2": {ID: e2.ID, ContentHash: e2.ContentHash},
	}
	if len(got) != len(want) {
		t.Errorf("LookupExternalIDs = %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("LookupExternalIDs[%q] = %+v, want %+v", k, got[k], w)
		}
	}
	got, err = s.LookupExternalIDs(t.Context(), a.ID, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("LookupExternalIDs(nil) = %v, %v; want empty", got, err)
	}
}
