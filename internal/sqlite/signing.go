package sqlite

import (
	"context"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const signingColumns = `id, tenant_id, name, prefix, sealed, created_at, revoked_at`

func scanSigningSecret(row scanner) (*pulse.SigningSecret, error) {
	var s pulse.SigningSecret
	var created int64
	var revoked nullTime
	if err := row.Scan(&s.ID, &s.TenantID, &s.Name, &s.Prefix, &s.Sealed, &created, &revoked); err != nil {
		return nil, err
	}
	s.CreatedAt, s.RevokedAt = fromMicros(created), revoked.ptr()
	return &s, nil
}

// CreateSigningSecret stores s: ECONFLICT when its id exists, ENOTFOUND
// when its tenant does not.
func (db *DB) CreateSigningSecret(ctx context.Context, s *pulse.SigningSecret) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO signing_secrets (`+signingColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.TenantID, s.Name, s.Prefix, s.Sealed, micros(s.CreatedAt), nullMicros(s.RevokedAt))
	switch {
	case isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "the signing secret exists", ID: s.ID}
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	case err != nil:
		return storeErr("create signing secret", err)
	}
	return nil
}

// ListSigningSecrets returns the tenant's secrets, oldest first.
func (db *DB) ListSigningSecrets(ctx context.Context, tenantID string) ([]*pulse.SigningSecret, error) {
	return queryAll(ctx, db, "list signing secrets", scanSigningSecret,
		`SELECT `+signingColumns+` FROM signing_secrets WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
}

// RevokeSigningSecret sets revoked_at unless it is already earlier;
// ErrNotFound when the secret is not the tenant's.
func (db *DB) RevokeSigningSecret(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE signing_secrets SET revoked_at = min(coalesce(revoked_at, ?1), ?1)
		WHERE tenant_id = ?2 AND id = ?3`, micros(at), tenantID, id)
	if err != nil {
		return storeErr("revoke signing secret", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr("revoke signing secret", err)
	} else if n == 0 {
		return pulse.ErrNotFound
	}
	return nil
}
