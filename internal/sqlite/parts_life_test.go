package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/colblock"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The parts store's retention and erasure (parts_maintain.go,
// parts_erase.go), on real parts databases. Data goes in as blocks and
// event_keys rows written directly, and is checked by reading the blocks
// back, so that these tests depend only on the block primitives.

func lifeOpen(t *testing.T) *DB {
	t.Helper()
	db := openInternal(t, Config{EventStore: EventStoreParts})
	if !db.parts {
		t.Fatal("a new database opened with EventStore parts is not a parts database")
	}
	return db
}

func lifeNum(t *testing.T, db *DB, tn *pulse.Tenant) int64 {
	t.Helper()
	num, ok, err := db.tenantNum(t.Context(), tn.ID)
	if err != nil || !ok {
		t.Fatalf("tenantNum: %v, %v", ok, err)
	}
	return num
}

// lifeEvent is an event of user at ts, with external id ext ("": none).
func lifeEvent(tn *pulse.Tenant, ts time.Time, user, ext string) *pulse.Event {
	e := newEvent(tn.ID, ts, map[string]string{"env": "prod"})
	e.UserID, e.ExternalID, e.Message = user, ext, "m "+e.ID
	e.ContentHash = "h-" + e.ID
	e.Payload = []byte(`{"n":1}`)
	return e
}

