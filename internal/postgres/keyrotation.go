package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// RotateAPIKey stores next and schedules the old key's revocation at
// revokeAt, in one transaction under a row lock on the old key; see
// pulse.KeyLifecycleStore.
func (db *DB) RotateAPIKey(ctx context.Context, tenantID, oldID string, next *pulse.APIKey, revokeAt time.Time) (*pulse.APIKey, error) {
	scopes := make([]string, len(next.Scopes))
	for i, s := range next.Scopes {
		scopes[i] = string(s)
	}
	var old *pulse.APIKey
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		old, err = scanAPIKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, oldID))
		if err != nil {
			return err
		}
		if !old.Active(next.CreatedAt) {
			return pulse.Errorf(pulse.ECONFLICT, "the API key is revoked or expired")
		}
		if old.RevokedAt != nil { // a concurrent rotation won
			return pulse.Errorf(pulse.ECONFLICT, "the API key was already rotated")
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			next.ID, next.TenantID, next.Name, next.Prefix, next.Hash, scopes, next.CreatedAt, next.ExpiresAt, next.RevokedAt, next.LastUsedAt)
		if isUniqueViolation(err) {
			return &pulse.Error{Code: pulse.ECONFLICT, Message: "the API key already exists", ID: next.ID}
		} else if err != nil {
			return err
		}
		at := revokeAt.UTC().Truncate(time.Microsecond)
		old.RevokedAt = &at
		_, err = tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, oldID, *old.RevokedAt)
		return err
	})
	if err != nil {
		return nil, dbError("rotate api key", err)
	}
	return old, nil
}

// TouchAPIKeys raises last_used_at of each key, never lowering it, in one
// statement.
func (db *DB) TouchAPIKeys(ctx context.Context, uses []pulse.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	tenants, keys, ats := make([]string, len(uses)), make([]string, len(uses)), make([]time.Time, len(uses))
	for i, u := range uses {
		tenants[i], keys[i], ats[i] = u.TenantID, u.KeyID, u.At.UTC().Truncate(time.Microsecond)
	}
	_, err := db.pool.Exec(ctx, `UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, u.at)
		FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(tenant_id, id, at)
		WHERE k.tenant_id = u.tenant_id AND k.id = u.id`, tenants, keys, ats)
	return dbError("touch api keys", err)
}
