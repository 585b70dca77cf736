package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("SearchLimitPageAndOneMore", testSearchLimitPageAndOneMore)
	register("AlertLimitsOverrides", testAlertLimitsOverrides)
}

// A tenant's alert limit overrides start at zero (the defaults), are set
// and cleared field by field, survive a read back and the tenant list, and
// an invalid one changes nothing.
func testAlertLimitsOverrides(t *testing.T, s pulse.Store) {
	ctx := context.Background()
	tn := createTenant(t, s, 0)
	other := createTenant(t, s, 0)
	if tn.AlertLimits != (pulse.AlertLimits{}) {
		t.Fatalf("new tenant overrides = %+v, want none", tn.AlertLimits)
	}
	n := func(v int) *int { return &v }
	got, err := s.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{MaxRules: n(3), MaxGroupsPerRule: n(20), MaxDistinctPerGroup: n(50), MaxWindowSeconds: n(600), WebhookConcurrency: n(2)}})
	if err != nil {
		t.Fatal(err)
	}
	want := pulse.AlertLimits{MaxRules: 3, MaxGroupsPerRule: 20, MaxDistinctPerGroup: 50, MaxWindowSeconds: 600, WebhookConcurrency: 2}
	if got.AlertLimits != want {
		t.Fatalf("UpdateTenant returned %+v, want %+v", got.AlertLimits, want)
	}
	// Clear one field (back to the default), leave the others.
	if _, err := s.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{MaxRules: n(0)}}); err != nil {
		t.Fatal(err)
	}
	want.MaxRules = 0
	if got, err = s.GetTenant(ctx, tn.ID); err != nil || got.AlertLimits != want {
		t.Fatalf("GetTenant overrides = %+v (%v), want %+v", got.AlertLimits, err, want)
	}
	if got.TailLimits != (pulse.TailLimits{}) {
		t.Fatalf("tail overrides = %+v after alert updates, want none", got.TailLimits)
	}
	// Tail limit overrides (issue 14) live next to the alert ones.
	wantTail := pulse.TailLimits{MaxStreams: 1, EventsPerSecond: 7}
	if got, err = s.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{TailLimits: &pulse.TailLimitsPatch{MaxStreams: n(1), EventsPerSecond: n(7)}}); err != nil || got.TailLimits != wantTail || got.AlertLimits != want {
		t.Fatalf("tail update: %+v %+v (%v), want %+v %+v", got.TailLimits, got.AlertLimits, err, wantTail, want)
	}
	if _, err = s.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{TailLimits: &pulse.TailLimitsPatch{EventsPerSecond: n(-1)}}); pulse.ErrorCode(err) != pulse.EINVALID {
		t.Fatalf("negative tail events_per_second: err = %v, want EINVALID", err)
	}
	if got, err = s.GetTenant(ctx, tn.ID); err != nil || got.TailLimits != wantTail {
		t.Fatalf("GetTenant tail overrides = %+v (%v), want %+v", got.TailLimits, err, wantTail)
	}
	if eff := pulse.DefaultAlertLimits().With(got.AlertLimits); eff.MaxRules != pulse.DefaultAlertMaxRules || eff.MaxGroupsPerRule != 20 {
		t.Fatalf("limits in force = %+v", eff)
	}
	_, err = s.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{MaxGroupsPerRule: n(-1), MaxWindowSeconds: n(60)}})
	if pulse.ErrorCode(err) != pulse.EINVALID {
		t.Fatalf("negative max_groups_per_rule: err = %v, want EINVALID", err)
	}
	all, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		switch x.ID {
		case tn.ID:
			if x.AlertLimits != want || x.TailLimits != wantTail {
				t.Fatalf("listed overrides = %+v %+v after a refused update, want %+v %+v", x.AlertLimits, x.TailLimits, want, wantTail)
			}
		case other.ID:
			if x.AlertLimits != (pulse.AlertLimits{}) || x.TailLimits != (pulse.TailLimits{}) {
				t.Fatalf("other tenant's overrides = %+v %+v, want none", x.AlertLimits, x.TailLimits)
			}
		}
	}
}

// The HTTP layer asks for limit+1 rows to learn whether a next page exists;
// a store that capped at MaxSearchLimit would end paging after 1,000 events.
func testSearchLimitPageAndOneMore(t *testing.T, s pulse.Store) {
	ctx := context.Background()
	tn := createTenant(t, s, 30)
	base := now().Add(-time.Hour)
	events := make([]*pulse.Event, pulse.MaxSearchLimit+5)
	for i := range events {
		events[i] = newEvent(tn.ID, base.Add(time.Duration(i)*time.Millisecond))
	}
	insert(t, s, tn.ID, events...)
	got, err := s.SearchEvents(ctx, tn.ID, pulse.EventFilter{Limit: pulse.MaxSearchLimit + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != pulse.MaxSearchLimit+1 {
		t.Fatalf("Limit %d returned %d events", pulse.MaxSearchLimit+1, len(got))
	}
	got, err = s.SearchEvents(ctx, tn.ID, pulse.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != pulse.DefaultSearchLimit {
		t.Fatalf("Limit 0 returned %d events, want the default %d", len(got), pulse.DefaultSearchLimit)
	}
}