// lifePut stores events as one block of level 0 with their keys, as the
// insert path does, and returns the block's seq.
func lifePut(t *testing.T, db *DB, tn *pulse.Tenant, events ...*pulse.Event) int64 {
	t.Helper()
	num := lifeNum(t, db, tn)
	var seq int64
	err := db.inTx(t.Context(), "test put", func(tx *sql.Tx) error {
		var err error
		if seq, err = writeBlock(t.Context(), tx, num, 0, events); err != nil {
			return err
		}
		for _, e := range events {
			if e.ExternalID == "" {
				continue
			}
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO event_keys (tenant, external_id, id, content_hash, ts) VALUES (?, ?, ?, ?, ?)`,
				num, e.ExternalID, e.ID, e.ContentHash, micros(e.Timestamp)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("put block: %v", err)
	}
	return seq
}

// lifeSeqs returns the tenant's block seqs, ascending.
func lifeSeqs(t *testing.T, db *DB, tn *pulse.Tenant) []int64 {
	t.Helper()
	seqs, err := queryAll(t.Context(), db, "test", func(row scanner) (int64, error) {
		var s int64
		return s, row.Scan(&s)
	}, `SELECT seq FROM event_blocks WHERE tenant = ? ORDER BY seq`, lifeNum(t, db, tn))
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// lifeEvents returns the tenant's events from its blocks, sorted by (ts, id).
func lifeEvents(t *testing.T, db *DB, tn *pulse.Tenant) []*pulse.Event {
	t.Helper()
	var all []*pulse.Event
	for _, seq := range lifeSeqs(t, db, tn) {
		events, err := readBlock(t.Context(), db.read, seq, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, events...)
	}
	colblock.SortEvents(all)
	return all
}

// lifeKeys returns the tenant's rows of table (event_keys or erased_keys)
// as "external_id=id" strings, sorted.
func lifeKeys(t *testing.T, db *DB, tn *pulse.Tenant, table string) []string {
	t.Helper()
	keys, err := queryAll(t.Context(), db, "test", func(row scanner) (string, error) {
		var ext, id string
		err := row.Scan(&ext, &id)
		return ext + "=" + id, err
	}, `SELECT external_id, id FROM `+table+` WHERE tenant = ? ORDER BY external_id`, lifeNum(t, db, tn))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func keysOf(events []*pulse.Event) []string {
	var keys []string
	for _, e := range events {
		if e.ExternalID != "" {
			keys = append(keys, e.ExternalID+"="+e.ID)
		}
	}
	slices.Sort(keys)
	return keys
}

// sameEvents fails unless got and want (any order) are the same events,
// field by field.
func sameEvents(t *testing.T, what string, got, want []*pulse.Event) {
	t.Helper()
	want = slices.Clone(want)
	colblock.SortEvents(want)
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if string(got[i].Payload) == "null" { // the first (JSON) block encoding's "no payload"
			got[i].Payload = nil
		}
		if g, w := fmt.Sprintf("%+v", *got[i]), fmt.Sprintf("%+v", *want[i]); g != w {
			t.Fatalf("%s: event %d\n got %s\nwant %s", what, i, g, w)
		}
	}
}

// lifeState is everything the parts store keeps about events, to compare
// before and after a failed step.
func lifeState(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT seq, tenant, level, count, min_ts, max_ts, min_id, max_id, bytes, meta, data FROM event_blocks ORDER BY seq`,
		`SELECT tenant, external_id, id, content_hash, ts FROM event_keys ORDER BY tenant, external_id`,
		`SELECT tenant, external_id, id, content_hash, ts FROM erased_keys ORDER BY tenant, external_id`,
	} {
		rows, err := db.read.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", sha256.Sum256(bs))
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// TestPartsMaintain: a wholly expired block is dropped, a block straddling
// the cutoff is replaced by its kept events, a block within retention and
// another tenant's blocks stay as they are; the removed events' keys go,
// the kept ones stay; erased keys expire as in rows mode.
func TestPartsMaintain(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now()
	short, long := newTenant(t, db, 1), newTenant(t, db, 10)
	day := 24 * time.Hour

	old := []*pulse.Event{lifeEvent(short, now.Add(-3*day), "a", "old-1"), lifeEvent(short, now.Add(-2*day), "", "")}
	straddleGone := []*pulse.Event{lifeEvent(short, now.Add(-day-time.Microsecond), "a", "s-1"), lifeEvent(short, now.Add(-40*time.Hour), "", "")}
	straddleKept := []*pulse.Event{lifeEvent(short, now.Add(-day), "b", "s-2"), lifeEvent(short, now.Add(-time.Hour), "", "s-3")}
	fresh := []*pulse.Event{lifeEvent(short, now, "a", "f-1")}
	longEvents := []*pulse.Event{lifeEvent(long, now.Add(-3*day), "a", "old-1"), lifeEvent(long, now.Add(-9*day), "", "l-2")}

	lifePut(t, db, short, old...)
	straddle := lifePut(t, db, short, append(slices.Clone(straddleGone), straddleKept...)...)
	freshSeq := lifePut(t, db, short, fresh...)
	longSeq := lifePut(t, db, long, longEvents...)
	shortNum := lifeNum(t, db, short)
	for i, ts := range []time.Time{now.Add(-2 * day), now.Add(-time.Hour)} {
		if _, err := db.write.ExecContext(t.Context(), `INSERT INTO erased_keys (tenant, external_id, id, content_hash, ts) VALUES (?, ?, ?, 'h', ?)`,
			shortNum, fmt.Sprintf("erased-%d", i), fmt.Sprintf("id-%d", i), micros(ts)); err != nil {
			t.Fatal(err)
		}
	}

	if n, err := db.Maintain(t.Context(), now, 100); err != nil || n != 4 {
		t.Fatalf("Maintain = %d, %v; want 4", n, err)
	}
	kept := append(slices.Clone(straddleKept), fresh...)
	sameEvents(t, "short tenant", lifeEvents(t, db, short), kept)
	seqs := lifeSeqs(t, db, short)
	if len(seqs) != 2 || seqs[0] != freshSeq || seqs[1] <= straddle {
		t.Errorf("blocks %v: want the untouched %d and a replacement of %d", seqs, freshSeq, straddle)
	}
	if got, want := lifeKeys(t, db, short, "event_keys"), keysOf(kept); !slices.Equal(got, want) {
		t.Errorf("event_keys %v, want %v", got, want)
	}
	if got := lifeKeys(t, db, short, "erased_keys"); !slices.Equal(got, []string{"erased-1=id-1"}) {
		t.Errorf("erased_keys %v, want only the unexpired one", got)
	}
	sameEvents(t, "long tenant", lifeEvents(t, db, long), longEvents)
	if got := lifeSeqs(t, db, long); !slices.Equal(got, []int64{longSeq}) {
		t.Errorf("long tenant's blocks %v, want [%d] untouched", got, longSeq)
	}
	if got, want := lifeKeys(t, db, long, "event_keys"), keysOf(longEvents); !slices.Equal(got, want) {
		t.Errorf("long tenant's event_keys %v, want %v", got, want)
	}
	if n, err := db.Maintain(t.Context(), now, 100); err != nil || n != 0 {
		t.Fatalf("second Maintain = %d, %v; want 0", n, err)
	}
}

// TestPartsMaintainChunks: with a chunk smaller than the expired events,
// Maintain still removes them all, counts each once, and touches each
// block holding expired events exactly once (an event at the cutoff stays).
func TestPartsMaintainChunks(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now()
	tn := newTenant(t, db, 1)
	var kept []*pulse.Event
	expired := 0
	for i := range 12 {
		var block []*pulse.Event
		for j := range 3 {
			age := time.Duration(i*3+j) * time.Hour
			e := lifeEvent(tn, now.Add(-age-20*time.Hour), "", fmt.Sprintf("k-%d-%d", i, j))
			if age+20*time.Hour > 24*time.Hour {
				expired++
			} else {
				kept = append(kept, e)
			}
			block = append(block, e)
		}
		lifePut(t, db, tn, block...)
	}
	var replaced atomic.Int64 // replaceBlock calls: one per block touched
	ctx := context.WithValue(t.Context(), rewriteHookKey{}, func() error { replaced.Add(1); return nil })
	if n, err := db.Maintain(ctx, now, 2); err != nil || n != expired {
		t.Fatalf("Maintain = %d, %v; want %d", n, err, expired)
	}
	sameEvents(t, "kept", lifeEvents(t, db, tn), kept)
	if got, want := lifeKeys(t, db, tn, "event_keys"), keysOf(kept); !slices.Equal(got, want) {
		t.Errorf("event_keys %v, want %v", got, want)
	}
	if want := int64(12 - 1); replaced.Load() != want { // blocks 1..11 hold expired events
		t.Errorf("%d blocks replaced or dropped, want %d", replaced.Load(), want)
	}
}

// TestPartsErase: the user's events leave every block of the tenant that
// held them (blocks of only that user go, mixed ones are replaced), the
// other users' events and other tenants stay, their keys move to
// erased_keys and the tenant is marked; a second erase returns 0.
func TestPartsErase(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now().Add(-time.Hour)
	tn, other := newTenant(t, db, 0), newTenant(t, db, 0)
	var alice, rest []*pulse.Event
	for b := range 4 {
		var block []*pulse.Event
		for i := range 5 {
			user := []string{"alice", "bob", ""}[(b+i)%3]
			if b == 3 {
				user = "alice"
			}
			ext := ""
			if i%2 == 0 {
				ext = fmt.Sprintf("x-%d-%d", b, i)
			}
			e := lifeEvent(tn, now.Add(time.Duration(b*5+i)*time.Second), user, ext)
			block = append(block, e)
			if user == "alice" {
				alice = append(alice, e)
			} else {
				rest = append(rest, e)
			}
		}
		lifePut(t, db, tn, block...)
	}
	otherAlice := []*pulse.Event{lifeEvent(other, now, "alice", "x-0-0")}
	lifePut(t, db, other, otherAlice...)
	if db.hasErased(lifeNum(t, db, tn)) {
		t.Fatal("the tenant is marked erased before any erasure")
	}

	n, err := db.EraseUserEvents(t.Context(), tn.ID, "alice", 2)
	if err != nil || n != len(alice) {
		t.Fatalf("EraseUserEvents = %d, %v; want %d", n, err, len(alice))
	}
	sameEvents(t, "the rest of the tenant", lifeEvents(t, db, tn), rest)
	if got, want := lifeKeys(t, db, tn, "event_keys"), keysOf(rest); !slices.Equal(got, want) {
		t.Errorf("event_keys %v, want %v", got, want)
	}
	if got, want := lifeKeys(t, db, tn, "erased_keys"), keysOf(alice); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("erased_keys %v, want %v", got, want)
	}
	if !db.hasErased(lifeNum(t, db, tn)) {
		t.Error("the tenant is not marked as having erased keys")
	}
	sameEvents(t, "the other tenant", lifeEvents(t, db, other), otherAlice)
	if got := lifeKeys(t, db, other, "event_keys"); !slices.Equal(got, keysOf(otherAlice)) {
		t.Errorf("the other tenant's keys %v", got)
	}
	if n, err := db.EraseUserEvents(t.Context(), tn.ID, "alice", 2); err != nil || n != 0 {
		t.Errorf("second erase = %d, %v; want 0", n, err)
	}

	// The mark survives a restart (loadErased).
	path := db.path
	db.Close()
	again, err := Open(t.Context(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.parts || !again.hasErased(lifeNum(t, again, tn)) {
		t.Errorf("after reopening: parts %v, erased %v", again.parts, again.hasErased(lifeNum(t, again, tn)))
	}
}

// lifeStopAfter is a context cancelled by its own n-th Done call (as
// storetest's stopAfter): the work stops at the same point on every run.
type lifeStopAfter struct {
	context.Context
	left   atomic.Int64
	cancel context.CancelFunc
}

func (c *lifeStopAfter) Done() <-chan struct{} {
	if c.left.Add(-1) == 0 {
		c.cancel()
	}
	return c.Context.Done()
}

// TestPartsEraseInterrupted: an erase cut short keeps what it committed,
// in whole chunks, and a second call erases exactly the rest.
func TestPartsEraseInterrupted(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now().Add(-time.Hour)
	tn := newTenant(t, db, 0)
	const total = 60
	var bob []*pulse.Event
	for b := range 3 {
		var block []*pulse.Event
		for i := range total / 3 {
			block = append(block, lifeEvent(tn, now.Add(time.Duration(b*100+i)*time.Millisecond), "alice", fmt.Sprintf("a-%d-%d", b, i)))
		}
		e := lifeEvent(tn, now, "bob", fmt.Sprintf("b-%d", b))
		bob = append(bob, e)
		lifePut(t, db, tn, append(block, e)...)
	}
	inner, cancel := context.WithCancel(t.Context())
	defer cancel()
	ctx := &lifeStopAfter{Context: inner, cancel: cancel}
	ctx.left.Store(120)
	n, err := db.EraseUserEvents(ctx, tn.ID, "alice", 7)
	if err == nil {
		t.Fatalf("the interrupted erase finished (%d events): stop it earlier", n)
	}
	left := len(lifeEvents(t, db, tn)) - len(bob)
	if n == 0 || n%7 != 0 || left != total-n {
		t.Fatalf("interrupted after %d erased (want a positive multiple of the chunk): %d left of %d", n, left, total)
	}
	m, err := db.EraseUserEvents(t.Context(), tn.ID, "alice", 7)
	if err != nil || m != left {
		t.Fatalf("repeated erase = %d, %v; want %d", m, err, left)
	}
	sameEvents(t, "bob", lifeEvents(t, db, tn), bob)
	if got := lifeKeys(t, db, tn, "erased_keys"); len(got) != total {
		t.Errorf("%d erased keys, want %d", len(got), total)
	}
}

// TestPartsRewriteCrash: a failure between writing a replacement block
// and deleting the old one (a crash there) leaves exactly the old state,
// for retention and for erasure; the next run then does the whole job.
func TestPartsRewriteCrash(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now()
	tn := newTenant(t, db, 1)
	events := []*pulse.Event{
		lifeEvent(tn, now.Add(-48*time.Hour), "alice", "gone"),
		lifeEvent(tn, now.Add(-time.Hour), "alice", "kept-a"),
		lifeEvent(tn, now.Add(-time.Minute), "bob", "kept-b"),
	}
	lifePut(t, db, tn, events...)
	crash := errors.New("crash between the two steps")
	crashing := context.WithValue(t.Context(), rewriteHookKey{}, func() error { return crash })

	before := lifeState(t, db)
	if _, err := db.Maintain(crashing, now, 10); !errors.Is(err, crash) {
		t.Fatalf("Maintain with a crash = %v", err)
	}
	if after := lifeState(t, db); after != before {
		t.Fatalf("a failed retention changed the store:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := db.EraseUserEvents(crashing, tn.ID, "alice", 10); !errors.Is(err, crash) {
		t.Fatalf("EraseUserEvents with a crash = %v", err)
	}
	if after := lifeState(t, db); after != before {
		t.Fatalf("a failed erasure changed the store:\nbefore %s\nafter  %s", before, after)
	}

	if n, err := db.Maintain(t.Context(), now, 10); err != nil || n != 1 {
		t.Fatalf("Maintain = %d, %v; want 1", n, err)
	}
	if n, err := db.EraseUserEvents(t.Context(), tn.ID, "alice", 10); err != nil || n != 1 {
		t.Fatalf("EraseUserEvents = %d, %v; want 1", n, err)
	}
	sameEvents(t, "after both", lifeEvents(t, db, tn), events[2:])
	if got := lifeKeys(t, db, tn, "event_keys"); !slices.Equal(got, keysOf(events[2:])) {
		t.Errorf("event_keys %v", got)
	}
	if got := lifeKeys(t, db, tn, "erased_keys"); !slices.Equal(got, keysOf(events[1:2])) {
		t.Errorf("erased_keys %v", got)
	}
}

// TestPartsBackupRestore: a backup of a parts database is a parts
// database with the same blocks, keys and erased keys, and restoring it
// brings them back.
func TestPartsBackupRestore(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	tn := newTenant(t, db, 0)
	now := time.Now().Add(-time.Hour)
	lifePut(t, db, tn, lifeEvent(tn, now, "alice", "a-1"), lifeEvent(tn, now, "bob", "b-1"))
	lifePut(t, db, tn, lifeEvent(tn, now.Add(time.Second), "", ""))
	if _, err := db.EraseUserEvents(t.Context(), tn.ID, "alice", 0); err != nil {
		t.Fatal(err)
	}
	want := lifeState(t, db)
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.db")
	if err := db.Backup(t.Context(), file); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "restored.db")
	if _, err := Restore(t.Context(), file, "sqlite://"+target); err != nil {
		t.Fatal(err)
	}
	restored, err := Open(t.Context(), target, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if !restored.parts || !restored.hasErased(lifeNum(t, restored, tn)) {
		t.Errorf("restored: parts %v, erased %v", restored.parts, restored.hasErased(lifeNum(t, restored, tn)))
	}
	if got := lifeState(t, restored); got != want {
		t.Errorf("restored state differs:\n got %s\nwant %s", got, want)
	}
}

// TestPartsMaintainChunkPerTransaction: a transaction takes blocks until it
// has removed chunk events; a failure in the second transaction keeps what
// the first committed and undoes all of the second.
func TestPartsMaintainChunkPerTransaction(t *testing.T) {
	t.Parallel()
	db := lifeOpen(t)
	now := time.Now()
	tn := newTenant(t, db, 1)
	for i := range 6 {
		lifePut(t, db, tn, lifeEvent(tn, now.Add(-48*time.Hour-time.Duration(i)*time.Minute), "", fmt.Sprintf("k-%d", i)))
	}
	var calls atomic.Int64
	crash := errors.New("crash in the second transaction")
	ctx := context.WithValue(t.Context(), rewriteHookKey{}, func() error {
		if calls.Add(1) == 4 { // chunk 2: calls 1 and 2 are the first transaction, 3 and 4 the second
			return crash
		}
		return nil
	})
	n, err := db.Maintain(ctx, now, 2)
	if !errors.Is(err, crash) || n != 2 {
		t.Fatalf("Maintain = %d, %v; want 2 and the crash", n, err)
	}
	if got := len(lifeSeqs(t, db, tn)); got != 4 {
		t.Errorf("%d blocks left, want 4 (the first transaction's 2 removed, the second undone)", got)
	}
	if got := len(lifeKeys(t, db, tn, "event_keys")); got != 4 {
		t.Errorf("%d keys left, want 4", got)
	}
	if n, err := db.Maintain(t.Context(), now, 2); err != nil || n != 4 {
		t.Fatalf("second Maintain = %d, %v; want 4", n, err)
	}
}
