package pulse

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Histogram limits: a request asks for at most MaxHistogramBuckets buckets
// and MaxHistogramGroups groups (422 beyond), so one answer is bounded
// whatever the range.
const (
	MaxHistogramBuckets    = 1000
	DefaultHistogramGroups = 10
	MaxHistogramGroups     = 100
	DefaultHistogramRange  = 24 * time.Hour
)

// Histogram group keys (group_by).
const (
	GroupNone       = ""
	GroupSeverity   = "severity"
	GroupService    = "service"
	GroupEventType  = "event_type"
	GroupStatusCode = "status_code"
	GroupTag        = "tag" // group_by=tag:<key>; the key is in HistogramQuery.TagKey
)

// HistogramQuery counts the events matching Filter in buckets of Interval
// (aligned to the Unix epoch), optionally grouped. Filter.Start and
// Filter.End are always set; paging fields are ignored.
type HistogramQuery struct {
	Filter   EventFilter
	Interval time.Duration // a whole number of seconds
	GroupBy  string        // one of the Group* constants
	TagKey   string        // for GroupTag
	Groups   int           // top-N groups kept by name; the rest count as "other"
}

// HistogramCount is one row a store returns: the count of one group in one
// bucket. Group is "" when the event lacks the field (no status code, tag
// absent or empty) and when GroupBy is GroupNone. Other rows sum every group
// outside the top Groups, which are the groups with the largest counts over
// the whole range, ties broken by name (byte order).
type HistogramCount struct {
	Bucket time.Time
	Group  string
	Other  bool
	Count  int64
}

var histogramParams = []string{"event_type", "severity", "min_severity", "service", "endpoint", "status_code",
	"status_code_min", "status_code_max", "user_id", "external_id", "tag", "start_time", "end_time",
	"interval", "group_by", "limit"}

// ParseHistogramQuery validates the histogram's query parameters: every
// search filter (not the paging ones), interval (a Go duration of whole
// seconds such as 30s, 5m, 1h, or Nd; default: a step that gives at most
// about 60 buckets), group_by and limit (top groups, default 10). The range
// defaults to the DefaultHistogramRange before now; buckets over the range
// are bounded by maxBuckets (≤ MaxHistogramBuckets).
func ParseHistogramQuery(q url.Values, now time.Time, maxBuckets int) (HistogramQuery, error) {
	if maxBuckets <= 0 || maxBuckets > MaxHistogramBuckets {
		maxBuckets = MaxHistogramBuckets
	}
	var errs []FieldError
	bad := func(field, msg string) {
		errs = append(errs, FieldError{Field: field, Message: msg, Reason: field + ".invalid"})
	}
	errs = append(errs, CheckQuery(q, histogramParams, "tag", "severity")...)
	f, ferr := parseFilter(q, false)
	if fe, ok := ferr.(*Error); ok {
		errs = append(errs, fe.Fields...)
	}
	h := HistogramQuery{Groups: DefaultHistogramGroups}
	one := func(name string) string {
		if vs := q[name]; len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	if v := one("group_by"); v != "" {
		switch {
		case v == GroupSeverity || v == GroupService || v == GroupEventType || v == GroupStatusCode:
			h.GroupBy = v
		case strings.HasPrefix(v, "tag:") && len(v) > 4 && utf8.RuneCountInString(v[4:]) <= MaxTagKeyLen &&
			utf8.ValidString(v) && strings.IndexByte(v, 0) < 0:
			h.GroupBy, h.TagKey = GroupTag, v[4:]
		default:
			bad("group_by", "must be one of severity, service, event_type, status_code, tag:<key>")
		}
	}
	if v := one("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxHistogramGroups {
			bad("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxHistogramGroups))
		} else {
			h.Groups = n
		}
	}
	now = now.UTC().Truncate(time.Microsecond)
	if f.End.IsZero() {
		f.End = now
	}
	if f.Start.IsZero() {
		f.Start = f.End.Add(-DefaultHistogramRange)
	}
	if ferr == nil && !f.End.After(f.Start) {
		bad("end_time", "must be after start_time")
	}
	if v := one("interval"); v != "" {
		d, ok := parseInterval(v)
		if !ok {
			bad("interval", "must be a whole number of seconds written like 30s, 5m, 1h or 1d")
		} else {
			h.Interval = d
		}
	} else if f.End.After(f.Start) {
		h.Interval = AutoInterval(f.End.Sub(f.Start))
	}
	if h.Interval > 0 && f.End.After(f.Start) {
		if n := BucketCount(f.Start, f.End, h.Interval); n > maxBuckets {
			errs = append(errs, FieldError{Field: "interval", Reason: "interval.too_many_buckets",
				Message: fmt.Sprintf("gives %d buckets over the range; at most %d are allowed: choose a longer interval or a shorter range", n, maxBuckets)})
		}
	}
	if len(errs) > 0 {
		return HistogramQuery{}, Invalid(errs...)
	}
	h.Filter = f
	return h, nil
}

func parseInterval(v string) (time.Duration, bool) {
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 366 {
			return 0, false
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, false
		}
	}
	if d < time.Second || d%time.Second != 0 || d > 366*24*time.Hour {
		return 0, false
	}
	return d, true
}

