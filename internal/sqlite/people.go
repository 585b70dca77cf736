package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// People: users, memberships, sessions and invitations (pulse.PeopleStore).

const userColumns = `id, email, name, password_hash, operator, disabled, totp_secret, created_at, updated_at`

func scanUser(row scanner) (*pulse.User, error) {
	var u pulse.User
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Operator, &u.Disabled, &u.TOTPSecret, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// CreateUser stores u: ECONFLICT when its id or (case-insensitively) its
// email exists.
func (db *DB) CreateUser(ctx context.Context, u *pulse.User) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO users (`+userColumns+`, email_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.Operator, u.Disabled, u.TOTPSecret, micros(u.CreatedAt), micros(u.UpdatedAt), strings.ToLower(u.Email))
	if isConstraint(err, sqlite3.ErrConstraintUnique) || isConstraint(err, sqlite3.ErrConstraintPrimaryKey) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a user with this email exists"}
	} else if err != nil {
		return storeErr("create user", err)
	}
	return nil
}

// GetUser returns ErrNotFound for an unknown id.
func (db *DB) GetUser(ctx context.Context, id string) (*pulse.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, storeErr("get user", err)
	}
	return u, nil
}

// GetUserByEmail finds the user whatever the email's case; ErrNotFound
// when there is none.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (*pulse.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`, strings.ToLower(email)))
	if err != nil {
		return nil, storeErr("get user by email", err)
	}
	return u, nil
}

// ListUsers returns every user, oldest first.
func (db *DB) ListUsers(ctx context.Context) ([]*pulse.User, error) {
	return queryAll(ctx, db, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
}

// UpdateUser stores u's mutable fields: ErrNotFound for an unknown id,
// ECONFLICT when the new email belongs to another user.
func (db *DB) UpdateUser(ctx context.Context, u *pulse.User) error {
	res, err := db.write.ExecContext(ctx, `UPDATE users SET email = ?, email_key = ?, name = ?, password_hash = ?, operator = ?, disabled = ?, totp_secret = ?, updated_at = ?
		WHERE id = ?`, u.Email, strings.ToLower(u.Email), u.Name, u.PasswordHash, u.Operator, u.Disabled, u.TOTPSecret, micros(u.UpdatedAt), u.ID)
	if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a user with this email exists"}
	}
	return affectedOne("update user", res, err)
}

const membershipColumns = `user_id, tenant_id, role, created_at`

func scanMembership(row scanner) (*pulse.Membership, error) {
	var m pulse.Membership
	var created int64
	if err := row.Scan(&m.UserID, &m.TenantID, &m.Role, &created); err != nil {
		return nil, err
	}
	m.CreatedAt = fromMicros(created)
	return &m, nil
}

// PutMembership creates the membership or changes its role (keeping its
// CreatedAt); ENOTFOUND when the tenant or the user does not exist.
func (db *DB) PutMembership(ctx context.Context, m *pulse.Membership) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO memberships (`+membershipColumns+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role`, m.UserID, m.TenantID, string(m.Role), micros(m.CreatedAt))
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return pulse.Errorf(pulse.ENOTFOUND, "tenant or user not found")
	} else if err != nil {
		return storeErr("put membership", err)
	}
	return nil
}

