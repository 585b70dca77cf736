package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Retention drops a daily partition once every tenant's retention has
// passed it, and deletes rows of partitions that are still needed.
func TestMaintainDropsExpiredPartitions(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	short, long := createTenant(t, db, 30), createTenant(t, db, 60)
	at := now()
	dropped := at.Add(-90 * day) // older than every retention
	partly := at.Add(-45 * day)  // expired for short only
	kept := at.Add(-10 * day)
	mustInsert(t, db, short.ID, newEvent(short.ID, dropped, "s1"), newEvent(short.ID, partly, "s2"), newEvent(short.ID, kept, "s3"))
	mustInsert(t, db, long.ID, newEvent(long.ID, dropped, "l1"), newEvent(long.ID, dropped.Add(time.Second), ""), newEvent(long.ID, partly, "l2"))

	n, err := db.Maintain(t.Context(), at, 1)
	if err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	if n != 4 {
		t.Errorf("Maintain removed %d events, want 4", n)
	}
	if partitionExists(t, db, dropped) {
		t.Error("the expired partition still exists")
	}
	if !partitionExists(t, db, partly) {
		t.Error("a partition with live events was dropped")
	}
	refs, err := db.LookupExternalIDs(t.Context(), short.ID, []string{"s1", "s2", "s3"})
	if err != nil || len(refs) != 1 || refs["s3"].ID == "" {
		t.Errorf("short tenant's keys = %v, %v; want only s3", refs, err)
	}
	refs, err = db.LookupExternalIDs(t.Context(), long.ID, []string{"l1", "l2"})
	if err != nil || len(refs) != 1 || refs["l2"].ID == "" {
		t.Errorf("long tenant's keys = %v, %v; want only l2", refs, err)
	}
	// The day of a dropped partition can take events again.
	e := newEvent(long.ID, dropped, "l1")
	if res := mustInsert(t, db, long.ID, e); res[0].Status != pulse.Created {
		t.Errorf("insert after drop: %v", res[0].Status)
	}
}

// While one node maintains, another's Maintain does nothing; concurrent
// calls remove every expired event exactly once between them.
func TestMaintainOneNodeAtATime(t *testing.T) {
	t.Parallel()
	schema := newTestSchema(t)
	a, b := openSchemaDB(t, schema), openSchemaDB(t, schema)
	tn := createTenant(t, a, 1)
	at := now()
	var events []*pulse.Event
	for i := range 20 {
		events = append(events, newEvent(tn.ID, at.Add(-2*day-time.Duration(i)*time.Minute), ""))
	}
	mustInsert(t, a, tn.ID, events...)

	// Hold the lock as a running Maintain would.
	conn, err := a.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_lock("+maintainLockSQL+")"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Maintain(t.Context(), at, 5); err != nil || n != 0 {
		t.Errorf("Maintain while locked = %d, %v; want 0, nil", n, err)
	}
	if n := count(t, b, "SELECT count(*) FROM events"); n != 20 {
		t.Errorf("%d events left while locked, want 20", n)
	}
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_unlock("+maintainLockSQL+")"); err != nil {
		t.Fatal(err)
	}
	conn.Release()

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, db := range []*DB{a, b, a, b} {
		wg.Go(func() {
			n, err := db.Maintain(t.Context(), at, 5)
			if err != nil {
				t.Errorf("Maintain: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 20 {
		t.Errorf("concurrent Maintain calls removed %d events, want 20", total)
	}
	if n := count(t, a, "SELECT count(*) FROM events"); n != 0 {
		t.Errorf("%d events left, want 0", n)
	}
}
