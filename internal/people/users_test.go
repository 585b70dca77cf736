package people

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

var operator = OperatorActor(pulse.ActorCLI)

// newAdminService returns a Service on a fresh SQLite file, with cheap
// hashing parameters.
func newAdminService(t *testing.T) *Service {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "people.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Service{Store: db, Clock: testkit.NewClock(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)),
		Hasher: password.NewHasher(password.TestParams, 2)}
}

func mustCreateUser(t *testing.T, s *Service, email string) *pulse.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), operator, NewUser{Email: email, Name: "Ada", Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func signIn(t *testing.T, s *Service, u *pulse.User) *pulse.Session {
	t.Helper()
	at := s.now()
	ss := &pulse.Session{IDHash: pulse.NewID(), UserID: u.ID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := s.Store.CreateSession(t.Context(), ss); err != nil {
		t.Fatal(err)
	}
	return ss
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := pulse.ErrorCode(err); got != code {
		t.Fatalf("%s: err = %v (code %q), want %q", what, err, got, code)
	}
}

func TestCreateUserHashesAndAudits(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, " Ada@Example.com ")
	if u.Email != "Ada@Example.com" || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("user = %+v", u)
	}
	if err := s.Hasher.Verify(ctx, u.PasswordHash, "correct horse battery"); err != nil {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	_, err := s.CreateUser(ctx, operator, NewUser{Email: "ada@example.COM", Password: "another long password"})
	wantCode(t, "same email in another case", err, pulse.ECONFLICT)

	entries, err := s.Store.ListAudit(ctx, pulse.AuditFilter{AllTenants: true, Limit: 10})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit = %v, %v; want one entry", entries, err)
	}
	e := entries[0]
	if e.Action != "user.create" || e.Actor != pulse.ActorCLI || e.Target != "user/"+u.ID {
		t.Fatalf("audit entry = %+v", e)
	}
	if strings.Contains(string(e.After), "argon2") || strings.Contains(string(e.After), "password") {
		t.Fatalf("audit entry carries the password hash: %s", e.After)
	}
}

func TestCreateUserValidates(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	for _, tc := range []struct {
		name   string
		in     NewUser
		reason string
	}{
		{"no email", NewUser{Password: "long enough password"}, "email.required"},
		{"not an email", NewUser{Email: "ada", Password: "long enough password"}, "email.invalid"},
		{"display name", NewUser{Email: "Ada <ada@example.com>", Password: "long enough password"}, "email.invalid"},
		{"short password", NewUser{Email: "ada@example.com", Password: "short"}, "password.too_short"},
		{"long password", NewUser{Email: "ada@example.com", Password: strings.Repeat("x", 257)}, "password.too_long"},
		{"password is the email", NewUser{Email: "ada.lovelace@example.com", Password: "ADA.lovelace@example.com"}, "password.is_email"},
		{"name on two lines", NewUser{Email: "ada@example.com", Name: "a\nb", Password: "long enough password"}, "name.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateUser(t.Context(), operator, tc.in)
			var pe *pulse.Error
			if !errors.As(err, &pe) || pe.Code != pulse.EINVALID || len(pe.Fields) == 0 || pe.Fields[0].Reason != tc.reason {
				t.Fatalf("err = %#v, want EINVALID %s", err, tc.reason)
			}
		})
	}
	users, _ := s.Store.ListUsers(t.Context())
	if len(users) != 0 {
		t.Fatalf("%d users stored after refusals", len(users))
	}
}

func TestUsersAreOperatorOnly(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "ada@example.com")
	owner := Actor{Name: UserActor(u.ID), UserID: u.ID, Role: pulse.RoleOwner}
	_, err := s.CreateUser(ctx, owner, NewUser{Email: "b@example.com", Password: "long enough password"})
	wantCode(t, "CreateUser by an owner", err, pulse.EFORBIDDEN)
	_, err = s.ListUsers(ctx, owner)
	wantCode(t, "ListUsers by an owner", err, pulse.EFORBIDDEN)
	_, err = s.SetPassword(ctx, owner, u.ID, "a new long password")
	wantCode(t, "SetPassword by a non-operator", err, pulse.EFORBIDDEN)
	if got, err := s.GetUser(ctx, owner, u.ID); err != nil || got.ID != u.ID {
		t.Fatalf("GetUser of oneself: %v", err)
	}
	_, err = s.GetUser(ctx, Actor{UserID: "someone else"}, u.ID)
	wantCode(t, "GetUser of another", err, pulse.EFORBIDDEN)
}

func TestSetPasswordAndDisableRevokeSessions(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "ada@example.com")
	other := mustCreateUser(t, s, "grace@example.com")
	s1, s2, keep := signIn(t, s, u), signIn(t, s, u), signIn(t, s, other)

	_, err := s.SetPassword(ctx, operator, u.ID, "short")
	wantCode(t, "SetPassword too short", err, pulse.EINVALID)
	if _, err := s.Store.GetSession(ctx, s1.IDHash); err != nil {
		t.Fatalf("a refused password change revoked a session: %v", err)
	}

	got, err := s.SetPassword(ctx, operator, u.ID, "a brand new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Hasher.Verify(ctx, got.PasswordHash, "a brand new passphrase"); err != nil {
		t.Fatalf("new password does not verify: %v", err)
	}
	for _, ss := range []*pulse.Session{s1, s2} {
		if _, err := s.Store.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
			t.Fatalf("session after a password change: err = %v, want not found", err)
		}
	}
	if _, err := s.Store.GetSession(ctx, keep.IDHash); err != nil {
		t.Fatalf("another user's session: %v", err)
	}

	// A password change may keep the caller's own session.
	mine, theirs := signIn(t, s, u), signIn(t, s, u)
	pw := "yet another passphrase"
	if _, err := s.UpdateUser(ctx, operator, u.ID, UserPatch{Password: &pw, KeepSession: mine.IDHash}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GetSession(ctx, mine.IDHash); err != nil {
		t.Fatalf("kept session: %v", err)
	}
	if _, err := s.Store.GetSession(ctx, theirs.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("other session: err = %v, want not found", err)
	}

	if got, err = s.Disable(ctx, operator, u.ID); err != nil || !got.Disabled {
		t.Fatalf("Disable: %+v, %v", got, err)
	}
	if _, err := s.Store.GetSession(ctx, mine.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("session of a disabled user: err = %v, want not found", err)
	}
	_, err = s.Disable(ctx, operator, pulse.NewID())
	wantCode(t, "Disable an unknown user", err, pulse.ENOTFOUND)
}

// Taking the operator role away ends the user's sessions; granting it, or
// renaming, does not.
func TestOperatorRoleRemovalRevokesSessions(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "op@example.com")
	yes, no, name := true, false, "Op"
	if _, err := s.UpdateUser(ctx, operator, u.ID, UserPatch{Operator: &yes, Name: &name}); err != nil {
		t.Fatal(err)
	}
	ss := signIn(t, s, u)
	if _, err := s.UpdateUser(ctx, operator, u.ID, UserPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GetSession(ctx, ss.IDHash); err != nil {
		t.Fatalf("session after a rename: %v", err)
	}
	got, err := s.UpdateUser(ctx, operator, u.ID, UserPatch{Operator: &no})
	if err != nil || got.Operator {
		t.Fatalf("remove operator: %+v, %v", got, err)
	}
	if _, err := s.Store.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("session after losing the operator role: err = %v, want not found", err)
	}
}
