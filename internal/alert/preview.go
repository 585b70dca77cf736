package alert

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Bounds of one preview (POST /api/v1/alert-rules/preview), so that a
// person trying a rule out cannot make the server read a tenant's history.
const (
	// PreviewMaxWindow is the longest span a preview evaluates: a rule
	// with a longer window is evaluated over the last PreviewMaxWindow.
	PreviewMaxWindow = time.Hour
	// PreviewMaxEvents is how many stored events one preview reads at most;
	// beyond it the scan stops and the answer says it was cut.
	PreviewMaxEvents = 50000
	// PreviewMaxGroups is how many groups the answer lists (the highest
	// values first).
	PreviewMaxGroups = 100
	// previewPage is the page size of the event reads.
	previewPage = 5000
)

// EventScanner reads stored events in id order (pulse.AlertStore has it).
type EventScanner interface {
	ScanEvents(ctx context.Context, s pulse.EventScan) ([]*pulse.Event, error)
}

// Preview is what a rule's condition gives over the tenant's stored
// events of its window (at most PreviewMaxWindow) ending at now.
type Preview struct {
	WindowSeconds  int            `json:"window_seconds"`   // the span evaluated
	EventsScanned  int            `json:"events_scanned"`   // stored events read
	Truncated      bool           `json:"truncated"`        // the scan stopped at PreviewMaxEvents
	Groups         []PreviewGroup `json:"groups"`           // highest value first, at most PreviewMaxGroups
	GroupsTotal    int            `json:"groups_total"`     // groups with a matching event
	GroupsDropped  int64          `json:"groups_dropped"`   // events of groups beyond the tenant's max_groups_per_rule
	WouldFireCount int            `json:"would_fire_count"` // groups whose value crosses the threshold
}

// PreviewGroup is one group of a preview.
type PreviewGroup struct {
	Labels    map[string]string `json:"labels"`
	Value     float64           `json:"value"`
	Threshold float64           `json:"threshold"`
	Operator  string            `json:"operator"`
	WouldFire bool              `json:"would_fire"`
	// SampleEventIDs are the newest matching events read (at most
	// pulse.MaxAlertSamples), as an alert would carry them.
	SampleEventIDs []string `json:"sample_event_ids"`
}

// PreviewRule evaluates r (validated, r.TenantID set) over the stored events
// of its window at now with the evaluator's own counting (ruleState), and
// stores nothing. It reads at most maxEvents events (0: PreviewMaxEvents).
// would_fire is whether the condition holds at now; for_seconds and the
// cooldown are not simulated.
func PreviewRule(ctx context.Context, store EventScanner, r *pulse.Rule, limits pulse.AlertLimits, now time.Time, maxEvents int) (*Preview, error) {
	if maxEvents <= 0 {
		maxEvents = PreviewMaxEvents
	}
	c := *r
	c.Condition.WindowSeconds = min(c.Condition.WindowSeconds, int(PreviewMaxWindow/time.Second))
	c.Compile()
	rs := newRuleState(&c, limits, nil)
	out := &Preview{WindowSeconds: c.Condition.WindowSeconds}
	scan := pulse.EventScan{TenantID: r.TenantID, Since: now.Add(-c.Condition.Window())}
	for {
		scan.Limit = min(previewPage, maxEvents-out.EventsScanned)
		events, err := store.ScanEvents(ctx, scan)
		if err != nil {
			return nil, err
		}
		for _, ev := range events {
			rs.add(ev, now)
		}
		out.EventsScanned += len(events)
		if len(events) < scan.Limit {
			break
		}
		if out.EventsScanned >= maxEvents {
			// Cut only if there is more to read.
			more, err := store.ScanEvents(ctx, pulse.EventScan{TenantID: r.TenantID, Since: scan.Since, AfterID: events[len(events)-1].ID, Limit: 1, IDsOnly: true})
			if err != nil {
				return nil, err
			}
			out.Truncated = len(more) > 0
			break
		}
		scan.AfterID = events[len(events)-1].ID
	}
	for _, s := range rs.series {
		v := rs.value(s, now)
		if s.total == 0 {
			continue // only future-stamped events
		}
		g := PreviewGroup{Labels: s.labels, Value: v, Threshold: c.Condition.Threshold, Operator: c.Condition.Operator,
			WouldFire: c.Condition.Holds(v), SampleEventIDs: slices.Clone(s.samples)}
		if g.Labels == nil {
			g.Labels = map[string]string{}
		}
		if g.WouldFire {
			out.WouldFireCount++
		}
		out.Groups = append(out.Groups, g)
	}
	out.GroupsTotal, out.GroupsDropped = len(out.Groups), rs.dropped
	slices.SortFunc(out.Groups, func(a, b PreviewGroup) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return cmp.Compare(labelKey(a.Labels), labelKey(b.Labels))
	})
	if len(out.Groups) > PreviewMaxGroups {
		out.Groups = out.Groups[:PreviewMaxGroups]
	}
	if out.Groups == nil {
		out.Groups = []PreviewGroup{}
	}
	return out, nil
}

// labelKey orders groups of equal value the same way every time.
func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		s += k + "=" + m[k] + "\x00"
	}
	return s
}