var niceIntervals = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// AutoInterval is the shortest round step that cuts span into at most 60 buckets.
func AutoInterval(span time.Duration) time.Duration {
	for _, d := range niceIntervals {
		if span/d <= 60 {
			return d
		}
	}
	return niceIntervals[len(niceIntervals)-1]
}

// BucketStart is the start of t's bucket: buckets are aligned to the Unix epoch.
func BucketStart(t time.Time, interval time.Duration) time.Time {
	us, step := t.UnixMicro(), interval.Microseconds()
	b := us / step * step
	if us < 0 && us%step != 0 {
		b -= step
	}
	return time.UnixMicro(b).UTC()
}

// BucketCount is the number of buckets that cover [start, end).
func BucketCount(start, end time.Time, interval time.Duration) int {
	first, last := BucketStart(start, interval), BucketStart(end.Add(-time.Microsecond), interval)
	return int(last.Sub(first)/interval) + 1
}

// Histogram is the answer of GET /api/v1/events/histogram: every bucket of
// the range (zero ones too), oldest first.
type Histogram struct {
	Start    time.Time         `json:"start_time"`
	End      time.Time         `json:"end_time"`
	Interval string            `json:"interval"`
	GroupBy  string            `json:"group_by,omitempty"`
	Groups   []string          `json:"groups"` // the top groups, largest total first
	Total    int64             `json:"total"`
	Buckets  []HistogramBucket `json:"buckets"`
}

// HistogramBucket is one interval's counts. Groups holds only non-zero
// counts; Other the groups outside the top ones.
type HistogramBucket struct {
	Start  time.Time        `json:"start"`
	Count  int64            `json:"count"`
	Groups map[string]int64 `json:"groups,omitempty"`
	Other  int64            `json:"other,omitempty"`
}

// BuildHistogram turns a store's rows into the dense answer for q.
func BuildHistogram(q HistogramQuery, rows []HistogramCount) *Histogram {
	h := &Histogram{Start: q.Filter.Start, End: q.Filter.End, Interval: FormatInterval(q.Interval), Groups: []string{}}
	if q.GroupBy == GroupTag {
		h.GroupBy = "tag:" + q.TagKey
	} else {
		h.GroupBy = q.GroupBy
	}
	first := BucketStart(q.Filter.Start, q.Interval)
	n := BucketCount(q.Filter.Start, q.Filter.End, q.Interval)
	h.Buckets = make([]HistogramBucket, n)
	for i := range h.Buckets {
		h.Buckets[i].Start = first.Add(time.Duration(i) * q.Interval)
	}
	totals := map[string]int64{}
	for _, r := range rows {
		i := int(r.Bucket.Sub(first) / q.Interval)
		if i < 0 || i >= n {
			continue // cannot happen for rows of q; never index out of range
		}
		b := &h.Buckets[i]
		b.Count += r.Count
		h.Total += r.Count
		switch {
		case q.GroupBy == GroupNone:
		case r.Other:
			b.Other += r.Count
		default:
			if b.Groups == nil {
				b.Groups = map[string]int64{}
			}
			b.Groups[r.Group] += r.Count
			totals[r.Group] += r.Count
		}
	}
	for g := range totals {
		h.Groups = append(h.Groups, g)
	}
	slices.SortFunc(h.Groups, func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b))
	})
	return h
}

// FormatInterval writes d as the API accepts it: 1d, 6h, 5m, 30s.
func FormatInterval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	default:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
}

// HistogramGroup is the group of e under q ("" when e lacks the field),
// as stores compute it in SQL; for the conformance suite and in-memory use.
func (q *HistogramQuery) HistogramGroup(e *Event) string {
	switch q.GroupBy {
	case GroupSeverity:
		return string(e.Severity)
	case GroupService:
		return e.Service
	case GroupEventType:
		return e.EventType
	case GroupStatusCode:
		if e.StatusCode == 0 {
			return ""
		}
		return strconv.Itoa(e.StatusCode)
	case GroupTag:
		return e.Tags[q.TagKey]
	}
	return ""
}
