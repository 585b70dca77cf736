package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// searchDataset stores ten events e0..e9, one minute apart (e9 newest),
// and returns label → id and the time of e0.
func searchDataset(t *testing.T, n *node, key string) (map[string]string, time.Time) {
	t.Helper()
	base := n.Clock.Now().Add(-time.Hour).Truncate(time.Minute)
	type row struct {
		typ, sev, svc, endpoint string
		status                  int
		user                    string
		tags                    map[string]any
	}
	rows := []row{
		{"http.request", "debug", "api", "/a", 200, "u1", map[string]any{"env": "prod", "region": "eu"}},
		{"http.request", "info", "api", "/b", 404, "u2", map[string]any{"env": "prod"}},
		{"job.run", "warning", "worker", "", 0, "u1", map[string]any{"env": "dev", "region": "eu"}},
		{"http.request", "error", "api", "/a", 500, "u3", map[string]any{"env": "prod", "region": "us"}},
		{"job.run", "critical", "worker", "", 0, "", map[string]any{"region": "us"}},
		{"http.request", "info", "web", "/a", 302, "u1", map[string]any{"env": "dev"}},
		{"http.request", "warning", "web", "/c", 503, "u2", map[string]any{"env": "prod", "region": "eu"}},
		{"audit", "info", "api", "", 0, "u3", nil},
		{"http.request", "error", "api", "/b", 429, "u1", map[string]any{"env": "prod", "region": "eu"}},
		{"http.request", "debug", "web", "/a", 100, "u2", map[string]any{"env": "dev", "region": "us"}},
	}
	var evs []map[string]any
	// Stored out of time order, so that insertion order cannot pass for
	// time order.
	order := []int{3, 7, 0, 9, 5, 1, 8, 2, 6, 4}
	for _, i := range order {
		r := rows[i]
		e := map[string]any{
			"event_type": r.typ, "severity": r.sev, "service": r.svc, "external_id": fmt.Sprintf("x%d", i),
			"timestamp": ts(base.Add(time.Duration(i) * time.Minute)), "message": label(i),
		}
		if r.endpoint != "" {
			e["endpoint"] = r.endpoint
		}
		if r.status != 0 {
			e["status_code"] = r.status
		}
		if r.user != "" {
			e["user_id"] = r.user
		}
		if r.tags != nil {
			e["tags"] = r.tags
		}
		evs = append(evs, e)
	}
	resp, b := n.batch(key, evs)
	expectStatus(t, resp, http.StatusOK)
	if b.Accepted != 10 {
		t.Fatalf("dataset: %s", resp.Body)
	}
	idOf := map[string]string{}
	for k, i := range order {
		idOf[label(i)] = b.Results[k].ID
	}
	return idOf, base
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("search", 0)
		idOf, base := searchDataset(t, n, key)
		at := func(min int) string { return ts(base.Add(time.Duration(min) * time.Minute)) }
		all := "e9 e8 e7 e6 e5 e4 e3 e2 e1 e0"
		cases := []struct {
			query url.Values
			want  string // labels, newest first
		}{
			{q(), all},
			{q("event_type", "job.run"), "e4 e2"},
			{q("event_type", "job"), ""},
			{q("severity", "info"), "e7 e5 e1"},
			{q("severity", "info", "severity", "error"), "e8 e7 e5 e3 e1"},
			{q("min_severity", "error"), "e8 e4 e3"},
			{q("min_severity", "debug"), all},
			{q("min_severity", "warning", "severity", "info"), ""},
			{q("min_severity", "warning", "severity", "info", "severity", "error"), "e8 e3"},
			{q("service", "worker"), "e4 e2"},
			{q("service", "API"), ""},
			{q("service", "ap"), ""},
			{q("endpoint", "/a"), "e9 e5 e3 e0"},
			{q("status_code", "404"), "e1"},
			{q("status_code_min", "400"), "e8 e6 e3 e1"},
			{q("status_code_max", "299"), "e9 e0"},
			{q("status_code_min", "300", "status_code_max", "499"), "e8 e5 e1"},
			{q("status_code_min", "404", "status_code_max", "404"), "e1"},
			{q("user_id", "u1"), "e8 e5 e2 e0"},
			{q("external_id", "x3"), "e3"},
			{q("external_id", "x"), ""},
			{q("tag", "env:prod"), "e8 e6 e3 e1 e0"},
			{q("tag", "env:prod", "tag", "region:eu"), "e8 e6 e0"},
			{q("tag", "region:us"), "e9 e4 e3"},
			{q("tag", "env:staging"), ""},
			{q("tag", "env:pro"), ""},
			{q("tag", "nokey:prod"), ""},
			{q("tag", "env:prod", "tag", "env:dev"), ""},
			{q("start_time", at(3)), "e9 e8 e7 e6 e5 e4 e3"},
			{q("end_time", at(3)), "e2 e1 e0"},
			{q("start_time", at(2), "end_time", at(5)), "e4 e3 e2"},
			{q("start_time", base.Add(150*time.Second).In(time.FixedZone("", -5*3600)).Format(time.RFC3339)), "e9 e8 e7 e6 e5 e4 e3"},
			{q("start_time", ts(base.Add(2*time.Minute+time.Microsecond))), "e9 e8 e7 e6 e5 e4 e3"},
			{q("end_time", ts(base.Add(2*time.Minute+time.Microsecond))), "e2 e1 e0"},
			{q("service", "api", "severity", "error", "tag", "region:eu"), "e8"},
			{q("event_type", "http.request", "user_id", "u2", "status_code_min", "500"), "e6"},
			{q("event_type", "job.run", "service", "api"), ""},
			{q("limit", "3"), "e9 e8 e7"},
			{q("limit", "10"), all},
			{q("offset", "8"), "e1 e0"},
			{q("offset", "2", "limit", "3"), "e7 e6 e5"},
			{q("offset", "10"), ""},
			{q("service", "api", "limit", "2", "offset", "1"), "e7 e3"},
		}
		for _, c := range cases {
			t.Run(c.query.Encode(), func(t *testing.T) {
				p := n.search(key, c.query)
				var got []string
				for _, e := range p.Events {
					got = append(got, e.Message)
					if idOf[e.Message] != e.ID {
						t.Fatalf("event %s has id %s, want %s", e.Message, e.ID, idOf[e.Message])
					}
				}
				if strings.Join(got, " ") != c.want {
					t.Fatalf("got %q, want %q", strings.Join(got, " "), c.want)
				}
			})
		}

		// next_cursor: set when more events match, null when the page holds
		// the last one (also when it is exactly full).
		if p := n.search(key, q("limit", "3")); p.NextCursor == nil || *p.NextCursor == "" {
			t.Error("limit 3 of 10: next_cursor is null")
		}
		if p := n.search(key, q("limit", "10")); p.NextCursor != nil {
			t.Errorf("limit 10 of 10: next_cursor = %q, want null", *p.NextCursor)
		}
		if p := n.search(key, q("event_type", "job.run", "limit", "1")); p.NextCursor == nil {
			t.Error("filtered page: next_cursor is null")
		} else if p2 := n.search(key, q("event_type", "job.run", "limit", "1", "cursor", *p.NextCursor)); len(p2.Events) != 1 || p2.Events[0].Message != "e2" || p2.NextCursor != nil {
			t.Errorf("second filtered page = %+v", p2)
		}
	})
}

