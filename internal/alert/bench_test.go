package alert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// benchRules makes 1,000 enabled rules over 100 tenants (10 each): a mix of
// filters, group_by and count_distinct, as tenants would write them.
func benchRules(b *testing.B, tenants []string) []*pulse.Rule {
	b.Helper()
	var rules []*pulse.Rule
	for i := range 1000 {
		spec := pulse.RuleSpec{
			Name:      fmt.Sprintf("rule %d", i),
			Condition: pulse.Condition{Aggregate: pulse.AggregateCount, Threshold: 1e9, WindowSeconds: 300},
		}
		switch i % 5 {
		case 0:
			spec.Filter = pulse.RuleFilter{MinSeverity: pulse.SeverityError}
		case 1:
			spec.Filter = pulse.RuleFilter{Service: fmt.Sprintf("svc-%d", i%7), StatusCodeMin: 500}
			spec.GroupBy = []string{"endpoint"}
		case 2:
			spec.Filter = pulse.RuleFilter{EventType: "http.request", Tags: map[string]string{"region": "eu"}}
			spec.GroupBy = []string{"service"}
		case 3:
			spec.Condition.Aggregate = pulse.AggregateDistinctUsers
			spec.Filter = pulse.RuleFilter{Severity: []pulse.Severity{pulse.SeverityError, pulse.SeverityCritical}}
		case 4:
			spec.GroupBy = []string{"tag:region"}
		}
		r, err := pulse.NewRule(pulse.NewID(), tenants[i%len(tenants)], spec, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, r)
	}
	return rules
}

func benchEvent(rng *rand.Rand, tenant string, ts time.Time) *pulse.Event {
	sevs := pulse.Severities
	regions := []string{"eu", "us", "ap"}
	return &pulse.Event{
		ID: pulse.NewID(), TenantID: tenant, EventType: "http.request",
		Severity: sevs[rng.IntN(len(sevs))], Service: fmt.Sprintf("svc-%d", rng.IntN(7)),
		Endpoint: fmt.Sprintf("/api/%d", rng.IntN(20)), StatusCode: 200 + 100*rng.IntN(4),
		UserID: fmt.Sprintf("u%d", rng.IntN(5000)), Tags: map[string]string{"region": regions[rng.IntN(3)]},
		Timestamp: ts,
	}
}

// BenchmarkEvaluateSecond is the evaluator's in-memory work for one second
// of traffic at 10,000 events/s with 1,000 rules over 100 tenants and a
// 300 s window: match every event against its tenant's rules, bucket it,
// then evaluate every (rule, group) series. ns/op ÷ 1e9 is the share of
// one core that evaluation needs (the database read is measured by
// BenchmarkTickSQLite).
func BenchmarkEvaluateSecond(b *testing.B) {
	tenants := make([]string, 100)
	for i := range tenants {
		tenants[i] = pulse.NewID()
	}
	e := NewEvaluator(Config{})
	e.rules, e.byTenant = map[string]*ruleState{}, map[string][]*ruleState{}
	for _, r := range benchRules(b, tenants) {
		rs := newRuleState(r, pulse.DefaultAlertLimits(), nil)
		e.rules[r.ID] = rs
		e.byTenant[r.TenantID] = append(e.byTenant[r.TenantID], rs)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Truncate(time.Second)
	events := make([]*pulse.Event, 10_000)
	// Fill the window first, so that every tick evaluates full series.
	fill := func(at time.Time) {
		for i := range events {
			events[i] = benchEvent(rng, tenants[rng.IntN(len(tenants))], at.Add(-time.Duration(rng.IntN(1000))*time.Millisecond))
		}
	}
	step := func(at time.Time) {
		for _, ev := range events {
			for _, rs := range e.byTenant[ev.TenantID] {
				rs.add(ev, at)
			}
		}
		for _, rs := range e.rules {
			for _, s := range rs.series {
				rs.rule.Condition.Holds(rs.value(s, at))
			}
		}
	}
	for i := range 300 {
		at := now.Add(time.Duration(i) * time.Second)
		fill(at)
		step(at)
	}
	now = now.Add(300 * time.Second)
	fill(now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		step(now.Add(time.Duration(i) * time.Second))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9*100, "%core")
}

// BenchmarkTickSQLite is one real Tick on SQLite after 10,000 new events
// (one second of traffic) with the same 1,000 rules: the database read of
// the new events plus the in-memory work. Inserting the events is not timed.
func BenchmarkTickSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tenants := make([]string, 100)
	for i := range tenants {
		t, err := pulse.NewTenant(pulse.NewID(), fmt.Sprintf("t%d", i), pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateTenant(ctx, t); err != nil {
			b.Fatal(err)
		}
		tenants[i] = t.ID
	}
	for _, r := range benchRules(b, tenants) {
		if err := db.CreateRule(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	e := NewEvaluator(Config{Store: db})
	if _, err := e.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		byTenant := map[string][]*pulse.Event{}
		for range 10_000 {
			t := tenants[rng.IntN(len(tenants))]
			ev := benchEvent(rng, t, time.Now().UTC().Truncate(time.Microsecond))
			ev.ReceivedAt, ev.ContentHash = ev.Timestamp, ev.ID
			byTenant[t] = append(byTenant[t], ev)
		}
		for t, evs := range byTenant {
			if _, err := db.InsertEvents(ctx, t, evs); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := e.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9*100, "%core")
}
