package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("UserExportAllPages", testUserExport)
	register("UserErase", testUserErase)
	register("UserEraseSticks", testUserEraseSticks)
	register("UserEraseInterrupted", testUserEraseInterrupted)
}

// userEvents stores n events of userID for the tenant (every third with an
// external id, several on one timestamp) and returns them.
func userEvents(t *testing.T, s pulse.Store, tenantID, userID string, n int) []*pulse.Event {
	t.Helper()
	base := now().Add(-3 * time.Hour).Truncate(time.Second)
	events := make([]*pulse.Event, n)
	for i := range events {
		e := newEvent(tenantID, base.Add(time.Duration(i/3)*time.Second))
		e.UserID, e.Message = userID, fmt.Sprintf("event %d of %s", i, userID)
		if i%3 == 0 {
			e.ExternalID = fmt.Sprintf("x-%s-%d", userID, i)
		}
		if i%4 == 0 {
			e.Tags = map[string]string{"env": "prod"}
		}
		events[i] = rehash(e)
	}
	for i := 0; i < n; i += 100 {
		insert(t, s, tenantID, events[i:min(i+100, n)]...)
	}
	return events
}

func exportAll(t *testing.T, s pulse.Store, tenantID, userID string, pageSize int) []*pulse.Event {
	t.Helper()
	var got []*pulse.Event
	n, err := pulse.ExportUserEvents(t.Context(), s, tenantID, userID, pageSize, func(page []*pulse.Event) error {
		got = append(got, page...)
		return nil
	})
	if err != nil || n != len(got) {
		t.Fatalf("ExportUserEvents: %d, %v (fn saw %d)", n, err, len(got))
	}
	return got
}

func testUserExport(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	events := userEvents(t, s, tn.ID, "alice", 53)
	userEvents(t, s, tn.ID, "bob", 10)
	other := createTenant(t, s, 0)
	userEvents(t, s, other.ID, "alice", 10)
	want := reference(events, pulse.EventFilter{Limit: pulse.MaxSearchLimit})
	for _, size := range []int{7, 53, pulse.ExportPageSize} {
		got := exportAll(t, s, tn.ID, "alice", size)
		checkSearch(t, fmt.Sprintf("export in pages of %d", size), got, want)
		for i := range got {
			checkEvent(t, got[i], want[i])
		}
	}
	if got := exportAll(t, s, tn.ID, "nobody", 10); len(got) != 0 {
		t.Errorf("export of an unknown user: %d events", len(got))
	}
}

func testUserErase(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	alice := userEvents(t, s, tn.ID, "alice", 25)
	bob := userEvents(t, s, tn.ID, "bob", 5)
	anon := userEvents(t, s, tn.ID, "", 3)
	other := createTenant(t, s, 0)
	otherAlice := userEvents(t, s, other.ID, "alice", 5)

	n, err := s.EraseUserEvents(t.Context(), tn.ID, "alice", 10)
	if err != nil || n != len(alice) {
		t.Fatalf("EraseUserEvents = %d, %v; want %d", n, err, len(alice))
	}
	if got := exportAll(t, s, tn.ID, "alice", 10); len(got) != 0 {
		t.Errorf("%d events of alice left", len(got))
	}
	for _, e := range alice[:3] {
		if _, err := s.GetEvent(t.Context(), tn.ID, e.ID); !pulse.IsNotFound(err) {
			t.Errorf("GetEvent of an erased event: %v", err)
		}
	}
	if got := search(t, s, tn.ID, pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}}, Limit: pulse.MaxSearchLimit}); len(got) != 2+1 {
		t.Errorf("tag search after erase: %d events, want bob's 2 and the anonymous 1", len(got))
	}
	checkSearch(t, "the rest of the tenant", search(t, s, tn.ID, pulse.EventFilter{Limit: pulse.MaxSearchLimit}),
		reference(append(bob, anon...), pulse.EventFilter{Limit: pulse.MaxSearchLimit}))
	checkSearch(t, "the other tenant's alice", exportAll(t, s, other.ID, "alice", 100),
		reference(otherAlice, pulse.EventFilter{Limit: pulse.MaxSearchLimit}))

	if n, err := s.EraseUserEvents(t.Context(), tn.ID, "alice", 10); err != nil || n != 0 {
		t.Errorf("second erase = %d, %v; want 0", n, err)
	}
	_, err = s.EraseUserEvents(t.Context(), tn.ID, "", 10)
	wantCode(t, err, pulse.EINVALID)
	if n, err := s.EraseUserEvents(t.Context(), newID(), "bob", 10); err != nil || n != 0 {
		t.Errorf("erase in an unknown tenant = %d, %v", n, err)
	}
}

