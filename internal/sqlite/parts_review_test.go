package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
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

// TestPartsSubMicrosecondBounds: a start_time or end_time with
// nanoseconds (RFC 3339 allows them) selects what a rows database
// selects, which compares microseconds: ts >= µs(start), ts < µs(end).
func TestPartsSubMicrosecondBounds(t *testing.T) {
	t.Parallel()
	rows, err := Open(t.Context(), filepath.Join(t.TempDir(), "rows.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	parts := openPartsDB(t, Config{noMerger: true})
	tenantID := pulse.NewID()
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	for _, db := range []*DB{rows, parts} {
		tn, _ := pulse.NewTenant(tenantID, "t", pulse.MaxRateLimitPerMinute, 30, time.Now())
		if err := db.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		// One block with an older event and one at `at`, one with `at` alone.
		for _, batch := range [][]time.Duration{{-time.Second, 0}, {0}} {
			var events []*pulse.Event
			for i, d := range batch {
				events = append(events, partsEvent(tenantID, i+1, at.Add(d)))
			}
			if _, err := db.InsertEvents(t.Context(), tenantID, events); err != nil {
				t.Fatal(err)
			}
		}
	}
	half := at.Add(500 * time.Nanosecond)
	for _, f := range []pulse.EventFilter{{End: half}, {Start: half}} {
		want, err := rows.SearchEvents(t.Context(), tenantID, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parts.SearchEvents(t.Context(), tenantID, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("start %v end %v: parts found %d events, rows %d", f.Start, f.End, len(got), len(want))
		}
		q := pulse.HistogramQuery{Filter: f, Interval: time.Hour}
		wh, err := rows.EventHistogram(t.Context(), tenantID, q)
		if err != nil {
			t.Fatal(err)
		}
		gh, err := parts.EventHistogram(t.Context(), tenantID, q)
		if err != nil {
			t.Fatal(err)
		}
		if sum(gh) != sum(wh) {
			t.Errorf("start %v end %v: parts histogram counts %d events, rows %d", f.Start, f.End, sum(gh), sum(wh))
		}
	}
}

func sum(cs []pulse.HistogramCount) int64 {
	var n int64
	for _, c := range cs {
		n += c.Count
	}
	return n
}

// TestPartsMergeBoundsDecodedBytes: small blocks of large, compressible
// payloads are small on disk; a merge must still bound what it decodes
// (and what colblock.Encode may refuse past MaxColumnBytes, which would
// stop the merger at the same plan every time).
func TestPartsMergeBoundsDecodedBytes(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{noMerger: true})
	tenantID := partsTenant(t, db)
	payload := []byte(`{"a":"` + strings.Repeat("a", 4<<20) + `"}`) // shared by every event
	for i := range 24 {
		e := partsEvent(tenantID, i, time.Now().Add(-time.Minute))
		e.Payload = payload
		if _, err := db.InsertEvents(t.Context(), tenantID, []*pulse.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	var plan mergePlan
	if err := db.readTx(t.Context(), "test", func(tx *sql.Tx) (err error) {
		plan, err = db.planMerge(t.Context(), tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	raw := 0
	for _, e := range plan.events {
		raw += len(e.Payload)
	}
	if len(plan.seqs) < 2 || raw > mergeMaxRawBytes {
		t.Fatalf("a merge of %d blocks decodes %d payload bytes (want 2 or more blocks, at most %d bytes)", len(plan.seqs), raw, mergeMaxRawBytes)
	}
}

// TestPartsInsertLargeGroup: a group commit cuts a tenant's events into
// blocks of at most mergeMaxRawBytes decoded, so that a group of large
// payloads never makes a column colblock.Encode refuses (past
// MaxColumnBytes, which failed the group and every request in it).
func TestPartsInsertLargeGroup(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{noMerger: true, GroupTimeout: time.Minute})
	tenantID := partsTenant(t, db)
	payload := []byte(`{"a":"` + strings.Repeat("a", 4<<20) + `"}`) // shared by every event
	var events []*pulse.Event
	for i := range 20 {
		e := partsEvent(tenantID, i, time.Now().Add(-time.Minute))
		e.Payload = payload
		events = append(events, e)
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
	blocks := blockRows(t, db)
	for _, b := range blocks {
		if b.count*len(payload) > mergeMaxRawBytes {
			t.Errorf("block %d holds %d events of %d payload bytes (bound %d)", b.seq, b.count, len(payload), mergeMaxRawBytes)
		}
	}
	if got := storedIDs(t, db, tenantID); len(got) != len(events) {
		t.Fatalf("%d events stored, want %d", len(got), len(events))
	}
}

// TestBlockCacheBoundsBytes: the block cache is bounded by decoded bytes
// too, not by events alone: a tenant's events of large (compressible)
// payloads must not fill memory through the cache.
func TestBlockCacheBoundsBytes(t *testing.T) {
	t.Parallel()
	payload := make([]byte, 4<<20) // shared by every event
	c := newBlockCache(blockCacheEvents)
	var keys []blockKey
	for seq := range int64(200) {
		k := blockKey{seq: seq, count: 1, minID: "a", maxID: "b"}
		keys = append(keys, k)
		c.put(k, []*pulse.Event{{Payload: payload}})
	}
	held := 0
	for _, k := range keys {
		if events, ok := c.get(k); ok {
			held += rawBytes(events)
		}
	}
	if held > 512<<20 {
		t.Fatalf("the block cache holds %d MiB of payloads", held>>20)
	}
	if held == 0 {
		t.Fatal("the block cache holds nothing")
	}
}
