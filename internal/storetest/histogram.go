package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("Histogram", testHistogram)
	register("HistogramTenantIsolation", testHistogramTenantIsolation)
}

// histogramReference computes what EventHistogram must return for q, from
// the contract: EventFilter.Matches, buckets aligned to the epoch, the top
// q.Groups groups by count (ties by name), the rest as Other rows.
func histogramReference(events []*pulse.Event, q pulse.HistogramQuery) []pulse.HistogramCount {
	totals := map[string]int64{}
	var matched []*pulse.Event
	for _, e := range events {
		if q.Filter.Matches(e) {
			matched = append(matched, e)
			totals[q.HistogramGroup(e)]++
		}
	}
	groups := make([]string, 0, len(totals))
	for g := range totals {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b)) })
	top := groups[:min(len(groups), max(q.Groups, 1))]
	type key struct {
		b     time.Time
		g     string
		other bool
	}
	counts := map[key]int64{}
	for _, e := range matched {
		k := key{b: pulse.BucketStart(e.Timestamp, q.Interval), g: q.HistogramGroup(e)}
		if q.GroupBy != pulse.GroupNone && !slices.Contains(top, k.g) {
			k.g, k.other = "", true
		}
		counts[k]++
	}
	out := make([]pulse.HistogramCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, pulse.HistogramCount{Bucket: k.b, Group: k.g, Other: k.other, Count: n})
	}
	sortCounts(out)
	return out
}

func sortCounts(cs []pulse.HistogramCount) {
	slices.SortFunc(cs, func(a, b pulse.HistogramCount) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), strings.Compare(a.Group, b.Group), cmp.Compare(fmt.Sprint(a.Other), fmt.Sprint(b.Other)))
	})
}

func formatCounts(cs []pulse.HistogramCount) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  %s %q other=%v %d", c.Bucket.Format(time.RFC3339), c.Group, c.Other, c.Count)
	}
	return b.String()
}

func testHistogram(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	oldest, newest := d.times[len(d.times)-1], d.times[0]
	start, end := oldest.Add(-time.Hour), newest.Add(time.Hour)
	cases := []struct {
		name string
		q    pulse.HistogramQuery
	}{
		{"all 10m", pulse.HistogramQuery{Interval: 10 * time.Minute}},
		{"all 1s", pulse.HistogramQuery{Interval: time.Second}},
		{"all 1d", pulse.HistogramQuery{Interval: 24 * time.Hour}},
		{"severity", pulse.HistogramQuery{Interval: 15 * time.Minute, GroupBy: pulse.GroupSeverity, Groups: 10}},
		{"severity top 2", pulse.HistogramQuery{Interval: 15 * time.Minute, GroupBy: pulse.GroupSeverity, Groups: 2}},
		{"service top 1", pulse.HistogramQuery{Interval: 5 * time.Minute, GroupBy: pulse.GroupService, Groups: 1}},
		{"event_type", pulse.HistogramQuery{Interval: time.Hour, GroupBy: pulse.GroupEventType, Groups: 10}},
		{"status_code with unset", pulse.HistogramQuery{Interval: 30 * time.Minute, GroupBy: pulse.GroupStatusCode, Groups: 4}},
		{"tag env", pulse.HistogramQuery{Interval: 10 * time.Minute, GroupBy: pulse.GroupTag, TagKey: "env", Groups: 10}},
		{"tag region top 1", pulse.HistogramQuery{Interval: 10 * time.Minute, GroupBy: pulse.GroupTag, TagKey: "region", Groups: 1}},
		{"tag unknown key", pulse.HistogramQuery{Interval: 10 * time.Minute, GroupBy: pulse.GroupTag, TagKey: "nokey", Groups: 3}},
		{"filtered service severities", pulse.HistogramQuery{Interval: 10 * time.Minute, GroupBy: pulse.GroupSeverity, Groups: 10,
			Filter: pulse.EventFilter{Service: "api", Severities: []pulse.Severity{pulse.SeverityError, pulse.SeverityWarning}}}},
		{"filtered tags status", pulse.HistogramQuery{Interval: 10 * time.Minute, GroupBy: pulse.GroupService, Groups: 10,
			Filter: pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}, {Key: "region", Value: "eu"}}, StatusCodeMin: 400}}},
		{"filtered tag grouped by another tag", pulse.HistogramQuery{Interval: 20 * time.Minute, GroupBy: pulse.GroupTag, TagKey: "team", Groups: 5,
			Filter: pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "staging"}}}}},
		{"filtered user type", pulse.HistogramQuery{Interval: time.Minute,
			Filter: pulse.EventFilter{UserID: "u1", EventType: "user.login"}}},
		{"no match", pulse.HistogramQuery{Interval: time.Minute, GroupBy: pulse.GroupSeverity, Filter: pulse.EventFilter{NoMatch: true}}},
	}
	nonEmpty := 0
	for _, tc := range cases {
		q := tc.q
		if q.Filter.Start.IsZero() {
			q.Filter.Start, q.Filter.End = start, end
		}
		want := histogramReference(d.events, q)
		got, err := s.EventHistogram(t.Context(), d.tenant.ID, q)
		if err != nil {
			t.Fatalf("%s: EventHistogram: %v", tc.name, err)
		}
		sortCounts(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d rows, want %d\n got:%s\nwant:%s", tc.name, len(got), len(want), formatCounts(got), formatCounts(want))
		}
		if len(want) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < len(cases)-2 {
		t.Errorf("only %d of %d cases matched anything: the data set does not exercise the histogram", nonEmpty, len(cases))
	}

	// The range bounds the events: start inclusive, end exclusive, even
	// inside one bucket.
	mid := d.times[len(d.times)/2]
	q := pulse.HistogramQuery{Interval: 24 * time.Hour, Filter: pulse.EventFilter{Start: mid, End: newest}}
	got, err := s.EventHistogram(t.Context(), d.tenant.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	sortCounts(got)
	if want := histogramReference(d.events, q); !slices.Equal(got, want) {
		t.Errorf("range bounds: got%s\nwant%s", formatCounts(got), formatCounts(want))
	}
}

func testHistogramTenantIsolation(t *testing.T, s pulse.Store) {
	d := seedSearch(t, s)
	q := pulse.HistogramQuery{Interval: time.Hour, GroupBy: pulse.GroupService, Groups: 10,
		Filter: pulse.EventFilter{Start: d.times[len(d.times)-1].Add(-time.Hour), End: d.times[0].Add(time.Hour)}}
	got, err := s.EventHistogram(t.Context(), d.tenant.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range got {
		total += c.Count
	}
	if total != int64(len(d.events)) {
		t.Errorf("counted %d events, the tenant has %d (other tenants have %d)", total, len(d.events), len(d.others))
	}
	got, err = s.EventHistogram(t.Context(), newID(), q)
	if err != nil || len(got) != 0 {
		t.Errorf("an unknown tenant: %v, %v; want nothing", got, err)
	}
}
