package people

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Limits on a user's fields.
const (
	MaxEmailLength = 254 // bytes (RFC 5321's path limit)
	MaxNameLength  = 200 // characters
)

// UserView is a user's public form: the API's and the audit log's. It
// never carries the password hash or the TOTP secret.
type UserView struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Operator    bool      `json:"operator"`
	Disabled    bool      `json:"disabled"`
	TOTPEnabled bool      `json:"totp_enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// View returns u's public form.
func View(u *pulse.User) UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Operator: u.Operator, Disabled: u.Disabled,
		TOTPEnabled: u.TOTPSecret != "", CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Operator bool   `json:"operator"`
}

// UserPatch lists the fields of a user that change; nil means unchanged.
type UserPatch struct {
	Name     *string `json:"name"`
	Disabled *bool   `json:"disabled"`
	Operator *bool   `json:"operator"`
	Password *string `json:"password"`
	// KeepSession is the hash of the caller's own session, which survives
	// a password change ("" revokes every session of the user).
	KeepSession string `json:"-"`
}

func fieldErr(field, msg, reason string) pulse.FieldError {
	return pulse.FieldError{Field: field, Message: msg, Reason: reason}
}

// checkEmail returns the trimmed email, or the reason it is refused.
func checkEmail(email string) (string, []pulse.FieldError) {
	email = strings.TrimSpace(email)
	switch {
	case email == "":
		return email, []pulse.FieldError{fieldErr("email", "is required", "email.required")}
	case len(email) > MaxEmailLength:
		return email, []pulse.FieldError{fieldErr("email", "must be at most 254 bytes", "email.too_long")}
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return email, []pulse.FieldError{fieldErr("email", "must be an email address such as ada@example.com", "email.invalid")}
	}
	return email, nil
}

func checkName(name string) []pulse.FieldError {
	if utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n") {
		return []pulse.FieldError{fieldErr("name", "must be at most 200 characters on one line", "name.invalid")}
	}
	return nil
}

// passwordErrs runs password.Check and returns its field errors.
func passwordErrs(pw, email string) []pulse.FieldError {
	var pe *pulse.Error
	if err := password.Check(pw, email); errors.As(err, &pe) {
		return pe.Fields
	}
	return nil
}

func operatorOnly(by Actor) error {
	if !by.Operator {
		return forbidden("only the operator may manage users")
	}
	return nil
}

// CreateUser creates a user with a password (operator only): EINVALID for
// a bad email, name or password, ECONFLICT when the email is taken
// (whatever its case).
func (s *Service) CreateUser(ctx context.Context, by Actor, in NewUser) (*pulse.User, error) {
	if err := operatorOnly(by); err != nil {
		return nil, err
	}
	email, errs := checkEmail(in.Email)
	name := strings.TrimSpace(in.Name)
	errs = append(errs, checkName(name)...)
	errs = append(errs, passwordErrs(in.Password, email)...)
	if len(errs) > 0 {
		return nil, pulse.Invalid(errs...)
	}
	// Refuse a taken email before spending a hash on it (the store still
	// settles a race with ECONFLICT).
	if _, err := s.Store.GetUserByEmail(ctx, email); err == nil {
		return nil, pulse.Errorf(pulse.ECONFLICT, "a user with this email exists")
	} else if !pulse.IsNotFound(err) {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	at := s.now()
	u := &pulse.User{ID: pulse.NewID(), Email: email, Name: name, PasswordHash: hash, Operator: in.Operator, CreatedAt: at, UpdatedAt: at}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.record(ctx, by, "", "user.create", "user/"+u.ID, nil, View(u))
	return u, nil
}

// ListUsers returns every user, oldest first (operator only).
func (s *Service) ListUsers(ctx context.Context, by Actor) ([]*pulse.User, error) {
	if err := operatorOnly(by); err != nil {
		return nil, err
	}
	return s.Store.ListUsers(ctx)
}

// GetUser returns a user to the operator or to the user themself.
func (s *Service) GetUser(ctx context.Context, by Actor, id string) (*pulse.User, error) {
	if !by.Operator && (by.UserID == "" || by.UserID != id) {
		return nil, forbidden("only the operator may see other users")
	}
	return s.Store.GetUser(ctx, id)
}

// FindUser returns the user with id, or else with that email (operator
// only): the CLI accepts either.
func (s *Service) FindUser(ctx context.Context, by Actor, idOrEmail string) (*pulse.User, error) {
	if err := operatorOnly(by); err != nil {
		return nil, err
	}
	if strings.Contains(idOrEmail, "@") {
		return s.Store.GetUserByEmail(ctx, strings.TrimSpace(idOrEmail))
	}
	return s.Store.GetUser(ctx, idOrEmail)
}

// UpdateUser applies p (operator only). A new password, disabling and
// taking the operator role away revoke the user's sessions (but
// p.KeepSession) at once; a password is
// checked by the rules of package password. ENOTFOUND for an unknown id,
// EINVALID for a bad field.
func (s *Service) UpdateUser(ctx context.Context, by Actor, id string, p UserPatch) (*pulse.User, error) {
	if err := operatorOnly(by); err != nil {
		return nil, err
	}
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	before := View(u)
	var errs []pulse.FieldError
	if p.Name != nil {
		u.Name = strings.TrimSpace(*p.Name)
		errs = append(errs, checkName(u.Name)...)
	}
	if p.Password != nil {
		errs = append(errs, passwordErrs(*p.Password, u.Email)...)
	}
	if len(errs) > 0 {
		return nil, pulse.Invalid(errs...)
	}
	if p.Password != nil {
		if u.PasswordHash, err = s.Hasher.Hash(ctx, *p.Password); err != nil {
			return nil, err
		}
	}
	if p.Disabled != nil {
		u.Disabled = *p.Disabled
	}
	if p.Operator != nil {
		u.Operator = *p.Operator
	}
	u.UpdatedAt = s.now()
	if err := s.Store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	// Revoke after the change is stored: a session created in between
	// was signed in with the new password, or is refused as disabled.
	if p.Password != nil || u.Disabled || (before.Operator && !u.Operator) {
		if err := s.Store.DeleteUserSessions(ctx, u.ID, p.KeepSession); err != nil {
			return nil, err
		}
	}
	action := "user.update"
	if p.Password != nil {
		action = "user.set_password" // the views do not show the password
	}
	s.record(ctx, by, "", action, "user/"+u.ID, before, View(u))
	return u, nil
}

// SetPassword sets the user's password and revokes all their sessions.
func (s *Service) SetPassword(ctx context.Context, by Actor, id, pw string) (*pulse.User, error) {
	return s.UpdateUser(ctx, by, id, UserPatch{Password: &pw})
}

// Disable stops the user from signing in and revokes all their sessions.
func (s *Service) Disable(ctx context.Context, by Actor, id string) (*pulse.User, error) {
	yes := true
	return s.UpdateUser(ctx, by, id, UserPatch{Disabled: &yes})
}
