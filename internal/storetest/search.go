package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("SearchFilters", testSearchFilters)
	register("SearchCursorPaging", testSearchCursorPaging)
	register("SearchCursorWhileInserting", testSearchCursorWhileInserting)
	register("SearchTenantIsolation", testSearchTenantIsolation)
}

// searchData is a generated data set: several tenants with the same kinds
// of values, so that a query that forgets the tenant shows up.
type searchData struct {
	tenant *pulse.Tenant
	events []*pulse.Event // the tenant's events
	others []*pulse.Event // other tenants' events
	times  []time.Time    // distinct timestamps of the tenant, newest first
}

func seedSearch(t *testing.T, s pulse.Store) *searchData {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	base := now().Add(-2 * time.Hour).Truncate(time.Second)
	gen := func(tenantID string, n int) []*pulse.Event {
		events := make([]*pulse.Event, n)
		for i := range events {
			// 60 distinct minutes for hundreds of events: many equal timestamps.
			ts := base.Add(time.Duration(r.IntN(60)) * time.Minute)
			if r.IntN(4) == 0 {
				ts = ts.Add(time.Duration(r.IntN(1000)) * time.Microsecond)
			}
			e := newEvent(tenantID, ts)
			e.EventType = pick("user.signup", "user.login", "order.created", "payment.failed")
			e.Severity = pulse.Severities[r.IntN(len(pulse.Severities))]
			e.Service = pick("api", "billing", "worker")
			e.Endpoint = pick("", "/v1/users", "/v1/orders")
			e.StatusCode = []int{0, 200, 201, 404, 429, 500, 503}[r.IntN(7)]
			e.UserID = pick("", "u1", "u2", "u3")
			e.Message = pick("", "hello", "boom")
			if i%3 == 0 {
				e.ExternalID = fmt.Sprintf("ext-%d", i)
			}
			tags := map[string]string{}
			if r.IntN(5) > 0 {
				tags["env"] = pick("prod", "staging")
			}
			if r.IntN(2) == 0 {
				tags["region"] = pick("eu", "us")
			}
			if r.IntN(10) == 0 {
				tags["note"] = ""
			}
			if r.IntN(3) == 0 {
				tags["team"] = pick("a", "b")
			}
			if len(tags) > 0 {
				e.Tags = tags
			}
			if r.IntN(2) == 0 {
				e.Payload = []byte(fmt.Sprintf(`{"i":%d}`, i))
			}
			events[i] = rehash(e)
		}
		return events
	}
	d := &searchData{tenant: createTenant(t, s, 0)}
	d.events = gen(d.tenant.ID, 300)
	for i := 0; i < len(d.events); i += 100 {
		insert(t, s, d.tenant.ID, d.events[i:min(i+100, len(d.events))]...)
	}
	for _, n := range []int{120, 40} {
		other := createTenant(t, s, 0)
		events := gen(other.ID, n)
		insert(t, s, other.ID, events...)
		d.others = append(d.others, events...)
	}
	seen := map[time.Time]bool{}
	for _, e := range d.events {
		if !seen[e.Timestamp] {
			seen[e.Timestamp] = true
			d.times = append(d.times, e.Timestamp)
		}
	}
	slices.SortFunc(d.times, func(a, b time.Time) int { return b.Compare(a) })
	return d
}

// reference is what SearchEvents must return, computed from the contract:
// EventFilter.Matches, newest first by (timestamp, id), then cursor or
// offset and limit.
func reference(events []*pulse.Event, f pulse.EventFilter) []*pulse.Event {
	var out []*pulse.Event
	for _, e := range events {
		if !f.Matches(e) {
			continue
		}
		if c := f.After; c != nil && !(e.Timestamp.Before(c.Timestamp) || e.Timestamp.Equal(c.Timestamp) && e.ID < c.ID) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, newestFirst)
	out = out[min(f.Offset, len(out)):]
	return out[:min(f.Limit, len(out))]
}

func search(t *testing.T, s pulse.Store, tenantID string, f pulse.EventFilter) []*pulse.Event {
	t.Helper()
	got, err := s.SearchEvents(t.Context(), tenantID, f)
	if err != nil {
		t.Fatalf("SearchEvents(%+v): %v", f, err)
	}
	return got
}

func checkSearch(t *testing.T, name string, got, want []*pulse.Event) {
	t.Helper()
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s: got %d events, want %d\n got: %v\nwant: %v", name, len(got), len(want), ids(got), ids(want))
	}
}

