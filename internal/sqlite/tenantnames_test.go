package sqlite

import (
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestMigrateDuplicateTenantNames: a database from before 00080 with one
// name used three times migrates; the oldest keeps the name, the others
// get their id's last 8 characters appended, and the name is unique after.
func TestMigrateDuplicateTenantNames(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, old := migratedTo(t, 50)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ids := []string{pulse.NewID(), pulse.NewID(), pulse.NewID(), pulse.NewID()}
	names := []string{"checkout-team", "checkout-team", "solo", "checkout-team"}
	for i, id := range ids {
		if _, err := old.ExecContext(ctx, `INSERT INTO tenants (id, name, rate_limit_per_minute, retention_days, created_at, num) VALUES (?, ?, 100, 30, ?, ?)`,
			id, names[i], micros(now.Add(time.Duration(i)*time.Second)), i+1); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatalf("Open migrates: %v", err)
	}
	defer db.Close()
	want := []string{"checkout-team", "checkout-team-" + ids[1][len(ids[1])-8:], "solo", "checkout-team-" + ids[3][len(ids[3])-8:]}
	for i, id := range ids {
		tn, err := db.GetTenant(ctx, id)
		if err != nil || tn.Name != want[i] {
			t.Errorf("tenant %d: %+v, %v; want name %q", i, tn, err, want[i])
		}
	}
	dup, _ := pulse.NewTenant(pulse.NewID(), "solo", 100, 30, now)
	if err := db.CreateTenant(ctx, dup); pulse.ErrorCode(err) != pulse.ECONFLICT {
		t.Errorf("a duplicate name after the migration: %v", err)
	}
}
