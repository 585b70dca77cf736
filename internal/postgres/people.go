package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// People: users, memberships, sessions and invitations (pulse.PeopleStore).

const userColumns = `id, email, name, password_hash, operator, disabled, totp_secret, created_at, updated_at`

func scanUser(row pgx.Row) (*pulse.User, error) {
	var u pulse.User
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Operator, &u.Disabled, &u.TOTPSecret, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// CreateUser stores u: ECONFLICT when its id or (case-insensitively) its
// email exists.
func (db *DB) CreateUser(ctx context.Context, u *pulse.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.Operator, u.Disabled, u.TOTPSecret, u.CreatedAt, u.UpdatedAt, strings.ToLower(u.Email))
	if isUniqueViolation(err) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a user with this email exists"}
	}
	return dbError("create user", err)
}

// GetUser returns ErrNotFound for an unknown id.
func (db *DB) GetUser(ctx context.Context, id string) (*pulse.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, dbError("get user", err)
	}
	return u, nil
}

// GetUserByEmail finds the user whatever the email's case; ErrNotFound
// when there is none.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (*pulse.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, strings.ToLower(email)))
	if err != nil {
		return nil, dbError("get user by email", err)
	}
	return u, nil
}

// ListUsers returns every user, oldest first.
func (db *DB) ListUsers(ctx context.Context) ([]*pulse.User, error) {
	return collect(ctx, db.pool, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY created_at, seq`)
}

// UpdateUser stores u's mutable fields: ErrNotFound for an unknown id,
// ECONFLICT when the new email belongs to another user.
func (db *DB) UpdateUser(ctx context.Context, u *pulse.User) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET email = $2, email_key = $3, name = $4, password_hash = $5, operator = $6, disabled = $7, totp_secret = $8, updated_at = $9
		WHERE id = $1`, u.ID, u.Email, strings.ToLower(u.Email), u.Name, u.PasswordHash, u.Operator, u.Disabled, u.TOTPSecret, u.UpdatedAt)
	if isUniqueViolation(err) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a user with this email exists"}
	}
	return oneRow("update user", tag.RowsAffected(), err)
}

const membershipColumns = `user_id, tenant_id, role, created_at`

func scanMembership(row pgx.Row) (*pulse.Membership, error) {
	var m pulse.Membership
	var role string
	if err := row.Scan(&m.UserID, &m.TenantID, &role, &m.CreatedAt); err != nil {
		return nil, err
	}
	m.Role, m.CreatedAt = pulse.Role(role), m.CreatedAt.UTC()
	return &m, nil
}

// PutMembership creates the membership or changes its role (keeping its
// CreatedAt); ENOTFOUND when the tenant or the user does not exist.
func (db *DB) PutMembership(ctx context.Context, m *pulse.Membership) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO memberships (`+membershipColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role`, m.UserID, m.TenantID, string(m.Role), m.CreatedAt)
	if isForeignKeyViolation(err) {
		return pulse.Errorf(pulse.ENOTFOUND, "tenant or user not found")
	}
	return dbError("put membership", err)
}

// DeleteMembership removes the membership and, in the same transaction,
// every session of the user when it was their last membership and they are
// not an operator; ErrNotFound when there was none.
func (db *DB) DeleteMembership(ctx context.Context, tenantID, userID string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err := oneRow("delete membership", tag.RowsAffected(), err); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1
			AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)
			AND NOT EXISTS (SELECT 1 FROM users WHERE id = $1 AND operator)`, userID)
		return err
	})
	return dbError("delete membership", err)
}

// Memberships lists the user's tenants, oldest membership first.
func (db *DB) Memberships(ctx context.Context, userID string) ([]*pulse.Membership, error) {
	return collect(ctx, db.pool, "list memberships", scanMembership,
		`SELECT `+membershipColumns+` FROM memberships WHERE user_id = $1 ORDER BY created_at, tenant_id`, userID)
}

// Members lists the tenant's members, oldest first.
func (db *DB) Members(ctx context.Context, tenantID string) ([]*pulse.Membership, error) {
	return collect(ctx, db.pool, "list members", scanMembership,
		`SELECT `+membershipColumns+` FROM memberships WHERE tenant_id = $1 ORDER BY created_at, user_id`, tenantID)
}

const sessionColumns = `id_hash, user_id, created_at, last_seen_at, expires_at, user_agent, ip`

func scanSession(row pgx.Row) (*pulse.Session, error) {
	var s pulse.Session
	if err := row.Scan(&s.IDHash, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.UserAgent, &s.IP); err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return &s, nil
}

// CreateSession stores s: ECONFLICT when its hash exists, ENOTFOUND when
// its user does not.
func (db *DB) CreateSession(ctx context.Context, s *pulse.Session) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.IDHash, s.UserID, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.UserAgent, s.IP)
	switch {
	case isUniqueViolation(err):
		return pulse.Errorf(pulse.ECONFLICT, "the session exists")
	case isForeignKeyViolation(err):
		return pulse.Errorf(pulse.ENOTFOUND, "user not found")
	}
	return dbError("create session", err)
}

// GetSession returns ErrNotFound for an unknown or deleted session.
func (db *DB) GetSession(ctx context.Context, idHash string) (*pulse.Session, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = $1`, idHash))
	if err != nil {
		return nil, dbError("get session", err)
	}
	return s, nil
}

