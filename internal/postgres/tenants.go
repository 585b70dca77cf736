package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const tenantColumns = "id, name, rate_limit_per_minute, retention_days, disabled, created_at, require_signed_requests, alert_max_rules, alert_max_groups_per_rule, alert_max_distinct_per_group, alert_max_window_seconds, alert_webhook_concurrency, tail_max_streams, tail_events_per_second"

// CreateTenant stores t; ECONFLICT when the id is taken.
func (db *DB) CreateTenant(ctx context.Context, t *pulse.Tenant) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, t.CreatedAt, t.RequireSignedRequests, t.AlertLimits.MaxRules, t.AlertLimits.MaxGroupsPerRule, t.AlertLimits.MaxDistinctPerGroup, t.AlertLimits.MaxWindowSeconds, t.AlertLimits.WebhookConcurrency, t.TailLimits.MaxStreams, t.TailLimits.EventsPerSecond)
	if isConstraintViolation(err, "tenants_name") {
		return pulse.TenantNameTaken(t.Name)
	} else if isUniqueViolation(err) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a tenant with this id already exists", ID: t.ID}
	}
	return dbError("create tenant", err)
}

// GetTenant returns ErrNotFound for an unknown id.
func (db *DB) GetTenant(ctx context.Context, id string) (*pulse.Tenant, error) {
	return getTenant(ctx, db.pool, id, "")
}

// ListTenants returns all tenants, oldest first.
func (db *DB) ListTenants(ctx context.Context) ([]*pulse.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, seq`)
	if err != nil {
		return nil, dbError("list tenants", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pulse.Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, dbError("list tenants", err)
	}
	return ts, nil
}

// UpdateTenant applies p under a row lock, so concurrent patches of
// different fields both take effect.
func (db *DB) UpdateTenant(ctx context.Context, id string, p pulse.TenantPatch) (*pulse.Tenant, error) {
	var out *pulse.Tenant
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		t, err := getTenant(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := p.Apply(t); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tenants SET name = $2, rate_limit_per_minute = $3, retention_days = $4, disabled = $5, require_signed_requests = $6,
			alert_max_rules = $7, alert_max_groups_per_rule = $8, alert_max_distinct_per_group = $9, alert_max_window_seconds = $10, alert_webhook_concurrency = $11, tail_max_streams = $12, tail_events_per_second = $13 WHERE id = $1`,
			t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, t.RequireSignedRequests, t.AlertLimits.MaxRules, t.AlertLimits.MaxGroupsPerRule, t.AlertLimits.MaxDistinctPerGroup, t.AlertLimits.MaxWindowSeconds, t.AlertLimits.WebhookConcurrency, t.TailLimits.MaxStreams, t.TailLimits.EventsPerSecond)
		if isConstraintViolation(err, "tenants_name") {
			return pulse.TenantNameTaken(t.Name)
		}
		out = t
		return err
	})
	if err != nil {
		return nil, dbError("update tenant", err)
	}
	return out, nil
}

func getTenant(ctx context.Context, q querier, id, suffix string) (*pulse.Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`+suffix, id))
	if err != nil {
		return nil, dbError("get tenant", err)
	}
	return t, nil
}

func scanTenant(r pgx.Row) (*pulse.Tenant, error) {
	var t pulse.Tenant
	if err := r.Scan(&t.ID, &t.Name, &t.RateLimitPerMinute, &t.RetentionDays, &t.Disabled, &t.CreatedAt, &t.RequireSignedRequests, &t.AlertLimits.MaxRules, &t.AlertLimits.MaxGroupsPerRule, &t.AlertLimits.MaxDistinctPerGroup, &t.AlertLimits.MaxWindowSeconds, &t.AlertLimits.WebhookConcurrency, &t.TailLimits.MaxStreams, &t.TailLimits.EventsPerSecond); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return &t, nil
}

// querier is what pool, conn and tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isConstraintViolation reports a unique violation of the named index.
func isConstraintViolation(err error, name string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == name
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
