package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// AddUsage adds the counts to the stored counters in one transaction.
func (db *DB) AddUsage(ctx context.Context, counts []pulse.UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	return db.inTx(ctx, "add usage", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage (tenant_id, hour, metric, count) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, hour, metric) DO UPDATE SET count = count + excluded.count`)
		if err != nil {
			return storeErr("add usage: prepare", err)
		}
		defer stmt.Close()
		for _, c := range counts {
			if _, err := stmt.ExecContext(ctx, c.TenantID, micros(c.Hour.Truncate(time.Hour)), c.Metric, c.Count); err != nil {
				return storeErr("add usage", err)
			}
		}
		return nil
	})
}

// ListUsage returns the tenant's counters with start <= hour < end, by hour
// then metric.
func (db *DB) ListUsage(ctx context.Context, tenantID string, start, end time.Time) ([]pulse.UsageCount, error) {
	scan := func(row scanner) (pulse.UsageCount, error) {
		c := pulse.UsageCount{TenantID: tenantID}
		var hour int64
		err := row.Scan(&hour, &c.Metric, &c.Count)
		c.Hour = fromMicros(hour)
		return c, err
	}
	return queryAll(ctx, db, "list usage", scan, `SELECT hour, metric, count FROM usage
		WHERE tenant_id = ? AND hour >= ? AND hour < ? ORDER BY hour, metric`, tenantID, micros(start), micros(end))
}
