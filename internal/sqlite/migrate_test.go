package sqlite

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// migratedTo returns a new database file migrated up to version only, open.
func migratedTo(t *testing.T, version int64) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	prov, err := goose.NewProvider(goose.DialectSQLite3, old, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return path, old
}

// TestMigrateCompactEvents fills a database at the schema before 00040 (text
// tenant ids in every event and tag row) and opens it: every event, its tags,
// its idempotency key and the tag index must come through, and a new tenant
// must get a number after the existing ones.
func TestMigrateCompactEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, old := migratedTo(t, 20)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tenants := []string{pulse.NewID(), pulse.NewID()}
	for i, id := range tenants {
		if _, err := old.ExecContext(ctx, `INSERT INTO tenants (id, name, rate_limit_per_minute, retention_days, created_at) VALUES (?, ?, 100, 30, ?)`,
			id, "t", micros(now.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]string{} // event id → tenant id
	for i := range 6 {
		tenant := tenants[i%2]
		id := pulse.NewID()
		ids[id] = tenant
		ts := micros(now.Add(time.Duration(i) * time.Minute))
		if _, err := old.ExecContext(ctx, `INSERT INTO events (id, tenant_id, external_id, event_type, severity, service, tags, ts, received_at, content_hash)
			VALUES (?, ?, ?, 'deploy', 'info', 'api', '{"env":"prod"}', ?, ?, 'h')`, id, tenant, "ext-"+id, ts, ts); err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO event_tags (tenant_id, key, value, ts, event_id) VALUES (?, 'env', 'prod', ?, ?)`, tenant, ts, id); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatalf("Open migrates: %v", err)
	}
	defer db.Close()
	for _, tenant := range tenants {
		got, err := db.SearchEvents(ctx, tenant, pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("tenant %s: %d events by tag after the migration, want 3", tenant, len(got))
		}
		for i, e := range got {
			if ids[e.ID] != tenant || e.TenantID != tenant || e.Tags["env"] != "prod" {
				t.Errorf("migrated event %+v", e)
			}
			if i > 0 && !e.Timestamp.Before(got[i-1].Timestamp) {
				t.Errorf("not newest first: %v after %v", e.Timestamp, got[i-1].Timestamp)
			}
		}
		refs, err := db.LookupExternalIDs(ctx, tenant, []string{"ext-" + got[0].ID})
		if err != nil || refs["ext-"+got[0].ID].ID != got[0].ID {
			t.Errorf("external id after the migration: %v %v", refs, err)
		}
	}
	// A new tenant's number follows the migrated ones; its events are its own.
	nt, _ := pulse.NewTenant(pulse.NewID(), "new", 100, 30, now)
	if err := db.CreateTenant(ctx, nt); err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for _, id := range append(tenants, nt.ID) {
		n, ok, err := db.tenantNum(ctx, id)
		if err != nil || !ok {
			t.Fatalf("tenant number of %s: %v %v", id, ok, err)
		}
		nums = append(nums, n)
	}
	if nums[0] == nums[1] || nums[2] <= nums[0] || nums[2] <= nums[1] {
		t.Errorf("tenant numbers %v: not distinct or the new one is not after the old ones", nums)
	}
	got, err := db.SearchEvents(ctx, nt.ID, pulse.EventFilter{})
	if err != nil || len(got) != 0 {
		t.Errorf("the new tenant sees %d events (%v)", len(got), err)
	}
	// Deleting a migrated event (retention) takes its tag rows with it.
	if _, err := db.Maintain(ctx, now.Add(365*24*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	var tagRows int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM event_tags`).Scan(&tagRows); err != nil || tagRows != 0 {
		t.Errorf("tag rows after retention: %d (%v)", tagRows, err)
	}
}