// TouchSession sets LastSeenAt; ErrNotFound for an unknown session.
func (db *DB) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1`, idHash, at)
	return oneRow("touch session", tag.RowsAffected(), err)
}

// DeleteSession removes the session; ErrNotFound when there was none.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return oneRow("delete session", tag.RowsAffected(), err)
}

// DeleteUserSessions removes every session of the user but keep.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, keep string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2`, userID, keep)
	return dbError("delete user sessions", err)
}

const invitationColumns = `id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at`

func scanInvitation(row pgx.Row) (*pulse.Invitation, error) {
	var inv pulse.Invitation
	var role string
	if err := row.Scan(&inv.ID, &inv.TenantID, &inv.Email, &role, &inv.TokenHash, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.AcceptedAt); err != nil {
		return nil, err
	}
	inv.Role, inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt = pulse.Role(role), inv.CreatedAt.UTC(), inv.ExpiresAt.UTC(), utcPtr(inv.AcceptedAt)
	return &inv, nil
}

// CreateInvitation stores inv: ECONFLICT when its id or token hash exists,
// ENOTFOUND when its tenant does not.
func (db *DB) CreateInvitation(ctx context.Context, inv *pulse.Invitation) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		inv.ID, inv.TenantID, inv.Email, string(inv.Role), inv.TokenHash, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt)
	switch {
	case isUniqueViolation(err):
		return pulse.Errorf(pulse.ECONFLICT, "the invitation exists")
	case isForeignKeyViolation(err):
		return pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	}
	return dbError("create invitation", err)
}

// GetInvitationByTokenHash returns the invitation, accepted or expired
// ones included (the caller decides); ErrNotFound for an unknown hash.
func (db *DB) GetInvitationByTokenHash(ctx context.Context, tokenHash string) (*pulse.Invitation, error) {
	inv, err := scanInvitation(db.pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, tokenHash))
	if err != nil {
		return nil, dbError("get invitation", err)
	}
	return inv, nil
}

// ListInvitations returns the tenant's invitations, oldest first.
func (db *DB) ListInvitations(ctx context.Context, tenantID string) ([]*pulse.Invitation, error) {
	return collect(ctx, db.pool, "list invitations", scanInvitation,
		`SELECT `+invitationColumns+` FROM invitations WHERE tenant_id = $1 ORDER BY seq`, tenantID)
}

// AcceptInvitation sets accepted_at only where it is still NULL: a second
// concurrent UPDATE waits for the first's row lock, re-reads the row and
// matches nothing, so exactly one succeeds; the other gets ECONFLICT.
// ErrNotFound for an unknown id.
func (db *DB) AcceptInvitation(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL`, id, at)
	if err := oneRow("accept invitation", tag.RowsAffected(), err); !pulse.IsNotFound(err) {
		return err
	}
	var one int
	if err := db.pool.QueryRow(ctx, `SELECT 1 FROM invitations WHERE id = $1`, id).Scan(&one); err != nil {
		return dbError("accept invitation", err)
	}
	return pulse.Errorf(pulse.ECONFLICT, "the invitation was already used")
}

// DeleteInvitation removes the tenant's invitation; ErrNotFound when it is
// not the tenant's.
func (db *DB) DeleteInvitation(ctx context.Context, tenantID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM invitations WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return oneRow("delete invitation", tag.RowsAffected(), err)
}
