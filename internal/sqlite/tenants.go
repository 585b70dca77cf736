package sqlite

import (
	"context"
	"database/sql"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const tenantColumns = `id, name, rate_limit_per_minute, retention_days, disabled, created_at, require_signed_requests, alert_max_rules, alert_max_groups_per_rule, alert_max_distinct_per_group, alert_max_window_seconds, alert_webhook_concurrency, tail_max_streams, tail_events_per_second`

func scanTenant(row scanner) (*pulse.Tenant, error) {
	var t pulse.Tenant
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &t.RateLimitPerMinute, &t.RetentionDays, &t.Disabled, &created, &t.RequireSignedRequests, &t.AlertLimits.MaxRules, &t.AlertLimits.MaxGroupsPerRule, &t.AlertLimits.MaxDistinctPerGroup, &t.AlertLimits.MaxWindowSeconds, &t.AlertLimits.WebhookConcurrency, &t.TailLimits.MaxStreams, &t.TailLimits.EventsPerSecond); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// CreateTenant stores t; ECONFLICT when its id exists.
func (db *DB) CreateTenant(ctx context.Context, t *pulse.Tenant) error {
	// num, the tenant's number in events and tag rows, is assigned here
	// (one writer connection: no two inserts race for the same number).
	_, err := db.write.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, num)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(num), 0) + 1 FROM tenants))`,
		t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, micros(t.CreatedAt), t.RequireSignedRequests, t.AlertLimits.MaxRules, t.AlertLimits.MaxGroupsPerRule, t.AlertLimits.MaxDistinctPerGroup, t.AlertLimits.MaxWindowSeconds, t.AlertLimits.WebhookConcurrency, t.TailLimits.MaxStreams, t.TailLimits.EventsPerSecond)
	if isConstraint(err, sqlite3.ErrConstraintPrimaryKey) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a tenant with this id exists", ID: t.ID}
	} else if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return pulse.TenantNameTaken(t.Name)
	} else if err != nil {
		return storeErr("create tenant", err)
	}
	return nil
}

// GetTenant returns ErrNotFound for an unknown id.
func (db *DB) GetTenant(ctx context.Context, id string) (*pulse.Tenant, error) {
	t, err := scanTenant(db.read.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
	if err != nil {
		return nil, storeErr("get tenant", err)
	}
	return t, nil
}

// ListTenants returns all tenants, oldest first.
func (db *DB) ListTenants(ctx context.Context) ([]*pulse.Tenant, error) {
	return queryAll(ctx, db, "list tenants", scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
}

// UpdateTenant applies p in one transaction: ErrNotFound for an unknown id,
// EINVALID (and no change) when the result breaks a rule.
func (db *DB) UpdateTenant(ctx context.Context, id string, p pulse.TenantPatch) (*pulse.Tenant, error) {
	var t *pulse.Tenant
	err := db.inTx(ctx, "update tenant", func(tx *sql.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
		if err != nil {
			return storeErr("update tenant", err)
		}
		if err := p.Apply(t); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tenants SET name = ?, rate_limit_per_minute = ?, retention_days = ?, disabled = ?, require_signed_requests = ?,
			alert_max_rules = ?, alert_max_groups_per_rule = ?, alert_max_distinct_per_group = ?, alert_max_window_seconds = ?, alert_webhook_concurrency = ?, tail_max_streams = ?, tail_events_per_second = ? WHERE id = ?`,
			t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, t.RequireSignedRequests, t.AlertLimits.MaxRules, t.AlertLimits.MaxGroupsPerRule, t.AlertLimits.MaxDistinctPerGroup, t.AlertLimits.MaxWindowSeconds, t.AlertLimits.WebhookConcurrency, t.TailLimits.MaxStreams, t.TailLimits.EventsPerSecond, id)
		if isConstraint(err, sqlite3.ErrConstraintUnique) {
			return pulse.TenantNameTaken(t.Name)
		} else if err != nil {
			return storeErr("update tenant", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}
