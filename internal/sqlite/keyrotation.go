package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// RotateAPIKey stores next and schedules the old key's revocation at
// revokeAt, in one transaction; see pulse.KeyLifecycleStore.
func (db *DB) RotateAPIKey(ctx context.Context, tenantID, oldID string, next *pulse.APIKey, revokeAt time.Time) (*pulse.APIKey, error) {
	scopes, err := json.Marshal(next.Scopes)
	if err != nil {
		return nil, fmt.Errorf("rotate api key: %w", err)
	}
	var old *pulse.APIKey
	err = db.inTx(ctx, "rotate api key", func(tx *sql.Tx) error {
		var err error
		old, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = ? AND id = ?`, tenantID, oldID))
		if err != nil {
			return storeErr("rotate api key", err)
		}
		if !old.Active(next.CreatedAt) {
			return pulse.Errorf(pulse.ECONFLICT, "the API key is revoked or expired")
		}
		if old.RevokedAt != nil { // a concurrent rotation won
			return pulse.Errorf(pulse.ECONFLICT, "the API key was already rotated")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			next.ID, next.TenantID, next.Name, next.Prefix, next.Hash, string(scopes), micros(next.CreatedAt),
			nullMicros(next.ExpiresAt), nullMicros(next.RevokedAt), nullMicros(next.LastUsedAt))
		switch {
		case isConstraint(err, sqlite3.ErrConstraintUnique), isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
			return &pulse.Error{Code: pulse.ECONFLICT, Message: "the API key exists", ID: next.ID}
		case err != nil:
			return storeErr("rotate api key", err)
		}
		at := revokeAt.UTC().Truncate(time.Microsecond)
		old.RevokedAt = &at
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, micros(*old.RevokedAt), oldID); err != nil {
			return storeErr("rotate api key", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

// TouchAPIKeys raises last_used_at of each key, never lowering it.
func (db *DB) TouchAPIKeys(ctx context.Context, uses []pulse.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	return db.inTx(ctx, "touch api keys", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE tenant_id = ?2 AND id = ?3`)
		if err != nil {
			return storeErr("touch api keys", err)
		}
		defer stmt.Close()
		for _, u := range uses {
			if _, err := stmt.ExecContext(ctx, micros(u.At), u.TenantID, u.KeyID); err != nil {
				return storeErr("touch api keys", err)
			}
		}
		return nil
	})
}
