package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// AddUsage adds the counts in one statement (hence one transaction).
// Repeated keys are summed first and rows are upserted in key order, so
// concurrent calls cannot deadlock.
func (db *DB) AddUsage(ctx context.Context, counts []pulse.UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	tenants := make([]string, len(counts))
	hours := make([]time.Time, len(counts))
	metrics := make([]string, len(counts))
	ns := make([]int64, len(counts))
	for i, c := range counts {
		tenants[i], hours[i], metrics[i], ns[i] = c.TenantID, c.Hour.UTC().Truncate(time.Hour), c.Metric, c.Count
	}
	_, err := db.pool.Exec(ctx, `
		INSERT INTO usage_counts (tenant_id, hour, metric, count)
		SELECT t, h, m, sum(n) FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[]) AS u(t, h, m, n)
		GROUP BY t, h, m ORDER BY t, h, m
		ON CONFLICT (tenant_id, hour, metric) DO UPDATE SET count = usage_counts.count + excluded.count`,
		tenants, hours, metrics, ns)
	return dbError("add usage", err)
}

// ListUsage returns the tenant's counters with start <= hour < end, by
// hour then metric.
func (db *DB) ListUsage(ctx context.Context, tenantID string, start, end time.Time) ([]pulse.UsageCount, error) {
	rows, err := db.pool.Query(ctx, `SELECT tenant_id, hour, metric, count FROM usage_counts
		WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour, metric`, tenantID, start, end)
	if err != nil {
		return nil, dbError("list usage", err)
	}
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pulse.UsageCount, error) {
		var u pulse.UsageCount
		err := r.Scan(&u.TenantID, &u.Hour, &u.Metric, &u.Count)
		u.Hour = u.Hour.UTC()
		return u, err
	})
	if err != nil {
		return nil, dbError("list usage", err)
	}
	return us, nil
}
