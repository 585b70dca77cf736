package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("UsageAddList", testUsageAddList)
	register("UsageRangeAndTenant", testUsageRange)
}

func sortUsage(u []pulse.UsageCount) {
	slices.SortFunc(u, func(a, b pulse.UsageCount) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return strings.Compare(a.Metric, b.Metric)
	})
}

func checkUsage(t *testing.T, got, want []pulse.UsageCount) {
	t.Helper()
	sortUsage(got) // the order is not part of the contract
	sortUsage(want)
	if len(got) != len(want) {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].TenantID != want[i].TenantID || got[i].Metric != want[i].Metric || got[i].Count != want[i].Count {
			t.Errorf("usage[%d] = %+v, want %+v", i, got[i], want[i])
		}
		checkTime(t, "Hour", got[i].Hour, want[i].Hour)
	}
}

func testUsageAddList(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	hour := now().Truncate(time.Hour)
	add := func(counts ...pulse.UsageCount) {
		t.Helper()
		if err := s.AddUsage(t.Context(), counts); err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
	}
	add(pulse.UsageCount{TenantID: tn.ID, Hour: hour, Metric: "created", Count: 3},
		pulse.UsageCount{TenantID: tn.ID, Hour: hour, Metric: "rejected:severity.invalid", Count: 1})
	add(pulse.UsageCount{TenantID: tn.ID, Hour: hour, Metric: "created", Count: 4})
	// The same key twice in one call sums too.
	add(pulse.UsageCount{TenantID: tn.ID, Hour: hour, Metric: "duplicate", Count: 1},
		pulse.UsageCount{TenantID: tn.ID, Hour: hour, Metric: "duplicate", Count: 2})
	add()

	got, err := s.ListUsage(t.Context(), tn.ID, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	checkUsage(t, got, []pulse.UsageCount{
		{TenantID: tn.ID, Hour: hour, Metric: "created", Count: 7},
		{TenantID: tn.ID, Hour: hour, Metric: "duplicate", Count: 3},
		{TenantID: tn.ID, Hour: hour, Metric: "rejected:severity.invalid", Count: 1},
	})
}

func testUsageRange(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	h := now().Truncate(time.Hour)
	var counts []pulse.UsageCount
	for i := range 5 {
		hour := h.Add(-time.Duration(i) * time.Hour)
		counts = append(counts,
			pulse.UsageCount{TenantID: a.ID, Hour: hour, Metric: "created", Count: int64(10 + i)},
			pulse.UsageCount{TenantID: b.ID, Hour: hour, Metric: "created", Count: int64(100 + i)})
	}
	if err := s.AddUsage(t.Context(), counts); err != nil {
		t.Fatalf("AddUsage: %v", err)
	}
	// start <= hour < end: hours h-3, h-2, h-1.
	got, err := s.ListUsage(t.Context(), a.ID, h.Add(-3*time.Hour), h)
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	checkUsage(t, got, []pulse.UsageCount{
		{TenantID: a.ID, Hour: h.Add(-3 * time.Hour), Metric: "created", Count: 13},
		{TenantID: a.ID, Hour: h.Add(-2 * time.Hour), Metric: "created", Count: 12},
		{TenantID: a.ID, Hour: h.Add(-1 * time.Hour), Metric: "created", Count: 11},
	})
	got, err = s.ListUsage(t.Context(), b.ID, h, h.Add(time.Hour))
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	checkUsage(t, got, []pulse.UsageCount{{TenantID: b.ID, Hour: h, Metric: "created", Count: 100}})
	got, err = s.ListUsage(t.Context(), newID(), h.Add(-24*time.Hour), h.Add(time.Hour))
	if err != nil {
		t.Fatalf("ListUsage of an unknown tenant: %v", err)
	}
	checkUsage(t, got, nil)
}