// TestSearchTieBreakByID: events with one timestamp come newest-first by id
// and page without gaps or repeats.
func TestSearchTieBreakByID(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("ties", 0)
		same := ts(n.Clock.Now().Add(-time.Minute))
		var evs []map[string]any
		for i := range 7 {
			evs = append(evs, event(map[string]any{"timestamp": same, "message": label(i)}))
		}
		evs = append(evs, event(map[string]any{"timestamp": ts(n.Clock.Now().Add(-2 * time.Minute)), "message": "older"}))
		_, b := n.batch(key, evs)
		var want []string
		for _, r := range b.Results[:7] {
			want = append(want, r.ID)
		}
		slices.Sort(want)
		slices.Reverse(want)
		want = append(want, b.Results[7].ID)
		if got := ids(n.search(key, nil).Events); !slices.Equal(got, want) {
			t.Fatalf("order = %v\nwant      %v", got, want)
		}
		var paged []string
		cursor := ""
		for range 10 {
			qs := q("limit", "2")
			if cursor != "" {
				qs.Set("cursor", cursor)
			}
			p := n.search(key, qs)
			paged = append(paged, ids(p.Events)...)
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("paged = %v\nwant    %v", paged, want)
		}
	})
}

// TestSearchCursorStableUnderInserts pages through 120 events 25 at a time
// while newer events keep arriving: the pages hold exactly the 120, in
// order, without gaps or repeats.
func TestSearchCursorStableUnderInserts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("paging", 1_000_000)
		base := n.Clock.Now().Add(-2 * time.Hour)
		var evs []map[string]any
		for i := range 120 {
			// Pairs share a timestamp, so page boundaries fall inside ties.
			evs = append(evs, event(map[string]any{"timestamp": ts(base.Add(time.Duration(i/2) * time.Second)), "message": label(i)}))
		}
		resp, b := n.batch(key, evs)
		expectStatus(t, resp, http.StatusOK)
		existing := map[string]bool{}
		for _, r := range b.Results {
			existing[r.ID] = true
		}

		first := n.search(key, q("limit", "25"))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var insertErr error
		wg.Add(1)
		go func() { // newer events keep arriving while we page
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := n.send("POST", "/api/v1/events", key, event(map[string]any{"message": fmt.Sprintf("new%d", i)}))
				if err == nil && r.Status != http.StatusCreated {
					err = fmt.Errorf("insert: %d %s", r.Status, r.Body)
				}
				if err != nil {
					insertErr = err
					return
				}
			}
		}()

		pages := [][]storedEvent{first.Events}
		next := first.NextCursor
		for next != nil && len(pages) < 20 {
			// Also a deterministic insert between every two pages.
			n.ingest(key, event(map[string]any{"message": "between"}))
			p := n.search(key, q("limit", "25", "cursor", *next))
			pages = append(pages, p.Events)
			next = p.NextCursor
		}
		close(stop)
		wg.Wait()
		if insertErr != nil {
			t.Fatal(insertErr)
		}

		seen := map[string]bool{}
		var prev *storedEvent
		for pi, page := range pages {
			if pi < len(pages)-1 && len(page) != 25 {
				t.Errorf("page %d holds %d events, want 25", pi, len(page))
			}
			for i := range page {
				e := &page[i]
				if !existing[e.ID] {
					t.Fatalf("page %d holds %s (%s), which did not exist at the first page", pi, e.ID, e.Message)
				}
				if seen[e.ID] {
					t.Fatalf("page %d repeats %s", pi, e.ID)
				}
				seen[e.ID] = true
				if prev != nil && (e.Timestamp.After(prev.Timestamp) || e.Timestamp.Equal(prev.Timestamp) && e.ID > prev.ID) {
					t.Fatalf("order broken: %s@%v after %s@%v", e.ID, e.Timestamp, prev.ID, prev.Timestamp)
				}
				prev = e
			}
		}
		if len(seen) != 120 || len(pages) != 5 {
			t.Fatalf("pages hold %d of 120 events in %d pages (want 5)", len(seen), len(pages))
		}
	})
}

