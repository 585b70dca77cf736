package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("TenantCreateGet", testTenantCreateGet)
	register("TenantCreateDuplicate", testTenantCreateDuplicate)
	register("TenantNameUnique", testTenantNameUnique)
	register("TenantGetNotFound", testTenantGetNotFound)
	register("TenantList", testTenantList)
	register("TenantUpdate", testTenantUpdate)
	register("TenantUpdateInvalid", testTenantUpdateInvalid)
	register("TenantUpdateNotFound", testTenantUpdateNotFound)
	register("Ping", testPing)
}

func checkTenant(t *testing.T, got, want *pulse.Tenant) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.RateLimitPerMinute != want.RateLimitPerMinute ||
		got.RetentionDays != want.RetentionDays || got.Disabled != want.Disabled {
		t.Errorf("tenant = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
}

func testTenantCreateGet(t *testing.T, s pulse.Store) {
	id := newID()
	want := &pulse.Tenant{ID: id, Name: "Acme Ünïcode ✓", RateLimitPerMinute: 1234, RetentionDays: 7,
		Disabled: true, CreatedAt: now().Add(-time.Hour)}
	if err := s.CreateTenant(t.Context(), want); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	got, err := s.GetTenant(t.Context(), id)
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	checkTenant(t, got, want)
}

func testTenantCreateDuplicate(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	dup := *tn
	dup.Name = "other"
	wantCode(t, s.CreateTenant(t.Context(), &dup), pulse.ECONFLICT)
	got, err := s.GetTenant(t.Context(), tn.ID)
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	checkTenant(t, got, tn)
}

// Tenant names are unique per server (issue 17): a second tenant, or a
// rename, with a name in use is ECONFLICT naming it and changes nothing.
func testTenantNameUnique(t *testing.T, s pulse.Store) {
	a := createTenant(t, s, 0)
	b := createTenant(t, s, 0)
	dup, err := pulse.NewTenant(newID(), a.Name, 100, 7, now())
	if err != nil {
		t.Fatal(err)
	}
	err = s.CreateTenant(t.Context(), dup)
	wantCode(t, err, pulse.ECONFLICT)
	if !strings.Contains(err.Error(), a.Name) {
		t.Errorf("the conflict does not name the tenant name: %v", err)
	}
	if _, err := s.GetTenant(t.Context(), dup.ID); !pulse.IsNotFound(err) {
		t.Errorf("the refused tenant was stored: %v", err)
	}
	_, err = s.UpdateTenant(t.Context(), b.ID, pulse.TenantPatch{Name: &a.Name})
	wantCode(t, err, pulse.ECONFLICT)
	got, err := s.GetTenant(t.Context(), b.ID)
	if err != nil || got.Name != b.Name {
		t.Errorf("after a refused rename: %+v, %v", got, err)
	}
	// Names differing in case are different names; renaming to itself is fine.
	upper := strings.ToUpper(a.Name)
	if _, err := s.UpdateTenant(t.Context(), b.ID, pulse.TenantPatch{Name: &upper}); err != nil {
		t.Errorf("rename to %q: %v", upper, err)
	}
	if _, err := s.UpdateTenant(t.Context(), a.ID, pulse.TenantPatch{Name: &a.Name}); err != nil {
		t.Errorf("rename to its own name: %v", err)
	}
}

func testTenantGetNotFound(t *testing.T, s pulse.Store) {
	_, err := s.GetTenant(t.Context(), newID())
	wantCode(t, err, pulse.ENOTFOUND)
}

func testTenantList(t *testing.T, s pulse.Store) {
	base := now().Add(-time.Hour)
	var want []*pulse.Tenant
	// Created out of order: the list is ordered by CreatedAt, oldest first.
	for _, off := range []int{3, 1, 4, 0, 2} {
		id := newID()
		tn, err := pulse.NewTenant(id, "list "+id, 10+off, 1+off, base.Add(time.Duration(off)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTenant(t.Context(), tn); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		want = append(want, tn)
	}
	slices.SortFunc(want, func(a, b *pulse.Tenant) int { return a.CreatedAt.Compare(b.CreatedAt) })

	list, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	// Keep only this test's tenants, in the order the store returned them.
	var got []*pulse.Tenant
	for _, tn := range list {
		if slices.ContainsFunc(want, func(w *pulse.Tenant) bool { return w.ID == tn.ID }) {
			got = append(got, tn)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("ListTenants returned %d of our %d tenants", len(got), len(want))
	}
	for i := range want {
		checkTenant(t, got[i], want[i])
	}
}

func testTenantUpdate(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	name, rate, days, off := "  renamed  ", 77, 9, true
	got, err := s.UpdateTenant(t.Context(), tn.ID, pulse.TenantPatch{Name: &name, RateLimitPerMinute: &rate, RetentionDays: &days, Disabled: &off})
	if err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	want := *tn
	want.Name, want.RateLimitPerMinute, want.RetentionDays, want.Disabled = "renamed", rate, days, off
	checkTenant(t, got, &want)
	stored, err := s.GetTenant(t.Context(), tn.ID)
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	checkTenant(t, stored, &want)

	// A partial patch changes only what it names.
	on := false
	got, err = s.UpdateTenant(t.Context(), tn.ID, pulse.TenantPatch{Disabled: &on})
	if err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	want.Disabled = false
	checkTenant(t, got, &want)
}

func testTenantUpdateInvalid(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	name, days := "fine", 0
	_, err := s.UpdateTenant(t.Context(), tn.ID, pulse.TenantPatch{Name: &name, RetentionDays: &days})
	wantCode(t, err, pulse.EINVALID)
	got, err := s.GetTenant(t.Context(), tn.ID)
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	checkTenant(t, got, tn) // nothing of the patch was applied
}

func testTenantUpdateNotFound(t *testing.T, s pulse.Store) {
	name := "x"
	_, err := s.UpdateTenant(t.Context(), newID(), pulse.TenantPatch{Name: &name})
	wantCode(t, err, pulse.ENOTFOUND)
}

func testPing(t *testing.T, s pulse.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