func testSearchFilters(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	t1, t2 := d.times[10], d.times[30] // t1 is newer
	filters := []struct {
		name string
		f    pulse.EventFilter
	}{
		{"all", pulse.EventFilter{}},
		{"event_type", pulse.EventFilter{EventType: "user.login"}},
		{"event_type unknown", pulse.EventFilter{EventType: "nope"}},
		{"severities one", pulse.EventFilter{Severities: []pulse.Severity{pulse.SeverityDebug}}},
		{"severities two", pulse.EventFilter{Severities: []pulse.Severity{pulse.SeverityError, pulse.SeverityCritical}}},
		{"severities all", pulse.EventFilter{Severities: pulse.Severities}},
		{"severities empty no match", pulse.EventFilter{Severities: []pulse.Severity{}, NoMatch: true}},
		{"no match", pulse.EventFilter{NoMatch: true}},
		{"service", pulse.EventFilter{Service: "billing"}},
		{"endpoint", pulse.EventFilter{Endpoint: "/v1/users"}},
		{"status_code", pulse.EventFilter{StatusCode: 404}},
		{"status_code_min", pulse.EventFilter{StatusCodeMin: 400}},
		{"status_code_max", pulse.EventFilter{StatusCodeMax: 299}},
		{"status range", pulse.EventFilter{StatusCodeMin: 400, StatusCodeMax: 499}},
		{"status range one", pulse.EventFilter{StatusCodeMin: 500, StatusCodeMax: 500}},
		{"user_id", pulse.EventFilter{UserID: "u2"}},
		{"external_id", pulse.EventFilter{ExternalID: "ext-3"}},
		{"external_id unknown", pulse.EventFilter{ExternalID: "ext-nope"}},
		{"tag", pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}}}},
		{"tags all must match", pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}, {Key: "region", Value: "eu"}}}},
		{"tags three", pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "staging"}, {Key: "region", Value: "us"}, {Key: "team", Value: "a"}}}},
		{"tag empty value", pulse.EventFilter{Tags: []pulse.Tag{{Key: "note", Value: ""}}}},
		{"tag empty value of other key", pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: ""}}}},
		{"tag unknown key", pulse.EventFilter{Tags: []pulse.Tag{{Key: "nokey", Value: "x"}}}},
		{"tag contradicting", pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}, {Key: "env", Value: "staging"}}}},
		{"start inclusive", pulse.EventFilter{Start: t1}},
		{"end exclusive", pulse.EventFilter{End: t1}},
		{"start and end", pulse.EventFilter{Start: t2, End: t1}},
		{"start after all", pulse.EventFilter{Start: d.times[0].Add(time.Microsecond)}},
		{"combo service severities status", pulse.EventFilter{Service: "api", Severities: []pulse.Severity{pulse.SeverityWarning, pulse.SeverityError}, StatusCodeMin: 500}},
		{"combo type tag user", pulse.EventFilter{EventType: "order.created", Tags: []pulse.Tag{{Key: "env", Value: "staging"}}, UserID: "u1"}},
		{"combo endpoint time", pulse.EventFilter{Endpoint: "/v1/orders", Start: t2, End: t1}},
		{"combo everything", pulse.EventFilter{EventType: "user.login", Service: "api", Severities: []pulse.Severity{pulse.SeverityInfo, pulse.SeverityDebug},
			StatusCodeMin: 200, StatusCodeMax: 599, Tags: []pulse.Tag{{Key: "env", Value: "prod"}}, Start: d.times[len(d.times)-1], End: d.times[0]}},
	}
	pages := []struct {
		name          string
		limit, offset int
	}{
		{"", pulse.MaxSearchLimit, 0},
		{" limit 1", 1, 0},
		{" limit 7 offset 5", 7, 5},
		{" offset past end", 10, 400},
	}
	matched := 0
	for _, tc := range filters {
		for _, p := range pages {
			f := tc.f
			f.Limit, f.Offset = p.limit, p.offset
			want := reference(d.events, f)
			if p.limit == pulse.MaxSearchLimit && len(want) > 0 {
				matched++
			}
			got := search(t, s, d.tenant.ID, f)
			checkSearch(t, tc.name+p.name, got, want)
			if tc.name == "all" && p.offset == 0 && len(got) == len(want) {
				for i := range got {
					checkEvent(t, got[i], want[i])
				}
			}
		}
	}
	if matched < len(filters)*2/3 {
		t.Fatalf("only %d of %d filters match anything: the data set is too thin", matched, len(filters))
	}
}

