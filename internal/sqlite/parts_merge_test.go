package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// openPartsDB opens a fresh parts database with cfg (EventStore set here).
func openPartsDB(t testing.TB, cfg Config) *DB {
	t.Helper()
	cfg.EventStore = EventStoreParts
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func partsTenant(t testing.TB, db *DB) string {
	t.Helper()
	tn, err := pulse.NewTenant(pulse.NewID(), "parts-"+pulse.NewID(), pulse.MaxRateLimitPerMinute, 30, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// partsEvent is event n of a test: every third has an external id.
func partsEvent(tenantID string, n int, ts time.Time) *pulse.Event {
	ts = ts.UTC().Truncate(time.Microsecond)
	e := &pulse.Event{ID: pulse.NewID(), TenantID: tenantID, EventType: []string{"http.request", "job.done"}[n%2],
		Severity: pulse.Severities[n%len(pulse.Severities)], Service: []string{"api", "billing", "worker"}[n%3],
		Endpoint: "/v1/x", StatusCode: []int{0, 200, 404, 503}[n%4], UserID: fmt.Sprintf("u%d", n%5),
		Message: fmt.Sprintf("event %d", n), Tags: map[string]string{"shard": fmt.Sprint(n % 7)},
		Timestamp: ts, ReceivedAt: ts, ContentHash: fmt.Sprintf("h%d", n)}
	if n%3 == 0 {
		e.ExternalID = fmt.Sprintf("ext-%d", n)
	}
	if n%2 == 0 {
		e.Payload = []byte(fmt.Sprintf(`{"n":%d}`, n))
	}
	return e
}

// insertBatches stores batches calls of size events, one call at a time
// (one block each), and returns the events' ids.
func insertBatches(t *testing.T, db *DB, tenantID string, batches, size int) []string {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	var ids []string
	for b := range batches {
		events := make([]*pulse.Event, size)
		for i := range events {
			n := b*size + i
			events[i] = partsEvent(tenantID, n, base.Add(time.Duration(n)*time.Millisecond))
			ids = append(ids, events[i].ID)
		}
		res, err := db.InsertEvents(t.Context(), tenantID, events)
		if err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
		for i, r := range res {
			if r.Status != pulse.Created {
				t.Fatalf("event %d: %v", i, r.Status)
			}
		}
	}
	return ids
}

// storedIDs is every stored event id of the tenant, by search, sorted;
// the test fails on an id found twice.
func storedIDs(t *testing.T, db *DB, tenantID string) []string {
	t.Helper()
	var ids []string
	f := pulse.EventFilter{Limit: pulse.MaxSearchLimit}
	for {
		page, err := db.SearchEvents(t.Context(), tenantID, f)
		if err != nil {
			t.Fatalf("SearchEvents: %v", err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if len(page) < f.Limit {
			break
		}
		c := pulse.CursorAfter(page[len(page)-1])
		f.After = &c
	}
	slices.Sort(ids)
	if d := slices.Compact(slices.Clone(ids)); len(d) != len(ids) {
		t.Fatalf("%d events found more than once", len(ids)-len(d))
	}
	return ids
}

type blockRow struct {
	seq   int64
	level int
	count int
}

func blockRows(t *testing.T, db *DB) []blockRow {
	t.Helper()
	rows, err := queryAll(t.Context(), db, "test", func(row scanner) (blockRow, error) {
		var b blockRow
		return b, row.Scan(&b.seq, &b.level, &b.count)
	}, `SELECT seq, level, count FROM event_blocks ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func level0(blocks []blockRow) int {
	n := 0
	for _, b := range blocks {
		if b.level == 0 {
			n++
		}
	}
	return n
}

func sortedCopy(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// TestPartsMergeFaultKeepsSources fails every merge between writing the
// merged block and deleting its sources: the blocks stay exactly as they
// were, every event once. Once the fault is gone the same merge succeeds.
func TestPartsMergeFaultKeepsSources(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	errInjected := errors.New("injected")
	db := openPartsDB(t, Config{noMerger: true, mergeFault: func() error {
		if failing.Load() {
			return errInjected
		}
		return nil
	}})
	tenantID := partsTenant(t, db)
	ids := insertBatches(t, db, tenantID, 2*mergeFanIn, 10)
	before := blockRows(t, db)
	if len(before) != 2*mergeFanIn {
		t.Fatalf("%d blocks after %d inserts", len(before), 2*mergeFanIn)
	}

	if _, err := db.MergeNow(t.Context()); !errors.Is(err, errInjected) {
		t.Fatalf("MergeNow = %v, want the injected failure", err)
	}
	if after := blockRows(t, db); !slices.Equal(after, before) {
		t.Fatalf("blocks after a failed merge:\n%v\nwant\n%v", after, before)
	}
	if got := storedIDs(t, db, tenantID); !slices.Equal(got, sortedCopy(ids)) {
		t.Fatalf("after a failed merge: %d events stored, want %d", len(got), len(ids))
	}

	failing.Store(false)
	if n, err := db.MergeNow(t.Context()); err != nil || n == 0 {
		t.Fatalf("MergeNow = %d, %v", n, err)
	}
	if after := blockRows(t, db); level0(after) >= mergeFanIn {
		t.Fatalf("still %d level-0 blocks after the merge: %v", level0(after), after)
	}
	if got := storedIDs(t, db, tenantID); !slices.Equal(got, sortedCopy(ids)) {
		t.Fatalf("after the merge: %d events stored, want %d", len(got), len(ids))
	}
}

// TestPartsMergeManySmall: after many small inserts the merger folds the
// level-0 blocks into fewer, larger ones, and every event (and its
// external id) is there exactly once.
func TestPartsMergeManySmall(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{noMerger: true})
	tenantID, other := partsTenant(t, db), partsTenant(t, db)
	const calls = 5 * mergeFanIn
	ids := insertBatches(t, db, tenantID, calls, 7)
	otherIDs := insertBatches(t, db, other, 3, 7) // too few to merge
	if _, err := db.MergeNow(t.Context()); err != nil {
		t.Fatalf("MergeNow: %v", err)
	}
	blocks := blockRows(t, db)
	if n := level0(blocks); n >= mergeFanIn {
		t.Fatalf("%d level-0 blocks left of %d", n, calls+3)
	}
	if len(blocks) >= calls {
		t.Fatalf("%d blocks after merging %d", len(blocks), calls+3)
	}
	if got := storedIDs(t, db, tenantID); !slices.Equal(got, sortedCopy(ids)) {
		t.Fatalf("%d events stored, want %d", len(got), len(ids))
	}
	if got := storedIDs(t, db, other); !slices.Equal(got, sortedCopy(otherIDs)) {
		t.Fatalf("other tenant: %d events stored, want %d", len(got), len(otherIDs))
	}
	for _, id := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		if e, err := db.GetEvent(t.Context(), tenantID, id); err != nil || e.ID != id {
			t.Fatalf("GetEvent(%s) = %v, %v", id, e, err)
		}
		if _, err := db.GetEvent(t.Context(), other, id); !pulse.IsNotFound(err) {
			t.Fatalf("GetEvent of another tenant's event: %v", err)
		}
	}
	// Exactly-once still holds on merged blocks: a replay is a duplicate.
	replay := partsEvent(tenantID, 3, time.Now())
	res, err := db.InsertEvents(t.Context(), tenantID, []*pulse.Event{replay})
	if err != nil || res[0].Status != pulse.Duplicate || res[0].ID != ids[3] {
		t.Fatalf("replay = %+v, %v; want a duplicate of %s", res, err, ids[3])
	}
	var keys int
	if err := db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM event_keys`).Scan(&keys); err != nil || keys != (calls*7+2)/3+(3*7+2)/3 {
		t.Fatalf("event_keys rows = %d, %v", keys, err)
	}
}

// TestPartsMergerRunsInBackground: the merger goroutine, woken by the
// committer, merges without MergeNow. Waiting is on the database's own
// state (no sleep decides the outcome): the test fails if it never merges.
func TestPartsMergerRunsInBackground(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{})
	tenantID := partsTenant(t, db)
	ids := insertBatches(t, db, tenantID, 3*mergeFanIn, 5)
	deadline := time.Now().Add(time.Minute)
	for level0(blockRows(t, db)) >= 3*mergeFanIn {
		if time.Now().After(deadline) {
			t.Fatal("the merger never merged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := storedIDs(t, db, tenantID); !slices.Equal(got, sortedCopy(ids)) {
		t.Fatalf("%d events stored, want %d", len(got), len(ids))
	}
}

// TestPartsCloseStopsMerger: Close returns only after the merger goroutine
// has ended.
func TestPartsCloseStopsMerger(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), Config{EventStore: EventStoreParts})
	if err != nil {
		t.Fatal(err)
	}
	tenantID := partsTenant(t, db)
	insertBatches(t, db, tenantID, mergeFanIn+1, 3) // wakes the merger
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-db.mergeDone:
	default:
		t.Fatal("the merger still runs after Close")
	}
}

// TestPartsConcurrentExactlyOnce: writers racing with the same external
// ids (and the merger running) create each exactly once; every other
// answer is a duplicate or conflict naming the created event.
func TestPartsConcurrentExactlyOnce(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{})
	tenantID := partsTenant(t, db)
	const writers, keys = 8, 60
	results := make([][]pulse.InsertResult, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for start := 0; start < keys; start += 20 {
				var events []*pulse.Event
				for k := start; k < start+20; k++ {
					e := partsEvent(tenantID, 3*k, time.Now()) // n%3 == 0: an external id
					e.ContentHash = fmt.Sprintf("h%d-%d", k, w%2)
					events = append(events, e, partsEvent(tenantID, 3*k+1, time.Now())) // and one without
				}
				res, err := db.InsertEvents(t.Context(), tenantID, events)
				if err != nil {
					t.Errorf("InsertEvents: %v", err)
					return
				}
				for i, r := range res {
					if i%2 == 0 {
						results[w] = append(results[w], r)
					} else if r.Status != pulse.Created {
						t.Errorf("an event without external id: %v", r.Status)
					}
				}
			}
		})
	}
	wg.Wait()
	created := map[int]string{}
	for w := range writers {
		for k, r := range results[w] {
			if r.Status == pulse.Created {
				if created[k] != "" {
					t.Fatalf("key %d created twice", k)
				}
				created[k] = r.ID
			}
		}
	}
	if len(created) != keys {
		t.Fatalf("%d keys created, want %d", len(created), keys)
	}
	for w := range writers {
		for k, r := range results[w] {
			if r.ID != created[k] {
				t.Fatalf("writer %d key %d: %v %s, want the id %s", w, k, r.Status, r.ID, created[k])
			}
		}
	}
	if got := storedIDs(t, db, tenantID); len(got) != keys+writers*keys {
		t.Fatalf("%d events stored, want %d", len(got), keys+writers*keys)
	}
}