// testUserEraseSticks: a replay of an erased event (a client retrying)
// is a duplicate of the erased id and stores nothing; different content
// under the same external id is a conflict.
func testUserEraseSticks(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	alice := userEvents(t, s, tn.ID, "alice", 6) // external ids on 0 and 3
	if _, err := s.EraseUserEvents(t.Context(), tn.ID, "alice", 0); err != nil {
		t.Fatal(err)
	}
	replay := *alice[0]
	replay.ID = newID()
	changed := *alice[3]
	changed.ID, changed.Message = newID(), "changed"
	rehash(&changed)
	fresh := withExternalID(newEvent(tn.ID, now()), "x-new")
	fresh.UserID = "alice"
	rehash(fresh)
	res := insert(t, s, tn.ID, &replay, &changed, fresh)
	wantResult(t, res[0], pulse.Duplicate, alice[0].ID)
	wantResult(t, res[1], pulse.Conflict, alice[3].ID)
	wantResult(t, res[2], pulse.Created, fresh.ID)
	refs, err := s.LookupExternalIDs(t.Context(), tn.ID, []string{alice[0].ExternalID, "x-never"})
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := refs[alice[0].ExternalID]; !ok || ref.ID != alice[0].ID || len(refs) != 1 {
		t.Errorf("LookupExternalIDs after erase = %v", refs)
	}
	checkSearch(t, "after replays", exportAll(t, s, tn.ID, "alice", 10), []*pulse.Event{fresh})
	// Another tenant's same external id is its own.
	other := createTenant(t, s, 0)
	mine := *alice[0]
	mine.ID, mine.TenantID = newID(), other.ID
	wantResult(t, insert(t, s, other.ID, &mine)[0], pulse.Created, mine.ID)
}

// stopAfter is a context cancelled by its own n-th Done call: the store
// is interrupted somewhere in the middle of its work, as by a crash or a
// client going away, at the same point on every run.
type stopAfter struct {
	context.Context
	left   atomic.Int64
	cancel context.CancelFunc
}

func (c *stopAfter) Done() <-chan struct{} {
	if c.left.Add(-1) == 0 {
		c.cancel()
	}
	return c.Context.Done()
}

// testUserEraseInterrupted: an erase cut short keeps what it erased (at
// least what it reported), leaves the rest whole, and a second call
// finishes; other users are untouched throughout.
func testUserEraseInterrupted(t *testing.T, s pulse.Store) {
	const total = 120
	// Where a store checks its context differs, so the interruption point
	// grows until the first transaction has committed: a cut before it
	// must leave everything (and report 0).
	for budget := int64(20); ; budget *= 2 {
		tn := createTenant(t, s, 0)
		userEvents(t, s, tn.ID, "alice", total)
		bob := userEvents(t, s, tn.ID, "bob", 4)
		inner, cancel := context.WithCancel(t.Context())
		ctx := &stopAfter{Context: inner, cancel: cancel}
		ctx.left.Store(budget)
		n, err := s.EraseUserEvents(ctx, tn.ID, "alice", 3)
		cancel()
		if err == nil {
			t.Fatalf("the erase finished (%d events) before its %d-th context check: stop it earlier", n, budget)
		}
		left := len(exportAll(t, s, tn.ID, "alice", 50))
		if n == 0 {
			if left != total {
				t.Fatalf("interrupted with 0 erased reported, but %d of %d left", left, total)
			}
			if budget > 1<<16 {
				t.Fatalf("no transaction committed in %d context checks", budget)
			}
			continue
		}
		if left == 0 || left > total-n {
			t.Fatalf("interrupted after %d erased: %d left of %d", n, left, total)
		}
		if left%3 != 0 && left != total-n {
			t.Errorf("%d left: a chunk was half erased", left)
		}
		m, err := s.EraseUserEvents(t.Context(), tn.ID, "alice", 3)
		if err != nil || m != left {
			t.Fatalf("repeated erase = %d, %v; want %d", m, err, left)
		}
		if got := exportAll(t, s, tn.ID, "alice", 50); len(got) != 0 {
			t.Errorf("%d events left after the repeat", len(got))
		}
		checkSearch(t, "bob", exportAll(t, s, tn.ID, "bob", 50), reference(bob, pulse.EventFilter{Limit: 10}))
		return
	}
}
