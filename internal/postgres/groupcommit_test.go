package postgres

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// TestInsertGroupAcrossRequests drives one group transaction by hand:
// requests of two tenants share the claim and insert statements. The same
// external id in two requests of one tenant creates one event (the later
// request sees a duplicate, or a conflict for other content); the same
// external id in another tenant is that tenant's own event.
func TestInsertGroupAcrossRequests(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	a, b := createTenant(t, db, 0), createTenant(t, db, 0)
	at := now()
	event := func(tenant *pulse.Tenant, ext, hash string) *pulse.Event {
		e := newEvent(tenant.ID, at, ext)
		e.ContentHash = hash
		return e
	}
	req := func(tenant *pulse.Tenant, events ...*pulse.Event) insertReq {
		return insertReq{ctx: t.Context(), tenantID: tenant.ID, events: events}
	}
	mustInsert(t, db, a.ID, event(a, "", "h")) // creates today's partition
	reqs := []insertReq{
		req(a, event(a, "x", "h1"), event(a, "x", "h1"), event(a, "", "h")), // a repeat inside the request; no key
		req(a, event(a, "x", "h1")),                                         // same content, later request: duplicate
		req(a, event(a, "x", "h2")),                                         // other content: conflict
		req(b, event(b, "x", "h2")),                                         // another tenant: created
	}
	results, err := db.insertGroup(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	first := results[0][0]
	want := [][]pulse.InsertStatus{{pulse.Created, pulse.Duplicate, pulse.Created}, {pulse.Duplicate}, {pulse.Conflict}, {pulse.Created}}
	for r, statuses := range want {
		for i, st := range statuses {
			if got := results[r][i]; got.Status != st {
				t.Errorf("request %d event %d: status %v, want %v", r, i, got.Status, st)
			} else if r < 3 && reqs[r].events[i].ExternalID != "" && got.ID != first.ID {
				t.Errorf("request %d event %d: id %s, want the first event's %s", r, i, got.ID, first.ID)
			}
		}
	}
	for _, tn := range []*pulse.Tenant{a, b} {
		got, err := db.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{ExternalID: "x"})
		if err != nil || len(got) != 1 {
			t.Fatalf("tenant %s: %d events with external id x (%v), want 1", tn.ID, len(got), err)
		}
	}
	if results[3][0].ID == first.ID {
		t.Errorf("tenant b's event took tenant a's id")
	}
}

// TestGroupCommitConcurrentSingles sends many single-event calls at once
// through the committer (so that groups form): every call is answered,
// each distinct external id is created once and each repeat is a duplicate.
func TestGroupCommitConcurrentSingles(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	tn := createTenant(t, db, 0)
	at := now()
	mustInsert(t, db, tn.ID, newEvent(tn.ID, at, "")) // creates today's partition
	const keys, copies = 40, 3
	var mu sync.Mutex
	created := map[string]int{}
	var wg sync.WaitGroup
	for c := range copies {
		for k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEvent(tn.ID, at, fmt.Sprint("key-", k))
				e.ContentHash = fmt.Sprint("h-", k)
				res, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{e})
				if err != nil {
					t.Errorf("copy %d key %d: %v", c, k, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch res[0].Status {
				case pulse.Created:
					created[e.ExternalID]++
				case pulse.Duplicate:
				default:
					t.Errorf("copy %d key %d: status %v", c, k, res[0].Status)
				}
			}()
		}
	}
	wg.Wait()
	if len(created) != keys {
		t.Errorf("%d keys created, want %d", len(created), keys)
	}
	for k, n := range created {
		if n != 1 {
			t.Errorf("%s created %d times", k, n)
		}
	}
	got, err := db.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 500})
	if err != nil || len(got) != keys+1 {
		t.Errorf("%d events stored (%v), want %d", len(got), err, keys+1)
	}
}

// TestInsertOutcomeUnknown loses the answer to a group's COMMIT and makes
// the database unreachable at once, so the re-check on a fresh connection
// cannot run either: the caller must get EUNKNOWN (the events may be
// stored), never EUNAVAILABLE ("nothing was kept") — the COMMIT did reach
// PostgreSQL here, so the event is stored. A retry with the same external
// id after the database is back is a duplicate with the stored id.
func TestInsertOutcomeUnknown(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartProxy(t, u.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, strings.Replace(dsn, u.Host, p.Addr, 1), Config{Schema: newTestSchema(t), MaxConns: 4})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	tn := createTenant(t, db, 0)
	at := now()
	mustInsert(t, db, tn.ID, newEvent(tn.ID, at, "")) // creates today's partition

	lost := p.CutAfterNextCommit()
	e := newEvent(tn.ID, at, "lost-answer")
	_, err = db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{e})
	<-lost
	if code := pulse.ErrorCode(err); code != pulse.EUNKNOWN {
		t.Fatalf("InsertEvents with the COMMIT's answer lost and the database unreachable: %v (code %q), want %q", err, code, pulse.EUNKNOWN)
	}

	p.Restore()
	retry := newEvent(tn.ID, at, "lost-answer")
	res := mustInsert(t, db, tn.ID, retry)
	if res[0].Status != pulse.Duplicate || res[0].ID != e.ID {
		t.Fatalf("retry after the database came back: %+v, want duplicate of %s (the COMMIT had reached PostgreSQL)", res[0], e.ID)
	}
}

// TestQueuedInsertAnswersAtItsDeadline: a request still queued when its
// context ends (every writer busy, e.g. stuck on an unreachable database)
// is answered EUNAVAILABLE at once instead of waiting for a writer, and a
// writer that reaches it later leaves it out: nothing of it is stored.
func TestQueuedInsertAnswersAtItsDeadline(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	tn := createTenant(t, db, 0)
	// A committer whose writers are all busy: none runs yet.
	c := &committer{db: db, queue: make(chan insertReq, 4), closing: make(chan struct{}), stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	answered := make(chan error, 1)
	e := newEvent(tn.ID, now(), "queued-too-long")
	go func() {
		_, err := c.submit(ctx, insertReq{ctx: ctx, tenantID: tn.ID, events: []*pulse.Event{e}})
		answered <- err
	}()
	for len(c.queue) == 0 { // wait until it is queued
		runtime.Gosched()
	}
	cancel()
	select {
	case err := <-answered:
		if code := pulse.ErrorCode(err); code != pulse.EUNAVAILABLE {
			t.Fatalf("queued request whose context ended: %v (code %q), want %q", err, code, pulse.EUNAVAILABLE)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("a queued request whose context ended is still waiting for a writer")
	}
	c.commit([]insertReq{<-c.queue}) // a writer frees up and takes it
	if got, err := db.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("%d events stored (%v) from an abandoned request, want 0", len(got), err)
	}
}
