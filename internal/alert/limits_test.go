package alert

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// A sliding HyperLogLog of 100,000 distinct users estimates within 5 %
// (3 standard errors at 2^12 registers), forgets a bucket that leaves the
// window, and counts small sets exactly enough (linear counting).
func TestSlidingHLLAccuracy(t *testing.T) {
	t.Parallel()
	var h slidingHLL
	const n = 100_000
	for i := range n {
		h.add(fmt.Sprintf("user-%d", i), int64(1+i%10)) // over 10 buckets, out of order
	}
	for i := range n / 10 { // seen again in a later bucket: not new
		h.add(fmt.Sprintf("user-%d", i), 11)
	}
	if got := h.estimate(); math.Abs(got-n)/n > 0.05 {
		t.Fatalf("estimate of %d distinct = %.0f (%.2f %% off)", n, got, 100*math.Abs(got-n)/n)
	}
	// Buckets 1-5 leave the window: the users only seen there are gone
	// (those of buckets 6-10, and user-0..9999 seen again in bucket 11).
	h.expire(5)
	want := float64(n/2 + n/10/2)
	if got := h.estimate(); math.Abs(got-want)/want > 0.05 {
		t.Fatalf("after expiry estimate = %.0f, want about %.0f", got, want)
	}
	var small slidingHLL
	for i := range 100 {
		small.add(fmt.Sprintf("u%d", i), 1)
	}
	if got := small.estimate(); math.Abs(got-100) > 3 {
		t.Fatalf("estimate of 100 distinct = %.1f", got)
	}
}

