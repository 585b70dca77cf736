package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestInsertGroupAcrossRequests drives one group commit by hand: requests of
// two tenants whose rows share multi-row statements. The same external id
// in two requests of one tenant creates one event (the later request sees a
// duplicate, or a conflict for other content); the same external id in
// another tenant is that tenant's own event; a group larger than one chunk
// and a tag count that is not a multiple of a chunk are stored whole.
func TestInsertGroupAcrossRequests(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{})
	a, b := newTenant(t, db, 0), newTenant(t, db, 0)
	now := time.Now()
	event := func(tenant *pulse.Tenant, ext, hash string, tags int) *pulse.Event {
		m := map[string]string{}
		for i := range tags {
			m[fmt.Sprint("k", i)] = "v"
		}
		e := newEvent(tenant.ID, now, m)
		e.ExternalID, e.ContentHash = ext, hash
		return e
	}
	req := func(tenant *pulse.Tenant, events ...*pulse.Event) insertReq {
		num, ok, err := db.tenantNum(t.Context(), tenant.ID)
		if err != nil || !ok {
			t.Fatalf("tenant number: %v %v", ok, err)
		}
		r := insertReq{tenant: num, events: events}
		for _, e := range events {
			row, err := eventRow(e, num)
			if err != nil {
				t.Fatal(err)
			}
			r.rows = append(r.rows, row)
		}
		return r
	}
	var many []*pulse.Event
	for i := range insertChunk + 7 {
		many = append(many, event(a, fmt.Sprint("many-", i), "h", 1))
	}
	reqs := []insertReq{
		req(a, event(a, "x", "h1", 3), event(a, "x", "h1", 3)), // a repeat inside the request
		req(a, event(a, "x", "h1", 3)),                         // same content, later request: duplicate
		req(a, event(a, "x", "h2", 3)),                         // other content: conflict
		req(b, event(b, "x", "h2", 3)),                         // another tenant: created
		req(a, many...),
	}
	var results [][]pulse.InsertResult
	if err := db.inTx(t.Context(), "test", func(tx *sql.Tx) error {
		var err error
		results, err = db.insertGroup(t.Context(), tx, reqs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	first := results[0][0]
	want := [][]pulse.InsertStatus{{pulse.Created, pulse.Duplicate}, {pulse.Duplicate}, {pulse.Conflict}, {pulse.Created}}
	for r, statuses := range want {
		for i, st := range statuses {
			if got := results[r][i]; got.Status != st {
				t.Errorf("request %d event %d: status %v, want %v", r, i, got.Status, st)
			} else if r < 3 && got.ID != first.ID {
				t.Errorf("request %d event %d: id %s, want the first event's %s", r, i, got.ID, first.ID)
			}
		}
	}
	if results[3][0].ID == first.ID {
		t.Errorf("tenant b's event took tenant a's id")
	}
	for i, res := range results[4] {
		if res.Status != pulse.Created {
			t.Fatalf("large request event %d: %v", i, res.Status)
		}
	}
	if n := count(t, db, "events"); n != 2+insertChunk+7 {
		t.Errorf("%d events stored, want %d", n, 2+insertChunk+7)
	}
	if n := count(t, db, "event_tags"); n != 3+3+insertChunk+7 {
		t.Errorf("%d tag rows stored, want %d", n, 3+3+insertChunk+7)
	}
	got, err := db.SearchEvents(t.Context(), a.ID, pulse.EventFilter{Tags: []pulse.Tag{{Key: "k2", Value: "v"}}})
	if err != nil || len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("tag search after the group: %d events, %v", len(got), err)
	}
}

// TestBackgroundCheckpoint: with the writer's own autocheckpoint out of
// reach, committed events still reach the database file, copied by the
// checkpointer once CheckpointEvents events are committed.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{CheckpointEvents: 50, WALCheckpointPages: 1 << 30})
	tn := newTenant(t, db, 0)
	before, err := os.Stat(db.path)
	if err != nil {
		t.Fatal(err)
	}
	if db.ckptRuns.Load() != 0 {
		t.Fatalf("a checkpoint ran before any event was committed")
	}
	var events []*pulse.Event
	for range 60 {
		events = append(events, newEvent(tn.ID, time.Now(), map[string]string{"k": "v"}))
	}
	if _, err := db.InsertEvents(t.Context(), tn.ID, events); err != nil {
		t.Fatal(err)
	}
	// Wait for the checkpointer (a goroutine) to finish its run.
	deadline := time.Now().Add(10 * time.Second)
	for db.ckptRuns.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint ran after 60 committed events")
		}
		runtime.Gosched()
	}
	after, err := os.Stat(db.path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() <= before.Size() {
		t.Errorf("database file %d bytes after the checkpoint, %d before: nothing was copied", after.Size(), before.Size())
	}
}

// TestTwoWritersOneFile: two DBs (two nodes, or a node and a CLI) on one
// file number their rows from the file's largest seq inside the write
// transaction, so alternating inserts never collide.
func TestTwoWritersOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	var dbs []*DB
	for range 2 {
		db, err := Open(t.Context(), path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	tn := newTenant(t, dbs[0], 0)
	for i := range 6 {
		db := dbs[i%2]
		e := newEvent(tn.ID, time.Now(), map[string]string{"k": fmt.Sprint(i)})
		if _, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{e, newEvent(tn.ID, time.Now(), nil)}); err != nil {
			t.Fatalf("insert %d on db %d: %v", i, i%2, err)
		}
	}
	if n := count(t, dbs[1], "events"); n != 12 {
		t.Errorf("%d events, want 12", n)
	}
	got, err := dbs[1].SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Tags: []pulse.Tag{{Key: "k", Value: "3"}}})
	if err != nil || len(got) != 1 || got[0].Tags["k"] != "3" {
		t.Errorf("tag search across writers: %d events, %v", len(got), err)
	}
}