// DeleteMembership removes the membership and, in the same transaction,
// every session of the user when it was their last membership and they are
// not an operator; ErrNotFound when there was none.
func (db *DB) DeleteMembership(ctx context.Context, tenantID, userID string) error {
	return db.inTx(ctx, "delete membership", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		if err := affectedOne("delete membership", res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?1
			AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)
			AND NOT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND operator)`, userID)
		if err != nil {
			return storeErr("delete membership: sessions", err)
		}
		return nil
	})
}

// Memberships lists the user's tenants, oldest membership first.
func (db *DB) Memberships(ctx context.Context, userID string) ([]*pulse.Membership, error) {
	return queryAll(ctx, db, "list memberships", scanMembership,
		`SELECT `+membershipColumns+` FROM memberships WHERE user_id = ? ORDER BY created_at, tenant_id`, userID)
}

// Members lists the tenant's members, oldest first.
func (db *DB) Members(ctx context.Context, tenantID string) ([]*pulse.Membership, error) {
	return queryAll(ctx, db, "list members", scanMembership,
		`SELECT `+membershipColumns+` FROM memberships WHERE tenant_id = ? ORDER BY created_at, user_id`, tenantID)
}

const sessionColumns = `id_hash, user_id, created_at, last_seen_at, expires_at, user_agent, ip`

func scanSession(row scanner) (*pulse.Session, error) {
	var s pulse.Session
	var created, seen, expires int64
	if err := row.Scan(&s.IDHash, &s.UserID, &created, &seen, &expires, &s.UserAgent, &s.IP); err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return &s, nil
}

// CreateSession stores s: ECONFLICT when its hash exists, ENOTFOUND when
// its user does not.
func (db *DB) CreateSession(ctx context.Context, s *pulse.Session) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.UserID, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), s.UserAgent, s.IP)
	switch {
	case isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return pulse.Errorf(pulse.ECONFLICT, "the session exists")
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return pulse.Errorf(pulse.ENOTFOUND, "user not found")
	case err != nil:
		return storeErr("create session", err)
	}
	return nil
}

// GetSession reads from the writer, so that a session deleted a moment
// ago (sign-out, removal) is never seen again.
func (db *DB) GetSession(ctx context.Context, idHash string) (*pulse.Session, error) {
	s, err := scanSession(db.write.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = ?`, idHash))
	if err != nil {
		return nil, storeErr("get session", err)
	}
	return s, nil
}

// TouchSession sets LastSeenAt; ErrNotFound for an unknown session.
func (db *DB) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, micros(at), idHash)
	return affectedOne("touch session", res, err)
}

// DeleteSession removes the session; ErrNotFound when there was none.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return affectedOne("delete session", res, err)
}

// DeleteUserSessions removes every session of the user but keep.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, keep string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, userID, keep)
	if err != nil {
		return storeErr("delete user sessions", err)
	}
	return nil
}

const invitationColumns = `id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at`

func scanInvitation(row scanner) (*pulse.Invitation, error) {
	var inv pulse.Invitation
	var created, expires int64
	var accepted nullTime
	if err := row.Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.Role, &inv.TokenHash, &inv.InvitedBy, &created, &expires, &accepted); err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt = fromMicros(created), fromMicros(expires), accepted.ptr()
	return &inv, nil
}

// CreateInvitation stores inv: ECONFLICT when its id or token hash exists,
// ENOTFOUND when its tenant does not.
func (db *DB) CreateInvitation(ctx context.Context, inv *pulse.Invitation) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.TenantID, inv.Email, string(inv.Role), inv.TokenHash, inv.InvitedBy, micros(inv.CreatedAt), micros(inv.ExpiresAt), nullMicros(inv.AcceptedAt))
	switch {
	case isConstraint(err, sqlite3.ErrConstraintUnique), isConstraint(err, sqlite3.ErrConstraintPrimaryKey):
		return pulse.Errorf(pulse.ECONFLICT, "the invitation exists")
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	case err != nil:
		return storeErr("create invitation", err)
	}
	return nil
}

// GetInvitationByTokenHash returns the invitation, accepted or expired
// ones included (the caller decides); ErrNotFound for an unknown hash.
func (db *DB) GetInvitationByTokenHash(ctx context.Context, tokenHash string) (*pulse.Invitation, error) {
	inv, err := scanInvitation(db.write.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = ?`, tokenHash))
	if err != nil {
		return nil, storeErr("get invitation", err)
	}
	return inv, nil
}

// ListInvitations returns the tenant's invitations, oldest first.
func (db *DB) ListInvitations(ctx context.Context, tenantID string) ([]*pulse.Invitation, error) {
	return queryAll(ctx, db, "list invitations", scanInvitation,
		`SELECT `+invitationColumns+` FROM invitations WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
}

// AcceptInvitation sets accepted_at only where it is still NULL, so of two
// concurrent calls exactly one succeeds; the other gets ECONFLICT.
// ErrNotFound for an unknown id.
func (db *DB) AcceptInvitation(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, "accept invitation", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL`, micros(at), id)
		if err := affectedOne("accept invitation", res, err); !pulse.IsNotFound(err) {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM invitations WHERE id = ?`, id).Scan(&one); err != nil {
			return storeErr("accept invitation", err)
		}
		return pulse.Errorf(pulse.ECONFLICT, "the invitation was already used")
	})
}

// DeleteInvitation removes the tenant's invitation; ErrNotFound when it is
// not the tenant's.
func (db *DB) DeleteInvitation(ctx context.Context, tenantID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM invitations WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affectedOne("delete invitation", res, err)
}
