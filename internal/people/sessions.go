package people

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Sessions. A session id is 32 random bytes (base64url in the cookie);
// only its SHA-256 hash (pulse.HashSecret) is stored, so a copy of the
// database signs no one in. A session ends at the first of: IdleTimeout
// since it was last used, MaxAge since sign-in, sign-out, "sign out
// everywhere", a password change, the user's disabling, or the removal of
// the user's last membership (the store deletes those sessions).
//
// Session ids are secrets: never log them, never put them in an error.

// Default session timeouts (config: --session-idle-timeout, --session-max-age).
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultMaxAge      = 7 * 24 * time.Hour
)

// touchEvery is how stale LastSeenAt may get before a request writes it:
// one write per session per minute, not one per request. The idle timeout
// is therefore exact to within a minute.
const touchEvery = time.Minute

// errSignedOut is the answer for every unusable session: unknown, expired,
// revoked, or a disabled user. The caller cannot tell them apart.
var errSignedOut = pulse.Errorf(pulse.EUNAUTHORIZED, "your session has ended; sign in again")

// newSessionID returns a fresh random session id (the cookie's value).
func newSessionID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormedSessionID reports whether id can be one newSessionID made (so
// garbage costs no database look-up).
func wellFormedSessionID(id string) bool {
	if len(id) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

func (a *Auth) idle() time.Duration {
	if a.IdleTimeout > 0 {
		return a.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (a *Auth) maxAge() time.Duration {
	if a.MaxAge > 0 {
		return a.MaxAge
	}
	return DefaultMaxAge
}

// startSession creates a session for u and returns its id (shown once: it
// goes into the cookie).
func (a *Auth) startSession(ctx context.Context, u *pulse.User, ip, userAgent string) (string, *pulse.Session, error) {
	id := newSessionID()
	now := a.now()
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	s := &pulse.Session{IDHash: pulse.HashSecret(id), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(a.maxAge()), UserAgent: userAgent, IP: ip}
	if err := a.Store.CreateSession(ctx, s); err != nil {
		return "", nil, err
	}
	return id, s, nil
}

// Authenticate resolves a session id (the cookie's value) to its user and
// session: EUNAUTHORIZED for an unknown, ended or expired session or a
// disabled user. It refreshes the idle timeout (at most one write a
// minute). An expired session is deleted.
func (a *Auth) Authenticate(ctx context.Context, sessionID string) (*pulse.User, *pulse.Session, error) {
	if !wellFormedSessionID(sessionID) {
		return nil, nil, errSignedOut
	}
	st := a.Store
	hash := pulse.HashSecret(sessionID)
	s, err := st.GetSession(ctx, hash)
	if pulse.IsNotFound(err) {
		return nil, nil, errSignedOut
	} else if err != nil {
		return nil, nil, err
	}
	now := a.now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(a.idle())) {
		_ = st.DeleteSession(context.WithoutCancel(ctx), hash)
		return nil, nil, errSignedOut
	}
	u, err := st.GetUser(ctx, s.UserID)
	if pulse.IsNotFound(err) {
		return nil, nil, errSignedOut
	} else if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, errSignedOut
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := st.TouchSession(ctx, hash, now); err != nil && !pulse.IsNotFound(err) {
			return nil, nil, err
		}
		s.LastSeenAt = now
	}
	return u, s, nil
}

// SignOut ends the session with this id (no error if it had ended).
func (a *Auth) SignOut(ctx context.Context, sessionID string) error {
	if !wellFormedSessionID(sessionID) {
		return nil
	}
	err := a.Store.DeleteSession(ctx, pulse.HashSecret(sessionID))
	if pulse.IsNotFound(err) {
		return nil
	}
	return err
}

// SignOutEverywhere ends every session of the user, the current one
// included, and audits it.
func (a *Auth) SignOutEverywhere(ctx context.Context, by Actor, userID string) error {
	if err := a.Store.DeleteUserSessions(ctx, userID, ""); err != nil {
		return err
	}
	a.record(ctx, by, "", "session.revoke_all", "user/"+userID, nil, nil)
	return nil
}

// Principal is what a signed-in user may do in tenantID: their
// membership's role, or owner for an operator (who manages every tenant,
// as the admin token does). EFORBIDDEN when they are no member.
func (a *Auth) Principal(ctx context.Context, u *pulse.User, tenantID string) (pulse.Principal, error) {
	p := pulse.Principal{TenantID: tenantID, UserID: u.ID}
	ms, err := a.Store.Memberships(ctx, u.ID)
	if err != nil {
		return p, err
	}
	for _, m := range ms {
		if m.TenantID == tenantID {
			p.Role = m.Role
			return p, nil
		}
	}
	if u.Operator {
		p.Role = pulse.RoleOwner
		return p, nil
	}
	return p, pulse.Errorf(pulse.EFORBIDDEN, "you are not a member of tenant %q", tenantID)
}

// Me is who a session belongs to: GET /api/v1/session.
type Me struct {
	User        UserInfo         `json:"user"`
	Memberships []MembershipInfo `json:"memberships"`
	Operator    bool             `json:"operator"`
	TOTP        bool             `json:"totp_enabled"`
	ExpiresAt   time.Time        `json:"session_expires_at"`
}

// UserInfo is a user without secrets.
type UserInfo struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// MembershipInfo is one of Me's tenants.
type MembershipInfo struct {
	TenantID string     `json:"tenant_id"`
	Role     pulse.Role `json:"role"`
}

// WhoAmI describes the session's user and their memberships.
func (a *Auth) WhoAmI(ctx context.Context, u *pulse.User, s *pulse.Session) (*Me, error) {
	ms, err := a.Store.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	me := &Me{User: UserInfo{ID: u.ID, Email: u.Email, Name: u.Name}, Memberships: []MembershipInfo{},
		Operator: u.Operator, TOTP: u.TOTPSecret != "", ExpiresAt: s.ExpiresAt}
	for _, m := range ms {
		me.Memberships = append(me.Memberships, MembershipInfo{TenantID: m.TenantID, Role: m.Role})
	}
	return me, nil
}

// The cookie contract (shared by the JSON API and the console):
//   - SessionCookieName holds the session id: HttpOnly, SameSite=Lax,
//     Path=/, Secure whenever the server is reached over HTTPS, expiring
//     with the session's absolute timeout.
//   - DeviceCookieName marks a browser that has signed in (the sign-in
//     slow-down's exemption): same flags, DeviceCookieMaxAge.
const SessionCookieName = "pulsestream_session"

// SessionCookie is the cookie that carries session id until expires.
func SessionCookie(id string, expires time.Time, secure bool) *http.Cookie {
	return &http.Cookie{Name: SessionCookieName, Value: id, Path: "/", Expires: expires, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode}
}

// ExpiredSessionCookie removes the session cookie from the browser.
func ExpiredSessionCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: SessionCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode}
}

// DeviceCookie is the cookie that carries a device mark (see SignIn).
func DeviceCookie(value string, now time.Time, secure bool) *http.Cookie {
	return &http.Cookie{Name: DeviceCookieName, Value: value, Path: "/", Expires: now.Add(DeviceCookieMaxAge),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// SetSignInCookies sets the session and device cookies of a sign-in (an
// invitation's acceptance or the first-run setup too).
func SetSignInCookies(w http.ResponseWriter, res *SignInResult, now time.Time, secure bool) {
	if res.SessionID != "" {
		http.SetCookie(w, SessionCookie(res.SessionID, res.Session.ExpiresAt, secure))
	}
	if res.Device != "" {
		http.SetCookie(w, DeviceCookie(res.Device, now, secure))
	}
}
