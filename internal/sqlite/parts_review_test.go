package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestPartsMergeRaceSeqReused: while a merge encodes its sources, an
// erasure drops the newest source whole and an insert writes a new block,
// which gets the freed seq (seq is a plain rowid). The merge must not take
// the new block for its source: it would delete the new, acknowledged
// event and bring the erased ones back.
func TestPartsMergeRaceSeqReused(t *testing.T) {
	t.Parallel()
	var db *DB
	var fresh *pulse.Event
	var tenantID string
	raced := false
	db = openPartsDB(t, Config{noMerger: true, mergePlanned: func() {
		if raced {
			return
		}
		raced = true
		if n, err := db.EraseUserEvents(t.Context(), tenantID, "doomed", 1000); err != nil || n != 3 {
			t.Errorf("EraseUserEvents = %d, %v", n, err)
		}
		fresh = partsEvent(tenantID, 1, time.Now())
		if _, err := db.InsertEvents(t.Context(), tenantID, []*pulse.Event{fresh}); err != nil {
			t.Errorf("InsertEvents: %v", err)
		}
	}})
	tenantID = partsTenant(t, db)
	insertBatches(t, db, tenantID, mergeFanIn-1, 4)
	var doomed []*pulse.Event
	for i := range 3 {
		e := partsEvent(tenantID, i, time.Now().Add(-time.Minute))
		e.UserID, e.ExternalID = "doomed", ""
		doomed = append(doomed, e)
	}
	if _, err := db.InsertEvents(t.Context(), tenantID, doomed); err != nil {
		t.Fatal(err)
	}

	if _, err := db.MergeNow(t.Context()); err != nil {
		t.Fatalf("MergeNow: %v", err)
	}
	if !raced {
		t.Fatal("the merge never ran")
	}
	if _, err := db.GetEvent(t.Context(), tenantID, fresh.ID); err != nil {
		t.Errorf("the event inserted during the merge: %v", err)
	}
	for _, e := range doomed {
		if _, err := db.GetEvent(t.Context(), tenantID, e.ID); !errors.Is(err, pulse.ErrNotFound) {
			t.Errorf("erased event %s after the merge: %v, want not found", e.ID, err)
		}
	}
	storedIDs(t, db, tenantID) // no event twice
}
