package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

type usageReport struct {
	Limit     int    `json:"limit"`
	Remaining int    `json:"remaining"`
	Interval  string `json:"interval"`
	Intervals []struct {
		Start       time.Time        `json:"start"`
		Created     int64            `json:"created"`
		Duplicates  int64            `json:"duplicates"`
		Conflicts   int64            `json:"conflicts"`
		RateLimited int64            `json:"rate_limited"`
		Rejected    int64            `json:"rejected"`
		ByReason    map[string]int64 `json:"rejected_by_reason"`
	} `json:"intervals"`
}

type usageTotals struct {
	Created, Duplicates, Conflicts, RateLimited, Rejected int64
	ByReason                                              map[string]int64
}

func (u usageReport) totals() usageTotals {
	t := usageTotals{ByReason: map[string]int64{}}
	for _, iv := range u.Intervals {
		t.Created += iv.Created
		t.Duplicates += iv.Duplicates
		t.Conflicts += iv.Conflicts
		t.RateLimited += iv.RateLimited
		t.Rejected += iv.Rejected
		for k, v := range iv.ByReason {
			t.ByReason[k] += v
		}
	}
	return t
}

func (u usageTotals) String() string { return fmt.Sprintf("%+v", struct{ usageTotals }{u}) }

func (u usageTotals) equal(o usageTotals) bool {
	return u.Created == o.Created && u.Duplicates == o.Duplicates && u.Conflicts == o.Conflicts &&
		u.RateLimited == o.RateLimited && u.Rejected == o.Rejected && maps.Equal(u.ByReason, o.ByReason)
}

func (n *node) usage(key, query string) usageReport {
	n.t.Helper()
	r := n.do("GET", "/api/v1/usage?"+query, key, nil)
	expectStatus(n.t, r, http.StatusOK)
	var u usageReport
	mustUnmarshal(n.t, r.Body, &u)
	return u
}

// waitUsage polls the usage report until its totals equal want: the
// aggregator writes its counters once a second (real time, I/O only).
func (n *node) waitUsage(key, query string, want usageTotals) usageReport {
	n.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		u := n.usage(key, query)
		got := u.totals()
		if got.equal(want) {
			return u
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("usage %q totals = %v, want %v", query, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestUsageCounts(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) { c.MaxPayloadBytes = 1024 }, func(t *testing.T, n *node) {
		_, key := n.tenant("usage", 5)
		_, keyB := n.tenant("usage-b", 7)
		for i := range 3 {
			n.ingest(key, event(map[string]any{"external_id": fmt.Sprintf("u%d", i)}))
		}
		expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "u0"})), http.StatusOK)
		problem(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "u1", "message": "x"})), http.StatusConflict)
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"severity": "loud"})), "severity")
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"severity": "quiet"})), "severity")
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"status_code": 7})), "status_code")
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"payload": map[string]any{"p": strings.Repeat("x", 2000)}})), "payload")
		r, b := n.batch(key, fresh(4, "batch"))
		if r.Status != http.StatusOK || b.Accepted != 2 || b.RateLimited != 2 {
			t.Fatalf("batch: %s", r.Body)
		}
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusTooManyRequests)

		want := usageTotals{Created: 5, Duplicates: 1, Conflicts: 1, RateLimited: 3, Rejected: 4,
			ByReason: map[string]int64{"severity.invalid": 2, "status_code.invalid": 1, "payload.too_large": 1}}
		u := n.waitUsage(key, "", want)
		if u.Limit != 5 || u.Remaining != 0 || u.Interval != "hour" || len(u.Intervals) != 24 {
			t.Fatalf("report: limit %d remaining %d interval %q with %d intervals", u.Limit, u.Remaining, u.Interval, len(u.Intervals))
		}
		hour := n.Clock.Now().UTC().Truncate(time.Hour)
		last := u.Intervals[len(u.Intervals)-1]
		if !last.Start.Equal(hour) || last.Created != 5 {
			t.Fatalf("the counts are not in the current hour %v: last interval %+v", hour, last)
		}
		for i := 1; i < len(u.Intervals); i++ {
			if u.Intervals[i].Start.Sub(u.Intervals[i-1].Start) != time.Hour {
				t.Fatalf("intervals are not consecutive hours: %v then %v", u.Intervals[i-1].Start, u.Intervals[i].Start)
			}
		}

		// By day, and over an explicit range.
		d := n.usage(key, "interval=day")
		if d.Interval != "day" || !d.totals().equal(want) {
			t.Fatalf("daily report: %q %v", d.Interval, d.totals())
		}
		for _, iv := range d.Intervals {
			if !iv.Start.Equal(iv.Start.Truncate(24 * time.Hour)) {
				t.Fatalf("daily interval starts at %v", iv.Start)
			}
		}
		yesterday := hour.Add(-48 * time.Hour)
		past := n.usage(key, fmt.Sprintf("start_time=%s&end_time=%s", yesterday.Format(time.RFC3339), hour.Format(time.RFC3339)))
		if got := past.totals(); !got.equal(usageTotals{ByReason: map[string]int64{}}) || len(past.Intervals) != 48 {
			t.Fatalf("a range before the events: %d intervals, totals %v", len(past.Intervals), got)
		}
		exact := n.usage(key, fmt.Sprintf("start_time=%s&end_time=%s", hour.Format(time.RFC3339), hour.Add(time.Hour).Format(time.RFC3339)))
		if len(exact.Intervals) != 1 || !exact.totals().equal(want) {
			t.Fatalf("the current hour alone: %+v", exact)
		}

		// Another tenant sees only its own (empty) accounting.
		ub := n.usage(keyB, "")
		if got := ub.totals(); !got.equal(usageTotals{ByReason: map[string]int64{}}) || ub.Limit != 7 || ub.Remaining != 7 {
			t.Fatalf("tenant B's usage: limit %d remaining %d totals %v", ub.Limit, ub.Remaining, got)
		}

		// The report is JSON with the documented names.
		raw := n.do("GET", "/api/v1/usage", key, nil)
		var generic map[string]any
		if err := json.Unmarshal(raw.Body, &generic); err != nil || !strings.Contains(string(raw.Body), `"rejected_by_reason":{`) {
			t.Fatalf("usage body: %s", raw.Body)
		}
	})
}

func TestUsageBadParameters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("usage-bad", 0)
		now := n.Clock.Now().UTC()
		for _, c := range []struct{ query, field string }{
			{"interval=week", "interval"},
			{"interval=HOUR", "interval"},
			{"start_time=garbage", "start_time"},
			{"end_time=2026-02-30T00:00:00Z", "end_time"},
			{"start_time=" + now.Format(time.RFC3339) + "&end_time=" + now.Add(-time.Hour).Format(time.RFC3339), "end_time"},
			{"start_time=" + now.AddDate(-1, 0, 0).Format(time.RFC3339), "start_time"},
			{"intervall=day", "intervall"},             // a typo is refused, not ignored
			{"interval=day&interval=hour", "interval"}, // so is a repeated parameter
			{"end_time=" + now.Format(time.RFC3339) + "&end_time=" + now.Format(time.RFC3339), "end_time"},
		} {
			t.Run(c.query, func(t *testing.T) {
				invalid(t, n.do("GET", "/api/v1/usage?"+c.query, key, nil), c.field)
			})
		}
	})
}
