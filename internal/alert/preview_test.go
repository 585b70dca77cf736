package alert

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// TestPreviewRuleBound: the preview reads at most its bound of events and
// says it was cut only when more events were left to read; a window
// longer than PreviewMaxWindow is evaluated over PreviewMaxWindow.
func TestPreviewRuleBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "preview.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	now := clock.Now()
	tn, err := pulse.NewTenant(pulse.NewID(), "preview", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var evs []*pulse.Event
	for i := range 14 {
		ts := now.Add(-time.Duration(i) * time.Minute)
		if i >= 12 {
			ts = now.Add(-PreviewMaxWindow - time.Duration(i)*time.Minute) // outside the previewed span
		}
		e := &pulse.Event{ID: pulse.NewID(), TenantID: tn.ID, EventType: "http.request", Severity: pulse.SeverityError, Timestamp: ts}
		e.ReceivedAt, e.ContentHash = now, e.ID
		evs = append(evs, e)
	}
	if _, err := db.InsertEvents(ctx, tn.ID, evs); err != nil {
		t.Fatal(err)
	}
	rule, err := pulse.NewRule(pulse.NewID(), tn.ID, pulse.RuleSpec{Name: "errors",
		Condition: pulse.Condition{Aggregate: pulse.AggregateCount, Operator: pulse.OperatorGTE, Threshold: 12, WindowSeconds: 86400}}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max, scanned int
		value        float64
		truncated    bool
	}{{5, 5, 5, true}, {12, 12, 12, false}, {100, 12, 12, false}} {
		p, err := PreviewRule(ctx, db, rule, pulse.DefaultAlertLimits(), now, tc.max)
		if err != nil {
			t.Fatal(err)
		}
		if p.WindowSeconds != int(PreviewMaxWindow/time.Second) || p.EventsScanned != tc.scanned || p.Truncated != tc.truncated ||
			len(p.Groups) != 1 || p.Groups[0].Value != tc.value || p.Groups[0].WouldFire != (tc.value >= 12) ||
			len(p.Groups[0].SampleEventIDs) != min(tc.scanned, pulse.MaxAlertSamples) {
			t.Errorf("bound %d: %+v (groups %+v), want %d scanned, value %v, truncated %v", tc.max, p, p.Groups, tc.scanned, tc.value, tc.truncated)
		}
	}
}
