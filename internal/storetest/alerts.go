package storetest

import (
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("AlertRulesCRUDScopedByTenant", testAlertRules)
	register("AlertFireResolveOnce", testAlertFireResolve)
	register("AlertNotificationsAttemptsRetry", testAlertNotifications)
	register("AlertSilences", testAlertSilences)
	register("AlertLease", testAlertLease)
	register("AlertScanEvents", testAlertScanEvents)
}

func newRule(t *testing.T, tenantID string) *pulse.Rule {
	t.Helper()
	r, err := pulse.NewRule(newID(), tenantID, pulse.RuleSpec{
		Name:      "errors",
		Filter:    pulse.RuleFilter{Service: "api", Tags: map[string]string{"region": "eu"}},
		Condition: pulse.Condition{Aggregate: pulse.AggregateCount, Threshold: 5, WindowSeconds: 60},
		GroupBy:   []string{"service"},
		Notify:    []pulse.Notifier{{URL: "https://hooks.example.com/x"}},
	}, now())
	if err != nil {
		t.Fatalf("NewRule: %v", err)
	}
	return r
}

func testAlertRules(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	r := newRule(t, a.ID)
	if err := s.CreateRule(ctx, r); err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	wantCode(t, s.CreateRule(ctx, r), pulse.ECONFLICT)
	got, err := s.GetRule(ctx, a.ID, r.ID)
	if err != nil {
		t.Fatalf("GetRule: %v", err)
	}
	if got.Name != r.Name || got.Notify[0].Secret != r.Notify[0].Secret || got.Filter.Tags["region"] != "eu" || !got.IsEnabled() {
		t.Fatalf("GetRule = %+v, want %+v", got.RuleSpec, r.RuleSpec)
	}
	checkTime(t, "created_at", got.CreatedAt, r.CreatedAt)
	_, err = s.GetRule(ctx, b.ID, r.ID)
	wantCode(t, err, pulse.ENOTFOUND)
	if rs, err := s.ListRules(ctx, b.ID); err != nil || len(rs) != 0 {
		t.Fatalf("ListRules(other tenant) = %v, %v", rs, err)
	}

	off := false
	r.Enabled = &off
	r.UpdatedAt = now()
	if err := s.UpdateRule(ctx, r); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	if rs, _ := s.ListEnabledRules(ctx); containsRule(rs, r.ID) {
		t.Fatal("a disabled rule is listed as enabled")
	}
	on := true
	r.Enabled = &on
	if err := s.UpdateRule(ctx, r); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	if rs, _ := s.ListEnabledRules(ctx); !containsRule(rs, r.ID) {
		t.Fatal("an enabled rule is missing from ListEnabledRules")
	}
	other := *r
	other.TenantID = b.ID
	wantCode(t, s.UpdateRule(ctx, &other), pulse.ENOTFOUND)
	wantCode(t, s.DeleteRule(ctx, b.ID, r.ID, now()), pulse.ENOTFOUND)
	if err := s.DeleteRule(ctx, a.ID, r.ID, now()); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	_, err = s.GetRule(ctx, a.ID, r.ID)
	wantCode(t, err, pulse.ENOTFOUND)
	if rs, _ := s.ListEnabledRules(ctx); containsRule(rs, r.ID) {
		t.Fatal("a deleted rule is listed as enabled")
	}
}