func TestSearchBadParameters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("badparams", 0)
		now := n.Clock.Now()
		cases := []struct {
			query url.Values
			field string
		}{
			{q("limit", "0"), "limit"},
			{q("limit", "5000"), "limit"},
			{q("limit", "1001"), "limit"},
			{q("limit", "-1"), "limit"},
			{q("limit", "ten"), "limit"},
			{q("offset", "20000"), "offset"},
			{q("offset", "10001"), "offset"},
			{q("offset", "-1"), "offset"},
			{q("severity", "bogus"), "severity"},
			{q("severity", "info", "severity", "bogus"), "severity"},
			{q("min_severity", "loud"), "min_severity"},
			{q("start_time", "garbage"), "start_time"},
			{q("end_time", "2026-13-01T00:00:00Z"), "end_time"},
			{q("start_time", ts(now), "end_time", ts(now.Add(-time.Hour))), "end_time"},
			{q("start_time", ts(now), "end_time", ts(now)), "end_time"},
			{q("cursor", "garbage"), "cursor"},
			{q("cursor", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "cursor"},
			{q("status_code", "99"), "status_code"},
			{q("status_code", "abc"), "status_code"},
			{q("status_code_min", "600"), "status_code_min"},
			{q("status_code_min", "500", "status_code_max", "400"), "status_code_max"},
			{q("tag", "novalue"), "tag"},
			{q("tag", ":v"), "tag"},
			{q("tag", "a:1", "tag", "b:1", "tag", "c:1", "tag", "d:1", "tag", "e:1", "tag", "f:1", "tag", "g:1", "tag", "h:1", "tag", "i:1", "tag", "j:1", "tag", "k:1"), "tag"},
			{q("service", ""), "service"},
			{q("service", "a", "service", "b"), "service"},
			{q("foo", "bar"), "foo"},
			{q("Limit", "5"), "Limit"},
		}
		for _, c := range cases {
			t.Run(c.query.Encode(), func(t *testing.T) {
				invalid(t, n.do("GET", "/api/v1/events?"+c.query.Encode(), key, nil), c.field)
			})
		}
		// cursor and offset together make no sense.
		n.ingest(key, event(nil))
		n.ingest(key, event(nil))
		p := n.search(key, q("limit", "1"))
		if p.NextCursor == nil {
			t.Fatal("no next_cursor")
		}
		invalid(t, n.do("GET", "/api/v1/events?"+q("cursor", *p.NextCursor, "offset", "1").Encode(), key, nil), "offset")
	})
}

