package postgres

import (
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestPartitionsCreatedOnDemand(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	tn := createTenant(t, db, pulse.MaxRetentionDays)
	at := now()
	old, future := at.Add(-400*day), at.Add(20*day)
	if partitionExists(t, db, old) || partitionExists(t, db, future) {
		t.Fatal("partitions exist before any insert")
	}
	// One batch spanning three days creates the three partitions.
	events := []*pulse.Event{newEvent(tn.ID, old, ""), newEvent(tn.ID, future, ""), newEvent(tn.ID, at, "")}
	mustInsert(t, db, tn.ID, events...)
	for _, e := range events {
		if !partitionExists(t, db, e.Timestamp) {
			t.Errorf("no partition for %v", e.Timestamp)
		}
		got, err := db.GetEvent(t.Context(), tn.ID, e.ID)
		if err != nil || !got.Timestamp.Equal(e.Timestamp) {
			t.Errorf("GetEvent(%s) = %v, %v", e.ID, got, err)
		}
	}
	// Day boundaries: the last microsecond of a day and midnight land in
	// neighbouring partitions.
	midnight := at.Truncate(day).Add(-30 * day)
	mustInsert(t, db, tn.ID, newEvent(tn.ID, midnight.Add(-time.Microsecond), ""), newEvent(tn.ID, midnight, ""))
	if n := count(t, db, "SELECT count(*) FROM "+partitionName(dayOf(midnight))); n != 1 {
		t.Errorf("partition of %v holds %d events, want 1", midnight, n)
	}

	// Maintain prepares the coming days.
	next := at.Add(100 * day)
	if _, err := db.Maintain(t.Context(), next, 0); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	for i := range partitionsAhead + 1 {
		if d := next.Add(time.Duration(i) * day); !partitionExists(t, db, d) {
			t.Errorf("Maintain did not create the partition of %v", d)
		}
	}
}

// A partition that another node dropped while this one had it cached is
// created again.
func TestPartitionDroppedByAnotherNode(t *testing.T) {
	t.Parallel()
	schema := newTestSchema(t)
	a, b := openSchemaDB(t, schema), openSchemaDB(t, schema)
	tn := createTenant(t, a, pulse.MaxRetentionDays)
	ts := now().Add(-50 * day)
	mustInsert(t, a, tn.ID, newEvent(tn.ID, ts, ""))
	if _, err := b.pool.Exec(t.Context(), "DROP TABLE "+partitionName(dayOf(ts))); err != nil {
		t.Fatal(err)
	}
	e := newEvent(tn.ID, ts, "")
	mustInsert(t, a, tn.ID, e)
	if _, err := a.GetEvent(t.Context(), tn.ID, e.ID); err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
}

// Three nodes with twenty goroutines each insert the same external id:
// the database lets exactly one create the event.
func TestConcurrentNodesExactlyOnce(t *testing.T) {
	t.Parallel()
	schema := newTestSchema(t)
	var nodes []*DB
	for range 3 {
		nodes = append(nodes, openSchemaDB(t, schema))
	}
	tn := createTenant(t, nodes[0], 0)
	at := now()
	type result struct {
		event *pulse.Event
		res   pulse.InsertResult
		err   error
	}
	results := make(chan result, 60)
	var wg sync.WaitGroup
	for n, db := range nodes {
		for g := range 20 {
			wg.Go(func() {
				e := newEvent(tn.ID, at, "once")
				if g%2 == 1 {
					e.ContentHash = fmt.Sprintf("other-%d-%d", n, g)
				}
				// A second, unique event in the same call must be created
				// whatever happens to the shared one.
				res, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{e, newEvent(tn.ID, at, fmt.Sprintf("own-%d-%d", n, g))})
				if err == nil && res[1].Status != pulse.Created {
					err = fmt.Errorf("own event: %v", res[1].Status)
				}
				r := result{event: e, err: err}
				if err == nil {
					r.res = res[0]
				}
				results <- r
			})
		}
	}
	wg.Wait()
	close(results)
	var winner *pulse.Event
	var all []result
	for r := range results {
		if r.err != nil {
			t.Fatalf("InsertEvents: %v", r.err)
		}
		if r.res.Status == pulse.Created {
			if winner != nil {
				t.Fatalf("two calls created the event: %s and %s", winner.ID, r.event.ID)
			}
			winner = r.event
		}
		all = append(all, r)
	}
	if winner == nil {
		t.Fatal("no call created the event")
	}
	for _, r := range all {
		if r.event == winner {
			continue
		}
		want := pulse.Conflict
		if r.event.ContentHash == winner.ContentHash {
			want = pulse.Duplicate
		}
		if r.res.Status != want || r.res.ID != winner.ID {
			t.Errorf("result = %v %s, want %v %s", r.res.Status, r.res.ID, want, winner.ID)
		}
	}
	if n := count(t, nodes[1], "SELECT count(*) FROM events WHERE tenant_id = $1 AND external_id = 'once'", tn.ID); n != 1 {
		t.Errorf("%d events stored for the external id, want 1", n)
	}
	if n := count(t, nodes[2], "SELECT count(*) FROM events WHERE tenant_id = $1", tn.ID); n != 61 {
		t.Errorf("%d events stored, want 61", n)
	}
}

// Several nodes starting together on an empty schema migrate it once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	schema := newTestSchema(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { openSchemaDB(t, schema) })
	}
	wg.Wait()
	db := openSchemaDB(t, schema)
	files, _ := fs.Glob(migrationFiles, "migrations/*.sql")
	if n := count(t, db, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n != len(files) {
		t.Errorf("%d migrations recorded, want %d (each once)", n, len(files))
	}
}

// The ingest log re-delivers an event whose batch committed but whose
// acknowledgement was lost: stored once, whether or not it has an external
// id (without one, its id and timestamp recognise it), answered Duplicate
// with its own id, while the new events of the same call are created.
func TestRedeliveredEventStoredOnce(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	tn := createTenant(t, db, pulse.MaxRetentionDays)
	plain, keyed := newEvent(tn.ID, now(), ""), newEvent(tn.ID, now(), "x-1")
	mustInsert(t, db, tn.ID, plain, keyed)

	again, fresh := *plain, newEvent(tn.ID, now(), "")
	againKeyed := *keyed
	res := mustInsert(t, db, tn.ID, &again, fresh, &againKeyed)
	want := []pulse.InsertResult{{Status: pulse.Duplicate, ID: plain.ID}, {Status: pulse.Created, ID: fresh.ID}, {Status: pulse.Duplicate, ID: keyed.ID}}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	if n := count(t, db, "SELECT count(*) FROM events WHERE tenant_id = $1", tn.ID); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}
