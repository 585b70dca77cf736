package pulse

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseHistogramQuery(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	q, err := ParseHistogramQuery(url.Values{}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Filter.End.Equal(now) || q.Filter.End.Sub(q.Filter.Start) != DefaultHistogramRange || q.Interval != 30*time.Minute ||
		q.Groups != DefaultHistogramGroups || q.GroupBy != GroupNone {
		t.Errorf("defaults: %+v", q)
	}
	q, err = ParseHistogramQuery(url.Values{"interval": {"2d"}, "group_by": {"tag:env"}, "limit": {"3"}, "service": {"api"},
		"start_time": {"2026-01-01T00:00:00Z"}}, now, 0)
	if err != nil || q.Interval != 48*time.Hour || q.GroupBy != GroupTag || q.TagKey != "env" || q.Groups != 3 || q.Filter.Service != "api" {
		t.Errorf("explicit: %+v %v", q, err)
	}
	for _, c := range []struct {
		q      url.Values
		reason string
	}{
		{url.Values{"interval": {"1s"}}, "interval.too_many_buckets"}, // 86,400 buckets in a day
		{url.Values{"interval": {"500ms"}}, "interval.invalid"},
		{url.Values{"interval": {"0d"}}, "interval.invalid"},
		{url.Values{"interval": {"90s"}, "start_time": {"2026-01-02T14:00:00Z"}}, ""}, // 41 buckets
		{url.Values{"group_by": {"message"}}, "group_by.invalid"},
		{url.Values{"group_by": {"tag:" + strings.Repeat("k", MaxTagKeyLen+1)}}, "group_by.invalid"},
		{url.Values{"limit": {"101"}}, "limit.invalid"},
		{url.Values{"cursor": {"x"}}, "parameter.unknown"},
		{url.Values{"offset": {"1"}}, "parameter.unknown"},
		{url.Values{"start_time": {"2026-01-03T00:00:00Z"}}, "end_time.invalid"}, // after now, the default end
		{url.Values{"severity": {"loud"}}, "severity.invalid"},
	} {
		_, err := ParseHistogramQuery(c.q, now, 0)
		if c.reason == "" {
			if err != nil {
				t.Errorf("%v: %v", c.q, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID {
			t.Errorf("%v: %v, want %s", c.q, err, c.reason)
			continue
		}
		found := false
		for _, f := range e.Fields {
			found = found || f.Reason == c.reason
		}
		if !found {
			t.Errorf("%v: %v, want reason %s", c.q, e.Fields, c.reason)
		}
	}
	// The bucket bound is the caller's, up to MaxHistogramBuckets.
	if _, err := ParseHistogramQuery(url.Values{"interval": {"1h"}}, now, 10); err == nil {
		t.Error("24 buckets passed a bound of 10")
	}
}

func TestBuildHistogram(t *testing.T) {
	start := time.Date(2026, 1, 2, 10, 7, 0, 0, time.UTC)
	q := HistogramQuery{Filter: EventFilter{Start: start, End: start.Add(25 * time.Minute)}, Interval: 10 * time.Minute, GroupBy: GroupService, Groups: 2}
	b0, b2 := BucketStart(start, q.Interval), BucketStart(start.Add(24*time.Minute), q.Interval)
	h := BuildHistogram(q, []HistogramCount{
		{Bucket: b0, Group: "api", Count: 2}, {Bucket: b2, Group: "web", Count: 5}, {Bucket: b2, Group: "api", Count: 3},
		{Bucket: b0, Other: true, Count: 4},
	})
	// 10:07-10:32 in 10-minute buckets from the epoch: 10:00, 10:10, 10:20, 10:30.
	if len(h.Buckets) != 4 || !h.Buckets[0].Start.Equal(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)) || h.Buckets[1].Count != 0 {
		t.Fatalf("buckets: %+v", h.Buckets)
	}
	if h.Total != 14 || h.Buckets[0].Count != 6 || h.Buckets[0].Other != 4 || h.Buckets[3].Groups["web"] != 5 ||
		strings.Join(h.Groups, ",") != "api,web" || h.Interval != "10m" || h.GroupBy != "service" {
		t.Errorf("histogram: %+v", h)
	}
}