// TestSearchTreatsMetacharactersLiterally: LIKE wildcards and SQL syntax in
// filters match only themselves.
func TestSearchTreatsMetacharactersLiterally(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("literal", 0)
		idOf := map[string]string{}
		for _, v := range []string{"abc", "a_c", "a%c", `a\c`, "o'brien", "plain"} {
			idOf[v] = n.ingest(key, event(map[string]any{
				"service": v, "user_id": v, "endpoint": "/" + v, "external_id": "ext-" + v, "event_type": "t",
				"tags": map[string]any{"k": v},
			}))
		}
		for _, param := range []string{"service", "user_id", "endpoint", "external_id", "tag"} {
			value := func(v string) string {
				switch param {
				case "endpoint":
					return "/" + v
				case "external_id":
					return "ext-" + v
				case "tag":
					return "k:" + v
				}
				return v
			}
			for _, c := range []struct {
				v    string
				want string // the one value that matches, or ""
			}{
				{"a_c", "a_c"}, {"a%c", "a%c"}, {`a\c`, `a\c`}, {"o'brien", "o'brien"},
				{"%", ""}, {"_", ""}, {"a%", ""}, {"___", ""}, {"' OR 1=1 --", ""}, {"' OR '1'='1", ""},
				{"plain' OR 'x'='x", ""}, {`plain"; DROP TABLE events; --`, ""}, {"*", ""}, {"a.c", ""}, {"A_C", ""},
			} {
				p := n.search(key, q(param, value(c.v)))
				var want []string
				if c.want != "" {
					want = []string{idOf[c.want]}
				}
				if got := ids(p.Events); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("%s=%q matched %d events %v, want %v", param, value(c.v), len(got), got, want)
				}
			}
		}
		p := n.search(key, q("event_type", "%"))
		if len(p.Events) != 0 {
			t.Errorf("event_type=%% matched %d events", len(p.Events))
		}
		if p := n.search(key, nil); len(p.Events) != 6 {
			t.Fatalf("%d events after the queries, want 6", len(p.Events))
		}
	})
}
