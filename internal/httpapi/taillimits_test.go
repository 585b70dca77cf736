package httpapi

import (
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A tenant's tail_limits replace the node's defaults field by field (0
// keeps the default); the per-node cap is never the tenant's.
func TestTailConfigForTenant(t *testing.T) {
	base := TailConfig{PerTenant: 5, PerNode: 500, EventsPerSecond: 100}.withDefaults()
	for _, tc := range []struct {
		l              pulse.TailLimits
		perTenant, eps int
	}{
		{pulse.TailLimits{}, 5, 100},
		{pulse.TailLimits{MaxStreams: 1}, 1, 100},
		{pulse.TailLimits{EventsPerSecond: 7}, 5, 7},
		{pulse.TailLimits{MaxStreams: 900, EventsPerSecond: 2000}, 900, 2000},
	} {
		got := base.forTenant(tc.l)
		if got.PerTenant != tc.perTenant || got.EventsPerSecond != tc.eps || got.PerNode != 500 {
			t.Errorf("forTenant(%+v) = per tenant %d, %d/s, per node %d; want %d, %d/s, 500", tc.l, got.PerTenant, got.EventsPerSecond, got.PerNode, tc.perTenant, tc.eps)
		}
	}
	// A tenant allowed more streams than the node holds is still refused
	// at the node's cap.
	tl := newTails()
	cfg := TailConfig{PerTenant: 1, PerNode: 2}.withDefaults().forTenant(pulse.TailLimits{MaxStreams: 10})
	if !tl.acquire("a", cfg) || !tl.acquire("a", cfg) || tl.acquire("a", cfg) {
		t.Fatal("want two tails, then the node's cap")
	}
}