// recordingObserver records what a store tells its pulse.CommitObserver.
type recordingObserver struct {
	mu     sync.Mutex
	groups []pulse.GroupCommit
	full   int
}

func (o *recordingObserver) GroupCommitted(g pulse.GroupCommit) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups = append(o.groups, g)
}

func (o *recordingObserver) QueueFull() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.full++
}

// TestQueueFullAndObserver: while another connection holds the file's
// write lock, the committer waits in BEGIN with one request; one more fills
// the queue (MaxQueuedRequests 1) and the next is refused at once with
// EUNAVAILABLE and a Retry-After. Once the lock is released both queued
// requests commit, and the observer has seen the refusal and every event.
func TestQueueFullAndObserver(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	db := openInternal(t, Config{MaxQueuedRequests: 1, Observer: obs})
	tn := newTenant(t, db, 0)

	locker := sql.OpenDB(newConnector(db.path, db.cfg, true))
	t.Cleanup(func() { locker.Close() })
	lock, err := locker.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`UPDATE tenants SET name = name WHERE id = ?`, tn.ID); err != nil {
		t.Fatal(err)
	}

	insert := func() <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{newEvent(tn.ID, time.Now(), nil)})
			done <- err
		}()
		return done
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited in vain for %s", what)
			}
			runtime.Gosched()
		}
	}
	first := insert()
	waitFor("the committer to take the first request", func() bool { return db.taken.Load() == 1 })
	second := insert() // the committer waits for the lock: this one stays queued
	waitFor("the queue to fill", func() bool { return len(db.queue) == 1 })
	_, err = db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{newEvent(tn.ID, time.Now(), nil)})
	var perr *pulse.Error
	if !errors.As(err, &perr) || perr.Code != pulse.EUNAVAILABLE || perr.RetryAfter <= 0 {
		t.Fatalf("insert into a full queue: %v, want EUNAVAILABLE with Retry-After", err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, done := range []<-chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatalf("queued insert: %v", err)
		}
	}
	if n := count(t, db, "events"); n != 2 {
		t.Errorf("%d events stored, want 2 (the refused one must not be)", n)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.full != 1 {
		t.Errorf("observer saw %d refusals, want 1", obs.full)
	}
	var requests, events int
	for _, g := range obs.groups {
		requests, events = requests+g.Requests, events+g.Events
		if g.Failed || g.Duration <= 0 {
			t.Errorf("group %+v: want a successful, timed commit", g)
		}
	}
	if requests != 2 || events != 2 {
		t.Errorf("observer saw %d requests and %d events in %d groups, want 2 and 2", requests, events, len(obs.groups))
	}
}

// TestPieces: every row goes into exactly one statement, every statement
// has a prepared size (a power of two up to the chunk), and full chunks come
// first.
func TestPieces(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n, chunk int
		want     []int
	}{
		{0, 256, nil},
		{1, 256, []int{1}},
		{10, 256, []int{8, 2}},
		{100, 256, []int{64, 32, 4}},
		{256, 256, []int{256}},
		{390, 256, []int{256, 128, 4, 2}},
		{1023 + 2048, 1024, []int{1024, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1}},
	} {
		if got := pieces(c.n, c.chunk); !slices.Equal(got, c.want) {
			t.Errorf("pieces(%d, %d) = %v, want %v", c.n, c.chunk, got, c.want)
		}
	}
	for n := range 3000 {
		sum := 0
		for _, size := range pieces(n, insertChunk) {
			if size > insertChunk || size&(size-1) != 0 {
				t.Fatalf("pieces(%d): a statement of %d rows has no prepared insert", n, size)
			}
			sum += size
		}
		if sum != n {
			t.Fatalf("pieces(%d) covers %d rows", n, sum)
		}
	}
}

// TestQueuedInsertAnswersAtItsDeadline: while the committer is stuck on a
// group (here: another connection holds the write lock), a request still
// queued when its context ends is answered EUNAVAILABLE at once, not when
// the committer frees up; the committer then leaves it out.
func TestQueuedInsertAnswersAtItsDeadline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pulse.db")
	db, err := Open(t.Context(), path, Config{BusyTimeout: time.Minute, GroupTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tn := newTenant(t, db, 0)
	other, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	first := make(chan error, 1)
	go func() {
		_, err := db.InsertEvents(context.Background(), tn.ID, []*pulse.Event{newEvent(tn.ID, time.Now(), nil)})
		first <- err
	}()
	for db.taken.Load() == 0 { // the committer has taken the first request
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	e := newEvent(tn.ID, time.Now(), nil)
	e.ExternalID = "queued-too-long"
	go func() {
		_, err := db.InsertEvents(ctx, tn.ID, []*pulse.Event{e})
		second <- err
	}()
	for db.QueuedInserts() == 0 {
		runtime.Gosched()
	}
	cancel()
	select {
	case err := <-second:
		if code := pulse.ErrorCode(err); code != pulse.EUNAVAILABLE {
			t.Fatalf("queued request whose context ended: %v (code %q), want %q", err, code, pulse.EUNAVAILABLE)
		}
	case err := <-first:
		t.Fatalf("the first request was answered (%v) while the write lock was held", err)
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("a queued request whose context ended is still waiting for the committer")
	}
	if _, err := lock.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first request after the lock was released: %v", err)
	}
	if got, err := db.LookupExternalIDs(t.Context(), tn.ID, []string{e.ExternalID}); err != nil || len(got) != 0 {
		t.Fatalf("the abandoned request was stored (%v, %v)", got, err)
	}
}
