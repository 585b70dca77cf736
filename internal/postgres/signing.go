package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

const signingColumns = "id, tenant_id, name, prefix, sealed, created_at, revoked_at"

// CreateSigningSecret stores s: ENOTFOUND when its tenant does not exist,
// ECONFLICT when its id is taken.
func (db *DB) CreateSigningSecret(ctx context.Context, s *pulse.SigningSecret) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_secrets (`+signingColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.TenantID, s.Name, s.Prefix, s.Sealed, s.CreatedAt, s.RevokedAt)
	switch {
	case isForeignKeyViolation(err):
		return &pulse.Error{Code: pulse.ENOTFOUND, Message: "tenant not found", Err: err}
	case isUniqueViolation(err):
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "the signing secret already exists", ID: s.ID}
	}
	return dbError("create signing secret", err)
}

// ListSigningSecrets returns the tenant's secrets, oldest first.
func (db *DB) ListSigningSecrets(ctx context.Context, tenantID string) ([]*pulse.SigningSecret, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+signingColumns+` FROM signing_secrets WHERE tenant_id = $1 ORDER BY seq`, tenantID)
	if err != nil {
		return nil, dbError("list signing secrets", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pulse.SigningSecret, error) {
		var s pulse.SigningSecret
		if err := r.Scan(&s.ID, &s.TenantID, &s.Name, &s.Prefix, &s.Sealed, &s.CreatedAt, &s.RevokedAt); err != nil {
			return nil, err
		}
		s.CreatedAt = s.CreatedAt.UTC()
		if s.RevokedAt != nil {
			u := s.RevokedAt.UTC()
			s.RevokedAt = &u
		}
		return &s, nil
	})
	if err != nil {
		return nil, dbError("list signing secrets", err)
	}
	if out == nil {
		out = []*pulse.SigningSecret{}
	}
	return out, nil
}

// RevokeSigningSecret sets revoked_at, keeping an earlier one; ErrNotFound
// when the secret is not the tenant's.
func (db *DB) RevokeSigningSecret(ctx context.Context, tenantID, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE signing_secrets SET revoked_at = LEAST(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, at.UTC().Truncate(time.Microsecond))
	if err != nil {
		return dbError("revoke signing secret", err)
	}
	if tag.RowsAffected() == 0 {
		return pulse.ErrNotFound
	}
	return nil
}
