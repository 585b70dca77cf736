package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

type histogramAnswer struct {
	Start    time.Time `json:"start_time"`
	End      time.Time `json:"end_time"`
	Interval string    `json:"interval"`
	GroupBy  string    `json:"group_by"`
	Groups   []string  `json:"groups"`
	Total    int64     `json:"total"`
	Buckets  []struct {
		Start  time.Time        `json:"start"`
		Count  int64            `json:"count"`
		Groups map[string]int64 `json:"groups"`
		Other  int64            `json:"other"`
	} `json:"buckets"`
}

func (n *node) histogram(t *testing.T, key string, q url.Values) histogramAnswer {
	t.Helper()
	r := n.do("GET", "/api/v1/events/histogram?"+q.Encode(), key, nil)
	expectStatus(t, r, http.StatusOK)
	var h histogramAnswer
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatalf("histogram: %v: %s", err, r.Body)
	}
	return h
}

func TestEventHistogram(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("histogram", 0)
		_, base := searchDataset(t, n, key) // e0..e9 one minute apart from base
		_, otherKey := n.tenant("other", 0)
		searchDataset(t, n, otherKey)
		rng := q("start_time", ts(base), "end_time", ts(base.Add(10*time.Minute)))

		// Five-minute buckets, grouped by severity, every bucket present.
		p := url.Values{"interval": {"5m"}, "group_by": {"severity"}}
		for k, v := range rng {
			p[k] = v
		}
		h := n.histogram(t, key, p)
		if h.Total != 10 || h.Interval != "5m" || h.GroupBy != "severity" {
			t.Fatalf("total %d interval %q group_by %q, want 10 5m severity", h.Total, h.Interval, h.GroupBy)
		}
		var sum int64
		for _, b := range h.Buckets {
			sum += b.Count
		}
		if sum != 10 || len(h.Buckets) < 2 || len(h.Buckets) > 3 {
			t.Errorf("%d buckets summing to %d, want 2-3 summing to 10", len(h.Buckets), sum)
		}
		// info ×3, debug/warning/error ×2, critical ×1: info first, then ties by name.
		if want := []string{"info", "debug", "error", "warning", "critical"}; !equal(h.Groups, want) {
			t.Errorf("groups %v, want %v", h.Groups, want)
		}

		// Top 1 service plus other; filters apply (tag env:prod).
		p = url.Values{"interval": {"1h"}, "group_by": {"service"}, "limit": {"1"}, "tag": {"env:prod"}}
		for k, v := range rng {
			p[k] = v
		}
		h = n.histogram(t, key, p)
		var other, api int64
		for _, b := range h.Buckets {
			other += b.Other
			api += b.Groups["api"]
		}
		// env:prod: e0 e1 e3 e8 (api) and e6 (web).
		if h.Total != 5 || api != 4 || other != 1 || !equal(h.Groups, []string{"api"}) {
			t.Errorf("top-1 by service with env:prod: total %d api %d other %d groups %v; want 5 4 1 [api]", h.Total, api, other, h.Groups)
		}

		// Tag grouping; events without the tag are the "" group.
		p = url.Values{"interval": {"1d"}, "group_by": {"tag:region"}}
		for k, v := range rng {
			p[k] = v
		}
		h = n.histogram(t, key, p)
		byRegion := map[string]int64{}
		for _, b := range h.Buckets { // one bucket, or two when the range crosses midnight UTC
			for g, c := range b.Groups {
				byRegion[g] += c
			}
		}
		if h.Total != 10 || byRegion["eu"] != 4 || byRegion[""] != 3 || !equal(h.Groups, []string{"eu", "", "us"}) {
			t.Errorf("by tag:region: %+v", h)
		}

		// Defaults: the last 24 hours, an automatic interval.
		h = n.histogram(t, key, nil)
		if h.Total != 10 || !h.End.Equal(n.Clock.Now().UTC()) || h.End.Sub(h.Start) != 24*time.Hour || len(h.Buckets) > 61 {
			t.Errorf("defaults: total %d, %s to %s, %d buckets", h.Total, h.Start, h.End, len(h.Buckets))
		}

		// Client mistakes are 422s naming the parameter.
		for _, c := range []struct {
			query url.Values
			field string
		}{
			{q("interval", "1s"), "interval"}, // 86,400 buckets over a day
			{q("interval", "1.5s"), "interval"},
			{q("interval", "soon"), "interval"},
			{q("group_by", "user_id"), "group_by"},
			{q("group_by", "tag:"), "group_by"},
			{q("limit", "0"), "limit"},
			{q("cursor", "abc"), "cursor"},
			{q("severity", "loud"), "severity"},
			{q("start_time", ts(n.Clock.Now().Add(time.Hour))), "end_time"},
		} {
			invalid(t, n.do("GET", "/api/v1/events/histogram?"+c.query.Encode(), key, nil), c.field)
		}
		problem(t, n.do("GET", "/api/v1/events/histogram", "", nil), http.StatusUnauthorized)
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
