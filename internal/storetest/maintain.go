package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("MaintainRetentionPerTenant", testMaintainRetention)
	register("MaintainSmallChunks", testMaintainSmallChunks)
	register("MaintainFreesExternalIDs", testMaintainFreesExternalIDs)
}

const day = 24 * time.Hour

// maintain runs Maintain and checks the number of removed events. Maintain
// loops over chunks until no expired event is left, so one call is enough.
func maintain(t *testing.T, s pulse.Store, at time.Time, chunk, want int) {
	t.Helper()
	n, err := s.Maintain(t.Context(), at, chunk)
	if err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	if n != want {
		t.Fatalf("Maintain removed %d events, want %d", n, want)
	}
}

func testMaintainRetention(t *testing.T, s pulse.Store) {
	at := now()
	short, long := createTenant(t, s, 1), createTenant(t, s, 10)
	type row struct {
		tenant *pulse.Tenant
		age    time.Duration
		kept   bool
	}
	rows := []row{
		{short, 2 * day, false},
		{short, day + time.Microsecond, false},
		{short, day, true}, // exactly at the cutoff: not older, kept
		{short, 12 * time.Hour, true},
		{long, 2 * day, true},
		{long, 10*day - time.Microsecond, true},
		{long, 11 * day, false},
		{long, 30 * day, false},
	}
	var events []*pulse.Event
	removed := 0
	for i, r := range rows {
		e := newEvent(r.tenant.ID, at.Add(-r.age))
		e.Tags = map[string]string{"k": "v"}
		withExternalID(e, fmt.Sprintf("m-%d", i))
		insert(t, s, r.tenant.ID, e)
		events = append(events, e)
		if !r.kept {
			removed++
		}
	}
	maintain(t, s, at, 100, removed)
	for i, r := range rows {
		_, err := s.GetEvent(t.Context(), r.tenant.ID, events[i].ID)
		switch {
		case r.kept && err != nil:
			t.Errorf("event of age %v (retention %d days) was removed: %v", r.age, r.tenant.RetentionDays, err)
		case !r.kept && !pulse.IsNotFound(err):
			t.Errorf("event of age %v (retention %d days) is still there (err %v)", r.age, r.tenant.RetentionDays, err)
		}
	}
	// Search (including tag filters) no longer sees removed events.
	for _, tn := range []*pulse.Tenant{short, long} {
		for _, f := range []pulse.EventFilter{{Limit: 100}, {Limit: 100, Tags: []pulse.Tag{{Key: "k", Value: "v"}}}} {
			got := search(t, s, tn.ID, f)
			if len(got) != 2 {
				t.Errorf("tenant with %d days: search %+v finds %d events, want 2", tn.RetentionDays, f, len(got))
			}
		}
	}
	maintain(t, s, at, 100, 0) // nothing left to do
}

func testMaintainSmallChunks(t *testing.T, s pulse.Store) {
	at := now()
	tn := createTenant(t, s, 1)
	var events []*pulse.Event
	for i := range 47 {
		events = append(events, newEvent(tn.ID, at.Add(-2*day-time.Duration(i)*time.Minute)))
	}
	for i := range 5 {
		events = append(events, newEvent(tn.ID, at.Add(-time.Duration(i)*time.Minute)))
	}
	insert(t, s, tn.ID, events...)
	maintain(t, s, at, 3, 47)
	if got := search(t, s, tn.ID, pulse.EventFilter{Limit: 100}); len(got) != 5 {
		t.Fatalf("%d events left, want 5", len(got))
	}
	maintain(t, s, at, 3, 0)
}

// testMaintainFreesExternalIDs: idempotency keys expire with their events.
func testMaintainFreesExternalIDs(t *testing.T, s pulse.Store) {
	at := now()
	tn := createTenant(t, s, 1)
	old := withExternalID(newEvent(tn.ID, at.Add(-3*day)), "expiring")
	insert(t, s, tn.ID, old)
	maintain(t, s, at, 10, 1)
	refs, err := s.LookupExternalIDs(t.Context(), tn.ID, []string{"expiring"})
	if err != nil {
		t.Fatalf("LookupExternalIDs: %v", err)
	}
	if len(refs) != 0 {
		t.Fatalf("expired external id still known: %v", refs)
	}
	again := withExternalID(newEvent(tn.ID, at), "expiring")
	wantResult(t, insert(t, s, tn.ID, again)[0], pulse.Created, again.ID)
}