func containsRule(rs []*pulse.Rule, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func testAlertFireResolve(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn, other := createTenant(t, s, 0), createTenant(t, s, 0)
	r := newRule(t, tn.ID)
	if err := s.CreateRule(ctx, r); err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	start := now()
	a := &pulse.Alert{ID: newID(), TenantID: tn.ID, RuleID: r.ID, RuleName: r.Name, GroupKey: `["api"]`,
		Group: map[string]string{"service": "api"}, Status: pulse.AlertFiring, Value: 6, Threshold: 5,
		StartedAt: start, SampleEventIDs: []string{newID()}}
	note := &pulse.Notification{ID: newID(), TenantID: tn.ID, AlertID: a.ID, RuleID: r.ID, Kind: pulse.NotifyFiring,
		URL: "https://hooks.example.com/x", Secret: pulse.NewWebhookSecret(), Payload: []byte(`{"a":1}`),
		Status: pulse.NotificationPending, CreatedAt: start, UpdatedAt: start}
	if err := s.FireAlert(ctx, a, []*pulse.Notification{note}); err != nil {
		t.Fatalf("FireAlert: %v", err)
	}
	second := *a
	second.ID = newID()
	wantCode(t, s.FireAlert(ctx, &second, nil), pulse.ECONFLICT)

	firing, err := s.ListFiringAlerts(ctx)
	if err != nil || len(firing) != 1 || firing[0].ID != a.ID || firing[0].Group["service"] != "api" {
		t.Fatalf("ListFiringAlerts = %v, %v", firing, err)
	}
	_, err = s.GetAlert(ctx, other.ID, a.ID)
	wantCode(t, err, pulse.ENOTFOUND)

	end := start.Add(time.Minute)
	if err := s.ResolveAlert(ctx, tn.ID, a.ID, end, 0, nil); err != nil {
		t.Fatalf("ResolveAlert: %v", err)
	}
	wantCode(t, s.ResolveAlert(ctx, tn.ID, a.ID, end, 0, nil), pulse.ECONFLICT)
	wantCode(t, s.ResolveAlert(ctx, other.ID, a.ID, end, 0, nil), pulse.ECONFLICT)
	if _, err := s.AcknowledgeAlert(ctx, tn.ID, a.ID, end); err != nil {
		t.Fatalf("AcknowledgeAlert: %v", err)
	}
	got, err := s.AcknowledgeAlert(ctx, tn.ID, a.ID, end.Add(time.Second)) // once only
	if err != nil {
		t.Fatalf("AcknowledgeAlert: %v", err)
	}
	if got.Status != pulse.AlertResolved || got.ResolvedAt == nil || got.AcknowledgedAt == nil || len(got.History) != 3 {
		t.Fatalf("alert = %+v", got)
	}
	checkTime(t, "acknowledged_at", *got.AcknowledgedAt, end)
	for i, want := range []string{pulse.AlertFiring, pulse.AlertResolved, pulse.AlertAcknowledged} {
		if got.History[i].Status != want {
			t.Errorf("history[%d] = %s, want %s", i, got.History[i].Status, want)
		}
	}
	// A new firing alert for the group may open once the old one is resolved.
	if err := s.FireAlert(ctx, &second, nil); err != nil {
		t.Fatalf("FireAlert after resolve: %v", err)
	}
	list, err := s.ListAlerts(ctx, tn.ID, pulse.AlertFilter{Limit: 10})
	if err != nil || len(list) != 2 || list[0].ID != second.ID {
		t.Fatalf("ListAlerts = %v, %v (want newest first)", list, err)
	}
	page, err := s.ListAlerts(ctx, tn.ID, pulse.AlertFilter{Limit: 10, After: second.ID, Status: pulse.AlertResolved, RuleID: r.ID})
	if err != nil || len(page) != 1 || page[0].ID != a.ID {
		t.Fatalf("ListAlerts(after, resolved) = %v, %v", page, err)
	}
	if l, _ := s.ListAlerts(ctx, other.ID, pulse.AlertFilter{Limit: 10}); len(l) != 0 {
		t.Fatal("another tenant lists the alerts")
	}
}

func testAlertNotifications(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn, other := createTenant(t, s, 0), createTenant(t, s, 0)
	at := now()
	n := &pulse.Notification{ID: newID(), TenantID: tn.ID, AlertID: newID(), RuleID: newID(), Kind: pulse.NotifyFiring,
		URL: "https://hooks.example.com/x", Secret: pulse.NewWebhookSecret(), Payload: []byte(`{"b":2}`),
		Status: pulse.NotificationPending, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateNotifications(ctx, []*pulse.Notification{n}); err != nil {
		t.Fatalf("CreateNotifications: %v", err)
	}
	if c, err := s.CountPendingNotifications(ctx); err != nil || c != 1 {
		t.Fatalf("CountPendingNotifications = %d, %v", c, err)
	}
	un, err := s.ListUnqueuedNotifications(ctx, 10)
	if err != nil || len(un) != 1 || string(un[0].Payload) != `{"b":2}` || un[0].Secret != n.Secret {
		t.Fatalf("ListUnqueuedNotifications = %v, %v", un, err)
	}
	if err := s.MarkNotificationsQueued(ctx, []string{n.ID}); err != nil {
		t.Fatalf("MarkNotificationsQueued: %v", err)
	}
	if un, _ := s.ListUnqueuedNotifications(ctx, 10); len(un) != 0 {
		t.Fatal("a queued notification is listed as unqueued")
	}
	_, err = s.RetryNotification(ctx, tn.ID, n.ID, at)
	wantCode(t, err, pulse.ECONFLICT) // not failed
	wantCode(t, s.RecordAttempt(ctx, other.ID, n.ID, pulse.NotificationAttempt{At: at, Outcome: "retry"}, pulse.NotificationPending), pulse.ENOTFOUND)
	if err := s.RecordAttempt(ctx, tn.ID, n.ID, pulse.NotificationAttempt{At: at, Outcome: "retry", StatusCode: 500, Error: "500"}, pulse.NotificationPending); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	if err := s.RecordAttempt(ctx, tn.ID, n.ID, pulse.NotificationAttempt{At: at, Outcome: "failed", StatusCode: 400, Error: "400"}, pulse.NotificationFailed); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	got, err := s.RetryNotification(ctx, tn.ID, n.ID, at)
	if err != nil || got.Status != pulse.NotificationPending || got.Round != 1 || got.Queued {
		t.Fatalf("RetryNotification = %+v, %v", got, err)
	}
	if err := s.RecordAttempt(ctx, tn.ID, n.ID, pulse.NotificationAttempt{At: at, Outcome: "delivered", StatusCode: 200}, pulse.NotificationDelivered); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	list, err := s.ListNotifications(ctx, tn.ID, n.AlertID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListNotifications = %v, %v", list, err)
	}
	g := list[0]
	if g.Status != pulse.NotificationDelivered || g.DeliveredAt == nil || len(g.Attempts) != 3 || g.Attempts[2].Attempt != 3 || g.Attempts[0].StatusCode != 500 {
		t.Fatalf("notification = %+v", g)
	}
	if l, _ := s.ListNotifications(ctx, other.ID, n.AlertID); len(l) != 0 {
		t.Fatal("another tenant lists the notifications")
	}
	_, err = s.GetNotification(ctx, other.ID, n.ID)
	wantCode(t, err, pulse.ENOTFOUND)
}

func testAlertSilences(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn, other := createTenant(t, s, 0), createTenant(t, s, 0)
	at := now()
	sil := &pulse.Silence{ID: newID(), TenantID: tn.ID, Matchers: map[string]string{"service": "api"},
		StartsAt: at, EndsAt: at.Add(time.Hour), Comment: "deploy", CreatedAt: at}
	if err := s.CreateSilence(ctx, sil); err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}
	active, err := s.ListActiveSilences(ctx, at)
	if err != nil || len(active) != 1 || active[0].Matchers["service"] != "api" {
		t.Fatalf("ListActiveSilences = %v, %v", active, err)
	}
	if a, _ := s.ListActiveSilences(ctx, at.Add(2*time.Hour)); len(a) != 0 {
		t.Fatal("an ended silence is active")
	}
	if l, _ := s.ListSilences(ctx, other.ID); len(l) != 0 {
		t.Fatal("another tenant lists the silence")
	}
	wantCode(t, s.DeleteSilence(ctx, other.ID, sil.ID), pulse.ENOTFOUND)
	if err := s.DeleteSilence(ctx, tn.ID, sil.ID); err != nil {
		t.Fatalf("DeleteSilence: %v", err)
	}
	if l, _ := s.ListSilences(ctx, tn.ID); len(l) != 0 {
		t.Fatal("a deleted silence is listed")
	}
}

func testAlertLease(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	at := now()
	name := "lease-" + newID()
	for _, step := range []struct {
		holder string
		at     time.Time
		want   bool
	}{
		{"a", at, true},
		{"b", at.Add(time.Second), false},
		{"a", at.Add(5 * time.Second), true},  // renewal
		{"b", at.Add(16 * time.Second), true}, // a's lease expired
		{"a", at.Add(17 * time.Second), false},
	} {
		got, err := s.AcquireLease(ctx, name, step.holder, step.at, 10*time.Second)
		if err != nil || got != step.want {
			t.Fatalf("AcquireLease(%s, +%s) = %v, %v; want %v", step.holder, step.at.Sub(at), got, err, step.want)
		}
	}
	if err := s.ReleaseLease(ctx, name, "b"); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	if got, _ := s.AcquireLease(ctx, name, "a", at.Add(18*time.Second), 10*time.Second); !got {
		t.Fatal("a released lease cannot be taken")
	}
}

func testAlertScanEvents(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	base := now()
	var all []*pulse.Event
	for i := range 6 {
		tn := a
		if i%2 == 1 {
			tn = b
		}
		e := newEvent(tn.ID, base.Add(time.Duration(i-6)*time.Minute))
		e.Tags = map[string]string{"k": "v"}
		e.StatusCode = 500
		insert(t, s, tn.ID, rehash(e))
		all = append(all, e)
	}
	maxID, err := s.MaxEventID(ctx)
	if err != nil || maxID < all[5].ID {
		t.Fatalf("MaxEventID = %q, %v; want at least %s", maxID, err, all[5].ID)
	}
	got, err := s.ScanEvents(ctx, pulse.EventScan{AfterID: all[0].ID, UpToID: all[4].ID, Limit: 100})
	if err != nil {
		t.Fatalf("ScanEvents: %v", err)
	}
	if len(got) != 4 || got[0].ID != all[1].ID || got[3].ID != all[4].ID {
		t.Fatalf("ScanEvents(after, up to) = %v", ids(got))
	}
	if got[0].Tags["k"] != "v" || got[0].StatusCode != 500 || got[0].TenantID != b.ID {
		t.Fatalf("scanned event = %+v", got[0])
	}
	checkTime(t, "timestamp", got[0].Timestamp, all[1].Timestamp)
	got, err = s.ScanEvents(ctx, pulse.EventScan{TenantID: a.ID, Since: base.Add(-4 * time.Minute), Limit: 100})
	if err != nil || len(got) != 2 || got[0].ID != all[2].ID || got[1].ID != all[4].ID {
		t.Fatalf("ScanEvents(tenant, since) = %v, %v", got, err)
	}
	got, err = s.ScanEvents(ctx, pulse.EventScan{TenantID: a.ID, Limit: 2})
	if err != nil || len(got) != 2 || got[0].ID != all[0].ID {
		t.Fatalf("ScanEvents(limit) = %v, %v", got, err)
	}
}