// One tenant at its limits (a rule grouped by a tag unique to every event,
// and a count_distinct over users unique to every event) does not stop a
// second tenant's rule from firing on the same tick, and the evaluator
// holds no more than the limits allow: groups beyond max_groups_per_rule
// are dropped, counted in the metric and shown in the rule's status, and
// users beyond max_distinct_per_group go to a fixed-size sketch.
func TestEvaluatorTenantAtLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "limits.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	newTenant := func(name string) *pulse.Tenant {
		tn, err := pulse.NewTenant(pulse.NewID(), name, pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	hostile, quiet := newTenant("hostile"), newTenant("quiet")
	// The hostile tenant's override is what binds: tighter than the defaults.
	if _, err := db.UpdateTenant(ctx, hostile.ID, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{MaxGroupsPerRule: ptr(50), MaxDistinctPerGroup: ptr(100)}}); err != nil {
		t.Fatal(err)
	}
	newRule := func(tenant string, spec pulse.RuleSpec) *pulse.Rule {
		r, err := pulse.NewRule(pulse.NewID(), tenant, spec, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	never := pulse.Condition{Aggregate: pulse.AggregateCount, Threshold: 1e9, WindowSeconds: 86400}
	grouped := newRule(hostile.ID, pulse.RuleSpec{Name: "by request", GroupBy: []string{"tag:request_id"}, Condition: never})
	distinct := never
	distinct.Aggregate = pulse.AggregateDistinctUsers
	users := newRule(hostile.ID, pulse.RuleSpec{Name: "users", Condition: distinct})
	quietRule := newRule(quiet.ID, pulse.RuleSpec{Name: "any", Condition: pulse.Condition{Aggregate: pulse.AggregateCount, Threshold: 1, Operator: pulse.OperatorGTE, WindowSeconds: 60}})

	e := NewEvaluator(Config{Store: db, Tenants: db, Clock: clock})
	if _, err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	const n = 5000
	evs := make([]*pulse.Event, n)
	for i := range evs {
		evs[i] = &pulse.Event{ID: pulse.NewID(), TenantID: hostile.ID, EventType: "http.request", Severity: pulse.SeverityInfo,
			UserID: fmt.Sprintf("user-%d", i), Tags: map[string]string{"request_id": fmt.Sprintf("req-%d", i)}, Timestamp: clock.Now()}
		evs[i].ReceivedAt, evs[i].ContentHash = evs[i].Timestamp, evs[i].ID
	}
	if _, err := db.InsertEvents(ctx, hostile.ID, evs); err != nil {
		t.Fatal(err)
	}
	q := &pulse.Event{ID: pulse.NewID(), TenantID: quiet.ID, EventType: "login", Severity: pulse.SeverityInfo, Timestamp: clock.Now()}
	q.ReceivedAt, q.ContentHash = q.Timestamp, q.ID
	if _, err := db.InsertEvents(ctx, quiet.ID, []*pulse.Event{q}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}

	firing, err := db.ListFiringAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(firing) != 1 || firing[0].RuleID != quietRule.ID {
		t.Fatalf("firing after the tick: %d alerts, want the quiet tenant's rule", len(firing))
	}
	st, ok := e.RuleStatus(grouped.ID)
	if !ok || st.Groups != 50 || st.MaxGroups != 50 || st.GroupsDropped != n-50 {
		t.Fatalf("grouped rule status = %+v (known %v), want 50 groups of 50 and %d dropped", st, ok, n-50)
	}
	if got := testutil.ToFloat64(e.cfg.Metrics.groupsDropped.WithLabelValues(DroppedMaxGroups)); got != n-50 {
		t.Fatalf("pulsestream_alert_groups_dropped_total = %v, want %d", got, n-50)
	}
	// What the evaluator holds, counted: no more groups than the limits,
	// no more exact users than max_distinct_per_group in any group.
	e.mu.Lock()
	groups, exact, sketches := 0, 0, 0
	for _, rs := range e.rules {
		groups += len(rs.series)
		for _, s := range rs.series {
			exact += len(s.users) + s.exactEntries()
			if s.sketch != nil {
				sketches++
			}
		}
	}
	e.mu.Unlock()
	if groups != 50+1+1 || exact != 0 || sketches != 1 {
		t.Fatalf("evaluator holds %d groups, %d exact users, %d sketches; want 52, 0, 1", groups, exact, sketches)
	}
	if got := testutil.ToFloat64(e.cfg.Metrics.groups); got != float64(groups) {
		t.Fatalf("pulsestream_alert_groups = %v, want %d", got, groups)
	}
	us := e.rules[users.ID].series[""]
	if v := e.rules[users.ID].value(us, clock.Now()); math.Abs(v-n)/n > 0.05 {
		t.Fatalf("count_distinct estimate = %v, want about %d", v, n)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("evaluator state for %d events of distinct groups and users: heap %d KiB before, %d KiB after", n, before.HeapAlloc/1024, after.HeapAlloc/1024)
}

// sameUsersEveryBucket feeds n users (ids of at least idLen bytes) into
// every bucket of a 24 h count_distinct window (601 buckets of 144 s) with
// the given max_distinct_per_group, and returns the rule state, its one group and
// the time of the last bucket.
func sameUsersEveryBucket(tb testing.TB, n, maxDistinct, idLen int) (*ruleState, *series, time.Time) {
	tb.Helper()
	now := time.Unix(1_800_000_000, 0).UTC()
	r, err := pulse.NewRule(pulse.NewID(), pulse.NewID(), pulse.RuleSpec{Name: "users",
		Condition: pulse.Condition{Aggregate: pulse.AggregateDistinctUsers, Threshold: 1e9, WindowSeconds: 86400}}, now)
	if err != nil {
		tb.Fatal(err)
	}
	limits := pulse.DefaultAlertLimits()
	limits.MaxDistinctPerGroup = maxDistinct
	rs := newRuleState(r, limits, nil)
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user-%0*d", max(0, idLen-5), i)
	}
	var at time.Time
	for k := range rs.slots {
		at = now.Add(time.Duration(k*rs.width) * time.Second)
		for _, u := range users {
			rs.add(&pulse.Event{ID: u, UserID: u, Timestamp: at}, at)
		}
		rs.value(rs.series[""], at)
	}
	return rs, rs.series[""], at
}

// The same users in every bucket of a long window are counted once each:
// the group holds one entry per distinct user (not one per bucket and
// user, which was 601 × 100 here), counts them exactly, and frees them
// when they leave the window.
func TestDistinctSameUsersEveryBucketBounded(t *testing.T) {
	t.Parallel()
	const n, limit = 100, 101 // room for one more user
	rs, s, now := sameUsersEveryBucket(t, n, limit, 0)
	if rs.slots < 600 {
		t.Fatalf("%d buckets, want a long ring", rs.slots)
	}
	if got := s.exactEntries(); got > limit || got != len(s.users) || s.sketch != nil {
		t.Fatalf("group holds %d exact entries for %d users (sketch %v), want <= %d", got, len(s.users), s.sketch != nil, limit)
	}
	if v := rs.value(s, now); v != n {
		t.Fatalf("count_distinct = %v, want %d", v, n)
	}
	// One more user in the next bucket; then the n users leave the window
	// with their newest bucket, and the last one with its own.
	now = now.Add(time.Duration(rs.width) * time.Second)
	rs.add(&pulse.Event{ID: "late", UserID: "user-late", Timestamp: now}, now)
	if v := rs.value(s, now); v != n+1 || s.exactEntries() != n+1 {
		t.Fatalf("count_distinct = %v with %d entries, want %d", v, s.exactEntries(), n+1)
	}
	now = now.Add(time.Duration(rs.slots-2) * time.Duration(rs.width) * time.Second) // the window starts at the late bucket
	if v := rs.value(s, now); v != 1 || s.exactEntries() != 1 {
		t.Fatalf("after the older buckets expired: count_distinct = %v with %d entries, want 1 and 1", v, s.exactEntries())
	}
	now = now.Add(time.Duration(rs.width) * time.Second)
	if v := rs.value(s, now); v != 0 || s.exactEntries() != 0 || len(s.users) != 0 {
		t.Fatalf("after the window emptied: count_distinct = %v with %d entries", v, s.exactEntries())
	}
}

func ptr[T any](v T) *T { return &v }
