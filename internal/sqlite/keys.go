package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const keyColumns = `id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at`

func scanKey(row scanner) (*pulse.APIKey, error) {
	var k pulse.APIKey
	var scopes string
	var created int64
	var expires, revoked, used nullTime
	if err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Hash, &scopes, &created, &expires, &revoked, &used); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("key %s: scopes: %w", k.ID, err)
	}
	k.CreatedAt = fromMicros(created)
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = expires.ptr(), revoked.ptr(), used.ptr()
	return &k, nil
}

// CreateAPIKey stores k: ECONFLICT when its id or hash exists, ENOTFOUND
// when its tenant does not.
func (db *DB) CreateAPIKey(ctx context.Context, k *pulse.APIKey) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, k.Name, k.Prefix, k.Hash, string(scopes), micros(k.CreatedAt),
		nullMicros(k.ExpiresAt), nullMicros(k.RevokedAt), nullMicros(k.LastUsedAt))
	switch {
	case isConstraint(err, sqlite3.ErrConstraintUnique), isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "the API key exists", ID: k.ID}
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	case err != nil:
		return storeErr("create api key", err)
	}
	return nil
}

// GetAPIKeyByHash returns the key, revoked and expired ones included;
// ErrNotFound for an unknown hash.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*pulse.APIKey, error) {
	k, err := scanKey(db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return nil, storeErr("get api key", err)
	}
	return k, nil
}

// ListAPIKeys returns the tenant's keys, oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, tenantID string) ([]*pulse.APIKey, error) {
	return queryAll(ctx, db, "list api keys", scanKey, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
}

// RevokeAPIKey sets revoked_at to at unless it is already earlier;
// ErrNotFound when the key is not the tenant's.
func (db *DB) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE api_keys SET revoked_at = min(coalesce(revoked_at, ?1), ?1)
		WHERE tenant_id = ?2 AND id = ?3`, micros(at), tenantID, keyID)
	if err != nil {
		return storeErr("revoke api key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr("revoke api key", err)
	} else if n == 0 {
		return pulse.ErrNotFound
	}
	return nil
}

// nullTime scans a nullable microsecond column.
type nullTime struct{ v *int64 }

func (n *nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.v = nil
	case int64:
		n.v = &v
	default:
		return fmt.Errorf("unexpected time column type %T", src)
	}
	return nil
}

func (n nullTime) ptr() *time.Time {
	if n.v == nil {
		return nil
	}
	t := fromMicros(*n.v)
	return &t
}
