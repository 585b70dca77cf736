package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const keyColumns = "id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at"

// CreateAPIKey stores k; ENOTFOUND when its tenant does not exist,
// ECONFLICT when its id or hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k *pulse.APIKey) error {
	scopes := make([]string, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = string(s)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.TenantID, k.Name, k.Prefix, k.Hash, scopes, k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt)
	switch {
	case isForeignKeyViolation(err):
		return &pulse.Error{Code: pulse.ENOTFOUND, Message: "tenant not found", Err: err}
	case isUniqueViolation(err):
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "the API key already exists", ID: k.ID}
	}
	return dbError("create api key", err)
}

// GetAPIKeyByHash returns ErrNotFound for an unknown hash, and revoked and
// expired keys too.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*pulse.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if err != nil {
		return nil, dbError("get api key", err)
	}
	return k, nil
}

// ListAPIKeys returns the tenant's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, tenantID string) ([]*pulse.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY seq`, tenantID)
	if err != nil {
		return nil, dbError("list api keys", err)
	}
	ks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pulse.APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, dbError("list api keys", err)
	}
	return ks, nil
}

// RevokeAPIKey sets revoked_at, keeping an earlier one; ErrNotFound when
// the key does not belong to the tenant.
func (db *DB) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = LEAST(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
		tenantID, keyID, at.UTC().Truncate(time.Microsecond))
	if err != nil {
		return dbError("revoke api key", err)
	}
	if tag.RowsAffected() == 0 {
		return pulse.ErrNotFound
	}
	return nil
}

func scanAPIKey(r pgx.Row) (*pulse.APIKey, error) {
	var k pulse.APIKey
	var scopes []string
	if err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Hash, &scopes, &k.CreatedAt,
		&k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt); err != nil {
		return nil, err
	}
	k.Scopes = make([]pulse.Scope, len(scopes))
	for i, s := range scopes {
		k.Scopes[i] = pulse.Scope(s)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	for _, t := range []**time.Time{&k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return &k, nil
}
