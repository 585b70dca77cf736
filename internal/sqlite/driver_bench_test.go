package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" (cgo)
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers "sqlite" (pure Go)

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// BenchmarkDriverInsert100 compares the two SQLite drivers on the store's
// real schema and insert statement: one transaction of 100 events (64-row
// multi-row INSERT + 36-row INSERT, ON CONFLICT DO NOTHING RETURNING id),
// WAL, synchronous=NORMAL, 64 MiB cache. This is the measurement behind the
// choice of mattn/go-sqlite3 (see BENCHMARKS.md). The third case adds the
// three event_tags rows per event that InsertEvents also writes.
func BenchmarkDriverInsert100(b *testing.B) {
	for _, drv := range []struct {
		name, driver string
		tags         bool
	}{{"mattn-cgo", "sqlite3", false}, {"modernc-purego", "sqlite", false}, {"mattn-cgo+tag-rows", "sqlite3", true}} {
		b.Run(drv.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := sql.Open(drv.driver, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, p := range []string{"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-65536", "PRAGMA foreign_keys=ON"} {
				if _, err := db.ExecContext(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			sub, _ := fs.Sub(migrations, "migrations")
			prov, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := prov.Up(ctx); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			tn, _ := pulse.NewTenant(pulse.NewID(), "bench", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, now)
			if _, err := db.ExecContext(ctx, `INSERT INTO tenants (id, name, rate_limit_per_minute, retention_days, disabled, created_at, num) VALUES (?, ?, ?, ?, 0, ?, 1)`,
				tn.ID, tn.Name, tn.RateLimitPerMinute, tn.RetentionDays, micros(now)); err != nil {
				b.Skipf("tenants schema differs: %v", err)
			}
			stmts := map[int]*sql.Stmt{} // the statements a 100-row group uses
			for _, size := range pieces(100, insertChunk) {
				stmt, err := db.PrepareContext(ctx, insertSQL(size))
				if err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
				stmts[size] = stmt
			}
			n := 0
			b.ResetTimer()
			for b.Loop() {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				var tagArgs []any
				for _, size := range pieces(100, insertChunk) {
					args := make([]any, 0, size*eventColumnCount)
					for range size {
						e := benchRow(tn.ID, n, now)
						n++
						row, _ := eventRow(e, 1)
						args = append(args, row...)
						for k, v := range e.Tags {
							tagArgs = append(tagArgs, 1, k, v, micros(e.Timestamp), n)
						}
					}
					rows, err := tx.StmtContext(ctx, stmts[size]).QueryContext(ctx, args...)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					rows.Close()
				}
				if drv.tags {
					q := "INSERT INTO event_tags (tenant, key, value, ts, seq) VALUES " + placeholders(len(tagArgs)/5, 5)
					if _, err := tx.ExecContext(ctx, q, tagArgs...); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func benchRow(tenantID string, n int, now time.Time) *pulse.Event {
	return &pulse.Event{
		ID: pulse.NewID(), TenantID: tenantID, ExternalID: "bench-" + time.Duration(n).String(),
		EventType: "http.request", Severity: pulse.SeverityError, Service: "checkout", Endpoint: "/api/pay",
		StatusCode: 502, UserID: "user-42", Message: "request handled lorem ipsum dolor sit amet",
		Tags:      map[string]string{"region": "eu-1", "version": "v1.3", "host": "host-7"},
		Timestamp: now.Add(time.Duration(n) * time.Microsecond).UTC().Truncate(time.Microsecond), ReceivedAt: now.UTC().Truncate(time.Microsecond),
		Payload: []byte(`{"trace_id":"00000000deadbeef","duration_ms":183}`), ContentHash: "h",
	}
}
