package postgres

import (
	"io/fs"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestMigrateDuplicateTenantNames: a schema from before 00080 with one
// name used three times migrates; the oldest keeps the name, the others
// get their id's last 8 characters appended, and the name is unique after.
func TestMigrateDuplicateTenantNames(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newTestSchema(t)
	cc, err := pgx.ParseConfig(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	cc.RuntimeParams["search_path"] = schema
	old := stdlib.OpenDB(*cc)
	defer old.Close()
	sub, _ := fs.Sub(migrationFiles, "migrations")
	prov, err := goose.NewProvider(goose.DialectPostgres, old, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.UpTo(ctx, 50); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ids := []string{pulse.NewID(), pulse.NewID(), pulse.NewID(), pulse.NewID()}
	names := []string{"checkout-team", "checkout-team", "solo", "checkout-team"}
	for i, id := range ids {
		if _, err := old.ExecContext(ctx, `INSERT INTO tenants (id, name, rate_limit_per_minute, retention_days, created_at) VALUES ($1, $2, 100, 30, $3)`,
			id, names[i], now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	db := openSchemaDB(t, schema)
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
