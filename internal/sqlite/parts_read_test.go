package sqlite

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestPartsReadsMatchRows stores the same events — in calls whose time
// ranges overlap, so that blocks overlap — in a rows and a parts database
// and compares every read: search pages by cursor and by offset, q=,
// histograms, the alert scan. The parts database is compared before and
// after its blocks are merged.
func TestPartsReadsMatchRows(t *testing.T) {
	t.Parallel()
	rows, err := Open(t.Context(), filepath.Join(t.TempDir(), "rows.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	parts := openPartsDB(t, Config{noMerger: true}) // the blocks stay as written until MergeNow
	tenantID := pulse.NewID()
	for _, db := range []*DB{rows, parts} {
		tn, _ := pulse.NewTenant(tenantID, "t", pulse.MaxRateLimitPerMinute, 30, time.Now())
		if err := db.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for call := range 3 * mergeFanIn {
		events := make([]*pulse.Event, 30)
		for i := range events {
			n := call*30 + i
			// Ties on the timestamp and ranges that overlap across calls.
			events[i] = partsEvent(tenantID, n, base.Add(time.Duration(rng.IntN(600))*time.Second))
			if n%10 == 0 {
				events[i].Message += " needle"
			}
		}
		for _, db := range []*DB{rows, parts} {
			if _, err := db.InsertEvents(t.Context(), tenantID, events); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare := func(t *testing.T) {
		filters := map[string]pulse.EventFilter{
			"all":          {Limit: 37},
			"service":      {Service: "billing", Limit: 20},
			"severity":     {Severities: []pulse.Severity{pulse.SeverityError, pulse.SeverityInfo}, Limit: 25},
			"status range": {StatusCodeMin: 300, Limit: 50},
			"tag+user":     {Tags: []pulse.Tag{{Key: "shard", Value: "3"}}, UserID: "u2", Limit: 10},
			"time":         {Start: base.Add(100 * time.Second), End: base.Add(200 * time.Second), Limit: 15},
			"external id":  {ExternalID: "ext-42", Limit: 5},
		}
		for name, f := range filters {
			want, got := searchAll(t, rows, tenantID, f), searchAll(t, parts, tenantID, f)
			sameAnswer(t, name+" by cursor", got, want)
			for _, off := range []int{0, 3, 40} {
				g := f
				g.Offset = off
				w, err1 := rows.SearchEvents(t.Context(), tenantID, g)
				p, err2 := parts.SearchEvents(t.Context(), tenantID, g)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				sameAnswer(t, fmt.Sprintf("%s offset %d", name, off), p, w)
			}
			for _, budget := range []int{pulse.MaxTextScan, 17} {
				g := f
				g.Text = []pulse.Phrase{{"needle"}}
				w, wr, err1 := pulse.ScanText(t.Context(), rows, tenantID, g, budget)
				p, pr, err2 := pulse.SearchText(t.Context(), parts, tenantID, g, budget)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				sameAnswer(t, fmt.Sprintf("%s q= budget %d", name, budget), p, w)
				if (wr == nil) != (pr == nil) || wr != nil && *wr != *pr {
					t.Errorf("%s q= budget %d: resume %v, want %v", name, budget, pr, wr)
				}
			}
		}
		for _, group := range []string{pulse.GroupNone, pulse.GroupSeverity, pulse.GroupStatusCode, pulse.GroupTag} {
			q := pulse.HistogramQuery{Filter: pulse.EventFilter{Start: base, End: base.Add(10 * time.Minute), Service: "api"},
				Interval: time.Minute, GroupBy: group, TagKey: "shard", Groups: 3}
			w, err1 := rows.EventHistogram(t.Context(), tenantID, q)
			p, err2 := parts.EventHistogram(t.Context(), tenantID, q)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			sortCounts(w)
			sortCounts(p)
			if !slices.Equal(p, w) {
				t.Errorf("histogram by %q:\n%v\nwant\n%v", group, p, w)
			}
		}
		for _, s := range []pulse.EventScan{{Limit: 1000}, {Limit: 13}, {TenantID: tenantID, Since: base.Add(5 * time.Minute), Limit: 1000}} {
			w, err1 := rows.ScanEvents(t.Context(), s)
			if len(w) > 5 {
				s.AfterID, s.UpToID = w[2].ID, w[len(w)-3].ID
				w, err1 = rows.ScanEvents(t.Context(), s)
			}
			p, err2 := parts.ScanEvents(t.Context(), s)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if len(p) != len(w) {
				t.Fatalf("scan %+v: %d events, want %d", s, len(p), len(w))
			}
			for i := range w {
				if p[i].ID != w[i].ID || p[i].TenantID != w[i].TenantID || p[i].Service != w[i].Service || !p[i].Timestamp.Equal(w[i].Timestamp) {
					t.Fatalf("scan %+v: event %d = %+v, want %+v", s, i, p[i], w[i])
				}
			}
		}
		wm, err1 := rows.MaxEventID(t.Context())
		pm, err2 := parts.MaxEventID(t.Context())
		if err1 != nil || err2 != nil || wm != pm {
			t.Errorf("MaxEventID = %q, %v; want %q, %v", pm, err2, wm, err1)
		}
	}
	t.Run("level 0", compare)
	if n, err := parts.MergeNow(t.Context()); err != nil || n == 0 {
		t.Fatalf("MergeNow = %d, %v", n, err)
	}
	t.Run("merged", compare)
}

// searchAll follows the cursor to the end.
func searchAll(t *testing.T, db *DB, tenantID string, f pulse.EventFilter) []*pulse.Event {
	t.Helper()
	var out []*pulse.Event
	for {
		page, err := db.SearchEvents(t.Context(), tenantID, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		c := pulse.CursorAfter(page[len(page)-1])
		f.After = &c
	}
}

func sameAnswer(t *testing.T, what string, got, want []*pulse.Event) {
	t.Helper()
	ids := func(es []*pulse.Event) string {
		var b strings.Builder
		for _, e := range es {
			b.WriteString(e.ID[len(e.ID)-6:] + " ")
		}
		return b.String()
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d\n got: %s\nwant: %s", what, len(got), len(want), ids(got), ids(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Message != w.Message || string(g.Payload) != string(w.Payload) || g.ExternalID != w.ExternalID ||
			!g.Timestamp.Equal(w.Timestamp) || g.StatusCode != w.StatusCode || g.Tags["shard"] != w.Tags["shard"] {
			t.Fatalf("%s: event %d = %+v, want %+v", what, i, g, w)
		}
	}
}

func sortCounts(cs []pulse.HistogramCount) {
	slices.SortFunc(cs, func(a, b pulse.HistogramCount) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), strings.Compare(a.Group, b.Group), cmp.Compare(fmt.Sprint(a.Other), fmt.Sprint(b.Other)))
	})
	for i := range cs {
		cs[i].Bucket = cs[i].Bucket.UTC()
	}
}

// TestPartsReadsReturnCopies: changing an event a read returned changes
// neither the cache nor the next read.
func TestPartsReadsReturnCopies(t *testing.T) {
	t.Parallel()
	db := openPartsDB(t, Config{})
	tenantID := partsTenant(t, db)
	ids := insertBatches(t, db, tenantID, 1, 3)
	e, err := db.GetEvent(t.Context(), tenantID, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	e.Message = "changed"
	again, err := db.GetEvent(t.Context(), tenantID, ids[0])
	if err != nil || again.Message == "changed" {
		t.Fatalf("GetEvent after changing the last answer = %+v, %v", again, err)
	}
}

func TestBlockCache(t *testing.T) {
	t.Parallel()
	events := func(n int) []*pulse.Event {
		out := make([]*pulse.Event, n)
		for i := range out {
			out[i] = &pulse.Event{}
		}
		return out
	}
	k := func(seq int64) blockKey { return blockKey{seq: seq, count: 1, minID: "a", maxID: "b"} }
	c := newBlockCache(10)
	c.put(k(1), events(4))
	c.put(k(2), events(4))
	if _, ok := c.get(k(1)); !ok { // 1 is now the most recent
		t.Fatal("block 1 missing")
	}
	c.put(k(3), events(4)) // over the bound: 2, the least recently used, goes
	if _, ok := c.get(k(2)); ok {
		t.Error("block 2 kept beyond the bound")
	}
	for _, s := range []int64{1, 3} {
		if _, ok := c.get(k(s)); !ok {
			t.Errorf("block %d missing", s)
		}
	}
	if c.len() != 8 {
		t.Errorf("cache holds %d events, want 8", c.len())
	}
	c.put(k(4), events(11)) // larger than the whole cache: not kept
	if _, ok := c.get(k(4)); ok || c.len() != 8 {
		t.Errorf("a block larger than the cache was kept (%d events)", c.len())
	}
	// Another block under a reused seq is another key.
	if _, ok := c.get(blockKey{seq: 1, count: 2, minID: "c", maxID: "d"}); ok {
		t.Error("a reused seq found the old block")
	}
	// Concurrent use (run with -race).
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := int64(g*1000 + i%20)
				if _, ok := c.get(k(s)); !ok {
					c.put(k(s), events(1+i%3))
				}
			}
		})
	}
	wg.Wait()
	if c.len() > 10 {
		t.Errorf("cache holds %d events, bound 10", c.len())
	}
}
