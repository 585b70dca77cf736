package alert

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// highCardinalityHeap is the heap the evaluator's state takes for one rule
// grouped by a tag unique to every event (a request id), with a 24 h
// count_distinct:user_id window, after n such events under limits.
func highCardinalityHeap(tb testing.TB, limits pulse.AlertLimits, n int) (heapBytes uint64, groups int) {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	r, err := pulse.NewRule(pulse.NewID(), pulse.NewID(), pulse.RuleSpec{
		Name: "by request", GroupBy: []string{"tag:request_id"},
		Condition: pulse.Condition{Aggregate: pulse.AggregateDistinctUsers, Threshold: 1e9, WindowSeconds: 86400},
	}, now)
	if err != nil {
		tb.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rs := newRuleState(r, limits, nil)
	for i := range n {
		rs.add(&pulse.Event{ID: pulse.NewID(), TenantID: r.TenantID, UserID: fmt.Sprintf("user-%d", i),
			Tags: map[string]string{"request_id": fmt.Sprintf("req-%d", i)}, Timestamp: now.Add(-time.Duration(i%86000) * time.Second)}, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc), len(rs.series)
}

// The one-rule high-cardinality case of issue 13: 100,000 events, each
// its own group, stay within the default max_groups_per_rule (1,000
// groups), so the heap is bounded by the limits, not by the events. The
// bound is generous (about 4x the measured ~15 MiB); without the limit
// the same rule holds 100,000 groups (about 1.4 GiB, see
// BenchmarkHighCardinalityRule).
func TestHighCardinalityRuleHeapBounded(t *testing.T) {
	heap, groups := highCardinalityHeap(t, pulse.DefaultAlertLimits(), 100_000)
	t.Logf("one rule, 100,000 distinct groups: %d groups held, heap +%.1f MiB", groups, float64(heap)/(1<<20))
	if groups != pulse.DefaultAlertMaxGroupsPerRule {
		t.Fatalf("%d groups held, want the limit %d", groups, pulse.DefaultAlertMaxGroupsPerRule)
	}
	if heap > 64<<20 {
		t.Fatalf("heap grew %.1f MiB for one rule at its limits, want < 64 MiB", float64(heap)/(1<<20))
	}
}

// BenchmarkHighCardinalityRule reports the heap of the one-rule case with
// the default limits and with the group limit lifted (the old behaviour):
//
//	go test -run '^$' -bench HighCardinalityRule -benchtime 1x ./internal/alert/
func BenchmarkHighCardinalityRule(b *testing.B) {
	unbounded := pulse.DefaultAlertLimits()
	unbounded.MaxGroupsPerRule = pulse.MaxAlertLimit
	for _, c := range []struct {
		name   string
		limits pulse.AlertLimits
	}{{"limits=default", pulse.DefaultAlertLimits()}, {"limits=none", unbounded}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				heap, groups := highCardinalityHeap(b, c.limits, 100_000)
				b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(groups), "groups")
			}
		})
	}
}

// BenchmarkSameUsersEveryBucket reports the heap of one count_distinct
// group at the default max_distinct_per_group whose users appear in every
// one of the 601 buckets of a 24 h window (the exact count's worst case):
// 1,000 users with short ids and with ids of the longest allowed length
// (pulse.MaxUserIDLen), and 1,001 users (past the limit: the sketch).
//
//	go test -run '^$' -bench SameUsersEveryBucket -benchtime 1x ./internal/alert/
func BenchmarkSameUsersEveryBucket(b *testing.B) {
	limit := pulse.DefaultAlertMaxDistinctPerGroup
	for _, c := range []struct{ users, idLen int }{{limit, 0}, {limit, pulse.MaxUserIDLen}, {limit + 1, 0}} {
		b.Run(fmt.Sprintf("users=%d/idlen=%d", c.users, c.idLen), func(b *testing.B) {
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				rs, s, _ := sameUsersEveryBucket(b, c.users, limit, c.idLen)
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(rs)
				b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/1024, "heap-KiB")
				b.ReportMetric(float64(s.exactEntries()), "entries")
			}
		})
	}
}