// page walks every result of f with cursors, pageSize at a time; between
// pages it calls between (if not nil).
func page(t *testing.T, s pulse.Store, tenantID string, f pulse.EventFilter, pageSize int, between func()) []*pulse.Event {
	t.Helper()
	f.Limit = pageSize
	var all []*pulse.Event
	for range 1000 {
		got := search(t, s, tenantID, f)
		all = append(all, got...)
		if len(got) < pageSize {
			return all
		}
		c := pulse.CursorAfter(got[len(got)-1])
		f.After = &c
		if between != nil {
			between()
		}
	}
	t.Fatalf("paging did not end")
	return nil
}

func testSearchCursorPaging(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	for _, f := range []pulse.EventFilter{
		{},
		{Service: "api"},
		{Tags: []pulse.Tag{{Key: "env", Value: "prod"}}},
		{Severities: []pulse.Severity{pulse.SeverityWarning, pulse.SeverityError}, StatusCodeMin: 400},
		{Start: d.times[40], End: d.times[5]},
	} {
		all := f
		all.Limit = pulse.MaxSearchLimit
		want := reference(d.events, all)
		for _, size := range []int{1, 7, 50} {
			checkSearch(t, fmt.Sprintf("%+v by %d", f, size), page(t, s, d.tenant.ID, f, size, nil), want)
		}
		// A cursor in the middle of equal timestamps continues exactly there.
		if len(want) > 3 {
			c := pulse.CursorAfter(want[2])
			mid := all
			mid.After = &c
			checkSearch(t, fmt.Sprintf("%+v after #2", f), search(t, s, d.tenant.ID, mid), want[3:])
		}
	}
}

// testSearchCursorWhileInserting pages through the data set while another
// goroutine keeps inserting newer events: the pages after the first must
// show no gaps and no repeats.
func testSearchCursorWhileInserting(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	want := reference(d.events, pulse.EventFilter{Limit: pulse.MaxSearchLimit})

	stop, done := make(chan struct{}), make(chan struct{})
	inserted := make(chan struct{}, 1)
	var wg sync.WaitGroup
	var insertErr error
	wg.Go(func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e := newEvent(d.tenant.ID, now().Add(time.Duration(i)*time.Microsecond))
			if i%2 == 0 {
				withExternalID(e, fmt.Sprintf("live-%d", i))
			}
			if _, err := s.InsertEvents(t.Context(), d.tenant.ID, []*pulse.Event{e}); err != nil {
				insertErr = err
				return
			}
			select {
			case inserted <- struct{}{}:
			default:
			}
		}
	})
	// The first page is taken before the inserter's events can be in it:
	// everything from there on is older than any new event.
	first := search(t, s, d.tenant.ID, pulse.EventFilter{Limit: 11, End: d.times[0].Add(time.Microsecond)})
	c := pulse.CursorAfter(first[len(first)-1])
	rest := page(t, s, d.tenant.ID, pulse.EventFilter{After: &c}, 11, func() {
		select { // let at least one insert land between pages
		case <-inserted:
		case <-done: // the inserter failed; reported below
		}
	})
	close(stop)
	wg.Wait()
	if insertErr != nil {
		t.Fatalf("concurrent InsertEvents: %v", insertErr)
	}
	checkSearch(t, "paged while inserting", append(first, rest...), want)
}

func testSearchTenantIsolation(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	for _, f := range []pulse.EventFilter{
		{},
		{ExternalID: "ext-3"},
		{Service: "api", Tags: []pulse.Tag{{Key: "env", Value: "prod"}}},
	} {
		f.Limit = pulse.MaxSearchLimit
		got := search(t, s, d.tenant.ID, f)
		checkSearch(t, fmt.Sprintf("%+v", f), got, reference(d.events, f))
		for _, e := range got {
			if e.TenantID != d.tenant.ID {
				t.Fatalf("search returned event %s of tenant %s", e.ID, e.TenantID)
			}
		}
	}
	other := d.others[0]
	if got := search(t, s, d.tenant.ID, pulse.EventFilter{Limit: 10, Start: other.Timestamp, End: other.Timestamp.Add(time.Microsecond), UserID: other.UserID}); slices.ContainsFunc(got, func(e *pulse.Event) bool { return e.ID == other.ID }) {
		t.Fatalf("another tenant's event is visible")
	}
	// An unknown tenant sees nothing.
	if got := search(t, s, newID(), pulse.EventFilter{Limit: 10}); len(got) != 0 {
		t.Fatalf("unknown tenant sees %d events", len(got))
	}
}
