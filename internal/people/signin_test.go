package people

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

const testPassword = "correct horse battery staple"

// newTestAuth is an Auth on a fresh SQLite file with a fake clock and one
// tenant, "acme".
func newTestAuth(t *testing.T) (*Auth, *testkit.Clock) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "people.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := testkit.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(&Service{Store: db, Clock: clock, Hasher: password.NewHasher(password.TestParams, 2), Box: box}, time.Hour, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := pulse.NewTenant("acme", "Acme", 100, 7, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	return a, clock
}

// addUser creates a user with testPassword and role in acme ("" for none).
func addUser(t *testing.T, a *Auth, email string, role pulse.Role) *pulse.User {
	t.Helper()
	ctx := context.Background()
	h, err := a.Hasher.Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &pulse.User{ID: pulse.NewID(), Email: email, Name: email, PasswordHash: h, CreatedAt: a.now(), UpdatedAt: a.now()}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if role != "" {
		if err := a.Store.PutMembership(ctx, &pulse.Membership{UserID: u.ID, TenantID: "acme", Role: role, CreatedAt: a.now()}); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func trySignIn(a *Auth, email, pw, ip, device string) (*SignInResult, error) {
	return a.SignIn(context.Background(), SignInRequest{Email: email, Password: pw, IP: ip, Device: device})
}

func wantErrCode(t *testing.T, err error, code string) {
	t.Helper()
	if pulse.ErrorCode(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, pulse.ErrorCode(err), code)
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	a, clock := newTestAuth(t)
	ctx := context.Background()
	addUser(t, a, "ana@example.com", pulse.RoleViewer)
	res, err := trySignIn(a, "ana@example.com", testPassword, "10.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	// Only the hash is stored.
	if _, err := a.Store.GetSession(ctx, res.SessionID); !pulse.IsNotFound(err) {
		t.Fatalf("session stored under its id: %v", err)
	}
	// Used every 59 minutes, it lives until the absolute timeout (24 h).
	for clock.Now().Before(res.Session.ExpiresAt.Add(-59 * time.Minute)) {
		clock.Advance(59 * time.Minute)
		if _, _, err := a.Authenticate(ctx, res.SessionID); err != nil {
			t.Fatalf("at %v: %v", clock.Now(), err)
		}
	}
	clock.Advance(59 * time.Minute)
	_, _, err = a.Authenticate(ctx, res.SessionID)
	wantErrCode(t, err, pulse.EUNAUTHORIZED)

	// Idle for longer than the idle timeout: ended.
	res, err = trySignIn(a, "ana@example.com", testPassword, "10.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, _, err = a.Authenticate(ctx, res.SessionID)
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	_, _, err = a.Authenticate(ctx, "not-a-session")
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
}

func TestSignOutEverywhereAndPasswordChange(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	ctx := context.Background()
	u := addUser(t, a, "ana@example.com", pulse.RoleOwner)
	var ids []string
	for range 3 {
		res, err := trySignIn(a, "ana@example.com", testPassword, "10.0.0.1", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.SessionID)
	}
	by := Actor{Name: UserActor(u.ID), UserID: u.ID}
	const next = "a new and longer passphrase"
	wantErrCode(t, a.ChangePassword(ctx, by, u, "wrong", next, ids[0]), pulse.EUNAUTHORIZED)
	if err := a.ChangePassword(ctx, by, u, testPassword, next, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Authenticate(ctx, ids[0]); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	for _, id := range ids[1:] {
		_, _, err := a.Authenticate(ctx, id)
		wantErrCode(t, err, pulse.EUNAUTHORIZED)
	}
	_, err := trySignIn(a, "ana@example.com", testPassword, "10.0.0.1", "")
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	if _, err := trySignIn(a, "ana@example.com", next, "10.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.SignOutEverywhere(ctx, by, u.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.Authenticate(ctx, ids[0])
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
}

// TestSignInSlowdownNeverLocksOutKnownDevice floods an account with wrong
// passwords from the office's one address, then its owner types the right
// password in their usual browser from that same address.
func TestSignInSlowdownNeverLocksOutKnownDevice(t *testing.T) {
	t.Parallel()
	a, clock := newTestAuth(t)
	addUser(t, a, "ana@example.com", pulse.RoleMember)
	const office = "203.0.113.7"
	first, err := trySignIn(a, "ana@example.com", testPassword, office, "")
	if err != nil {
		t.Fatal(err)
	}
	device := first.Device
	if device == "" {
		t.Fatal("no device cookie issued")
	}

	// The attacker, on the same NAT, without the device cookie.
	limited := 0
	for i := range 200 {
		_, err := trySignIn(a, "ana@example.com", "guess-"+string(rune('a'+i%26)), office, "")
		switch pulse.ErrorCode(err) {
		case pulse.EUNAUTHORIZED:
			if limited > 0 {
				t.Fatalf("attempt %d answered 401 after being limited", i)
			}
		case pulse.ERATELIMITED:
			limited++
			var pe *pulse.Error
			if !asError(err, &pe) || pe.RetryAfter <= 0 {
				t.Fatalf("429 without Retry-After: %v", err)
			}
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if limited < 150 {
		t.Fatalf("only %d of 200 wrong guesses were limited", limited)
	}
	// A guess with the right password from an unknown browser is limited
	// too (that is what stops guessing)...
	_, err = trySignIn(a, "ana@example.com", testPassword, office, "")
	wantErrCode(t, err, pulse.ERATELIMITED)
	// ...but the owner's own browser is signed in at once.
	res, err := trySignIn(a, "ana@example.com", testPassword, office, device)
	if err != nil {
		t.Fatalf("right password from a known device refused: %v", err)
	}
	if res.Device == "" {
		t.Fatal("device cookie not renewed")
	}
	// A device cookie of another account exempts nothing.
	addUser(t, a, "bob@example.com", pulse.RoleMember)
	for range accountFailures {
		_, _ = trySignIn(a, "bob@example.com", "wrong", "198.51.100.1", "")
	}
	_, err = trySignIn(a, "bob@example.com", testPassword, "198.51.100.1", device)
	wantErrCode(t, err, pulse.ERATELIMITED)
	// One IPv6 subscriber is one address: walking its /64 gains nothing.
	for i := range addressFailures {
		_, _ = trySignIn(a, "nobody"+string(rune('a'+i%26))+"@example.com", "wrong", fmt.Sprintf("2001:db8::%x", i+1), "")
	}
	_, err = trySignIn(a, "carol@example.com", "wrong", "2001:db8::ffff", "")
	wantErrCode(t, err, pulse.ERATELIMITED)
	// The limit refills: a while later the unknown browser may try again.
	clock.Advance(time.Hour)
	if _, err := trySignIn(a, "ana@example.com", testPassword, office, ""); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
}

func TestSignInAnswersAlikeForUnknownEmail(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	ctx := context.Background()
	u := addUser(t, a, "ana@example.com", pulse.RoleMember)
	_, errWrong := trySignIn(a, "ana@example.com", "wrong password!", "10.0.0.2", "")
	_, errUnknown := trySignIn(a, "nobody@example.com", "wrong password!", "10.0.0.2", "")
	if errWrong == nil || errUnknown == nil || errWrong.Error() != errUnknown.Error() {
		t.Fatalf("answers differ: %v / %v", errWrong, errUnknown)
	}
	// A disabled user cannot sign in, with the same answer.
	u.Disabled = true
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, errDisabled := trySignIn(a, "ana@example.com", testPassword, "10.0.0.3", "")
	if errDisabled == nil || errDisabled.Error() != errWrong.Error() {
		t.Fatalf("disabled user: %v", errDisabled)
	}
	// Every attempt is audited, never with the password.
	entries, err := a.Store.ListAudit(ctx, pulse.AuditFilter{AllTenants: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range entries {
		if e.Action == "session.sign_in_failed" {
			failed++
		}
		for _, b := range [][]byte{e.Before, e.After} {
			if containsBytes(b, "wrong password") || containsBytes(b, testPassword) {
				t.Fatalf("audit entry holds a password: %s", b)
			}
		}
	}
	if failed != 3 {
		t.Fatalf("%d failed sign-ins audited, want 3", failed)
	}
}

func TestTOTPSignInAndRecoveryCodes(t *testing.T) {
	t.Parallel()
	a, clock := newTestAuth(t)
	ctx := context.Background()
	u := addUser(t, a, "ana@example.com", pulse.RoleOwner)
	by := Actor{Name: UserActor(u.ID), UserID: u.ID}
	e, err := a.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.ConfirmTOTP(ctx, by, u, e.Token, "000000")
	wantErrCode(t, err, pulse.EINVALID)
	code, _ := totpCode(e.Secret, clock.Now())
	codes, err := a.ConfirmTOTP(ctx, by, u, e.Token, code)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if u, _ = a.Store.GetUser(ctx, u.ID); u.TOTPSecret == "" || containsBytes([]byte(u.TOTPSecret), e.Secret) {
		t.Fatal("the TOTP secret is not stored sealed")
	}

	req := SignInRequest{Email: "ana@example.com", Password: testPassword, IP: "10.0.0.4"}
	_, err = a.SignIn(ctx, req)
	if err != ErrTOTPRequired {
		t.Fatalf("without a code: %v", err)
	}
	clock.Advance(5 * time.Minute)
	req.TOTPCode = code // five minutes old
	_, err = a.SignIn(ctx, req)
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	req.TOTPCode, _ = totpCode(e.Secret, clock.Now().Add(-30*time.Second)) // one step behind
	if _, err := a.SignIn(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err = a.SignIn(ctx, req) // the same code again, still inside its window
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	clock.Advance(30 * time.Second)
	req.TOTPCode, _ = totpCode(e.Secret, clock.Now().Add(-60*time.Second)) // an older step than the one used
	_, err = a.SignIn(ctx, req)
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	req.TOTPCode, _ = totpCode(e.Secret, clock.Now()) // a newer step
	if _, err := a.SignIn(ctx, req); err != nil {
		t.Fatalf("the next code: %v", err)
	}
	req.TOTPCode = codes[3]
	if _, err := a.SignIn(ctx, req); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	_, err = a.SignIn(ctx, req)
	wantErrCode(t, err, pulse.EUNAUTHORIZED) // used up
	u, _ = a.Store.GetUser(ctx, u.ID)
	if err := a.DisableTOTP(ctx, by, u, codes[4]); err != nil {
		t.Fatal(err)
	}
	entries, _ := a.Store.ListAudit(ctx, pulse.AuditFilter{AllTenants: true, Limit: 100})
	audited := map[string]bool{}
	for _, e := range entries {
		audited[e.Action] = true
	}
	if !audited["user.totp_enable"] || !audited["user.totp_disable"] {
		t.Errorf("TOTP changes not audited: %v", audited)
	}
	req.TOTPCode = ""
	if _, err := a.SignIn(ctx, req); err != nil {
		t.Fatalf("after disabling: %v", err)
	}
}

func TestInvitationExpiryAndSingleUse(t *testing.T) {
	t.Parallel()
	a, clock := newTestAuth(t)
	ctx := context.Background()
	owner := addUser(t, a, "owner@example.com", pulse.RoleOwner)
	asOwner := Actor{Name: UserActor(owner.ID), UserID: owner.ID, Role: pulse.RoleOwner}
	asAdmin := Actor{Name: "user:x", Role: pulse.RoleAdmin}
	asMember := Actor{Name: "user:y", Role: pulse.RoleMember}

	_, err := a.Invite(ctx, asMember, "acme", "new@example.com", pulse.RoleViewer, "http://ps")
	wantErrCode(t, err, pulse.EFORBIDDEN)
	_, err = a.Invite(ctx, asAdmin, "acme", "new@example.com", pulse.RoleOwner, "http://ps")
	wantErrCode(t, err, pulse.EFORBIDDEN)
	_, err = a.Invite(ctx, asOwner, "acme", "not an email", pulse.RoleViewer, "http://ps")
	wantErrCode(t, err, pulse.EINVALID)

	old, err := a.Invite(ctx, asAdmin, "acme", "New@Example.com", pulse.RoleMember, "http://ps/")
	if err != nil {
		t.Fatal(err)
	}
	if old.Link != "http://ps/invite/"+old.Token || old.Invitation.TokenHash == old.Token {
		t.Fatalf("link %q", old.Link)
	}
	clock.Advance(InvitationValidFor)
	_, err = a.AcceptInvitation(ctx, AcceptRequest{Token: old.Token, Name: "New", Password: testPassword})
	wantErrCode(t, err, pulse.EINVALID)

	inv, err := a.Invite(ctx, asOwner, "acme", "new@example.com", pulse.RoleOwner, "http://ps")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.AcceptInvitation(ctx, AcceptRequest{Token: inv.Token, Name: "New", Password: "short"})
	wantErrCode(t, err, pulse.EINVALID)
	clock.Advance(InvitationValidFor - time.Second)
	res, err := a.AcceptInvitation(ctx, AcceptRequest{Token: inv.Token, Name: "New", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionID == "" || res.User.Email != "new@example.com" {
		t.Fatalf("accept: %+v", res)
	}
	u, _, err := a.Authenticate(ctx, res.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Principal(ctx, u, "acme"); err != nil || p.Role != pulse.RoleOwner {
		t.Fatalf("principal %+v, %v", p, err)
	}
	_, err = a.AcceptInvitation(ctx, AcceptRequest{Token: inv.Token, Name: "New", Password: testPassword})
	wantErrCode(t, err, pulse.ECONFLICT)

	list, err := a.ListInvitations(ctx, asAdmin, "acme")
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	entries, _ := a.Store.ListAudit(ctx, pulse.AuditFilter{TenantID: "acme", Limit: 100})
	actions := map[string]int{}
	for _, e := range entries {
		actions[e.Action]++
	}
	if actions["invitation.create"] != 2 || actions["invitation.accept"] != 1 {
		t.Fatalf("audited %v", actions)
	}
}

func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	ctx := context.Background()
	tok, err := a.StartSetup(ctx)
	if err != nil || tok == "" {
		t.Fatalf("setup token %q, %v", tok, err)
	}
	req := SetupRequest{Token: "wrong", Email: "op@example.com", Name: "Op", Password: testPassword}
	_, err = a.Setup(ctx, req)
	wantErrCode(t, err, pulse.EUNAUTHORIZED)
	req.Token = tok
	res, err := a.Setup(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.User.Operator || res.SessionID == "" {
		t.Fatalf("setup: %+v", res)
	}
	_, err = a.Setup(ctx, req)
	wantErrCode(t, err, pulse.EUNAUTHORIZED) // spent
	if tok, err := a.StartSetup(ctx); err != nil || tok != "" {
		t.Fatalf("a second setup token %q, %v", tok, err)
	}
	// The operator acts as owner of any tenant.
	if p, err := a.Principal(ctx, res.User, "acme"); err != nil || p.Role != pulse.RoleOwner {
		t.Fatalf("operator principal %+v, %v", p, err)
	}
}
