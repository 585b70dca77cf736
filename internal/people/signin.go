package people

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Auth signs people in and out: sessions (sessions.go), the sign-in with
// its slow-down (this file), the second factor (totp.go), invitations
// (invite.go) and the first operator (setup in invite.go). It builds on
// Service (store, clock, hasher, box, audit). Build it with NewAuth.
type Auth struct {
	*Service
	// IdleTimeout and MaxAge end sessions (defaults DefaultIdleTimeout,
	// DefaultMaxAge).
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// Mailer sends invitation links (nil: the link is only returned).
	Mailer *Mailer

	dummyOnce sync.Once
	dummyHash string // verified for unknown emails, so they cost the same time
	throttle  *throttle
	totpMu    sync.Mutex // one recovery-code use or TOTP change at a time on this node
	setup     setupToken
}

// NewAuth returns an Auth over svc.
func NewAuth(svc *Service, idle, maxAge time.Duration) (*Auth, error) {
	if svc.Store == nil || svc.Clock == nil || svc.Hasher == nil {
		return nil, errors.New("people: Auth needs a Service with Store, Clock and Hasher")
	}
	return &Auth{Service: svc, IdleTimeout: idle, MaxAge: maxAge, throttle: newThrottle(maxThrottleKeys)}, nil
}

// standIn returns the hash verified for unknown emails: made by the
// process's first sign-in, whatever its email, so that no answer's time
// depends on whether the email exists.
func (a *Auth) standIn(ctx context.Context) (string, error) {
	var err error
	a.dummyOnce.Do(func() {
		var b [16]byte
		_, _ = rand.Read(b[:])
		a.dummyHash, err = a.Hasher.Hash(context.WithoutCancel(ctx), base64.RawStdEncoding.EncodeToString(b[:]))
	})
	if a.dummyHash == "" && err == nil {
		err = pulse.Errorf(pulse.EUNAVAILABLE, "sign-in is not ready; retry")
	}
	return a.dummyHash, err
}

// The sign-in slow-down (OWASP's "device cookie" scheme).
//
// A browser that has signed in to an account successfully carries a
// device cookie: sealed with the server's secret box, it names the user
// and a random device id. Failed sign-ins are counted:
//   - from a known device (its cookie names the account being signed in
//     to): per device only;
//   - from anywhere else: per account and per client address.
//
// When a count is used up the next attempt is answered 429 with
// Retry-After, before the password is even checked (so guessing is truly
// slowed). Counts refill evenly; only failures count. So a flood of wrong
// passwords against an account, from the office's own NAT address, never
// locks out the account's owner from their usual browser: its device
// cookie exempts it from both the account's and the address's counts, and
// its right password is always honoured. A new browser during such a
// flood waits at most the Retry-After. Counts are per node (in memory).
const (
	accountFailures  = 10               // burst of failed sign-ins per account from unknown devices…
	accountRefill    = 30 * time.Second // …then one more every 30 s
	addressFailures  = 30               // per client address
	addressRefill    = 6 * time.Second
	deviceFailures   = 10 // per known device
	deviceRefill     = 30 * time.Second
	maxThrottleKeys  = 100_000
	deviceCookieAD   = "pulsestream-device"
	DeviceCookieName = "pulsestream_device"
	// DeviceCookieMaxAge is how long a device stays known after its last
	// successful sign-in.
	DeviceCookieMaxAge = 365 * 24 * time.Hour
)

// throttle counts failures per key with GCRA: burst failures at once, then
// one per refill. Only failures are recorded; blocked only reads.
type throttle struct {
	mu  sync.Mutex
	tat map[string]time.Time
	max int
}

func newThrottle(max int) *throttle { return &throttle{tat: map[string]time.Time{}, max: max} }

// blocked returns how long key must wait (0: it may try now).
func (t *throttle) blocked(key string, now time.Time, burst int, refill time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	tat, ok := t.tat[key]
	if !ok || !tat.After(now) {
		return 0
	}
	return max(tat.Sub(now)-time.Duration(burst-1)*refill, 0)
}

// fail records one failure of key.
func (t *throttle) fail(key string, now time.Time, refill time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tat[key]; !ok && len(t.tat) >= t.max {
		for k, v := range t.tat {
			if !v.After(now) {
				delete(t.tat, k)
			}
		}
		for k := range t.tat { // still full: forget an arbitrary key
			if len(t.tat) < t.max {
				break
			}
			delete(t.tat, k)
		}
	}
	tat := t.tat[key]
	if tat.Before(now) {
		tat = now
	}
	t.tat[key] = tat.Add(refill)
}

type throttleKey struct {
	key    string
	burst  int
	refill time.Duration
}

// addressKey is the unit the per-address count uses: the IPv4 address, or
// the /64 of an IPv6 one (one subscriber's whole prefix, which an attacker
// could otherwise walk through).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// SignInRequest is one attempt to sign in.
type SignInRequest struct {
	Email    string
	Password string
	TOTPCode string // the second factor, or a recovery code; "" at first
	Device   string // the device cookie's value, if the browser sent one
	// IP, UserAgent and RequestID describe the request (audit, throttle).
	IP, UserAgent, RequestID string
}

// SignInResult is a successful sign-in.
type SignInResult struct {
	SessionID string // the session cookie's value; a secret, shown once
	Session   *pulse.Session
	User      *pulse.User
	Device    string // the device cookie's new value (DeviceCookieMaxAge)
}

var (
	errWrongPassword = pulse.Errorf(pulse.EUNAUTHORIZED, "wrong email or password")
	errWrongCode     = pulse.Errorf(pulse.EUNAUTHORIZED, "wrong authentication code")
	// ErrTOTPRequired answers a right password of an account with a second
	// factor when no code was given: ask for it and try again.
	ErrTOTPRequired = pulse.Invalid(pulse.FieldError{Field: "totp_code", Message: "this account needs the code from its authenticator app (or a recovery code)", Reason: "totp.required"})
)

// SignIn checks email, password and (when enabled) the second factor and
// starts a session. Errors: EUNAUTHORIZED (wrong email or password, wrong
// code — the same answer for an unknown email, which costs the same
// time), EINVALID with field totp_code (ErrTOTPRequired), ERATELIMITED
// with RetryAfter (see the slow-down above), EUNAVAILABLE (no hashing
// slot or database). Every success and counted failure is audited.
func (a *Auth) SignIn(ctx context.Context, req SignInRequest) (*SignInResult, error) {
	hash, err := a.standIn(ctx)
	if err != nil {
		return nil, err
	}
	now := a.now()
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if email == "" || req.Password == "" || len(req.Password) > password.MaxLength || len(email) > 320 {
		return nil, errWrongPassword
	}
	u, err := a.Store.GetUserByEmail(ctx, email)
	if pulse.IsNotFound(err) {
		u = nil
	} else if err != nil {
		return nil, err
	}
	devUser, devID := a.openDevice(req.Device)
	known := u != nil && devUser == u.ID
	keys := []throttleKey{{"account:" + email, accountFailures, accountRefill}, {"address:" + addressKey(req.IP), addressFailures, addressRefill}}
	if known {
		keys = []throttleKey{{"device:" + devID, deviceFailures, deviceRefill}}
	}
	var wait time.Duration
	for _, k := range keys {
		wait = max(wait, a.throttle.blocked(k.key, now, k.burst, k.refill))
	}
	if wait > 0 {
		secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
		return nil, &pulse.Error{Code: pulse.ERATELIMITED, RetryAfter: max(wait, time.Second),
			Message: "too many failed sign-ins; try again in " + secs + " s"}
	}
	failed := func(reason string, err error) (*SignInResult, error) {
		for _, k := range keys {
			a.throttle.fail(k.key, now, k.refill)
		}
		by := Actor{Name: "anonymous", SourceIP: req.IP, RequestID: req.RequestID}
		target := "email/" + email
		if u != nil {
			by.Name, target = UserActor(u.ID), "user/"+u.ID
		}
		a.record(ctx, by, "", "session.sign_in_failed", target, nil, map[string]string{"reason": reason})
		return nil, err
	}

	if u != nil && !u.Disabled {
		hash = u.PasswordHash
	}
	// Unknown and disabled accounts verify the stand-in hash: the same
	// work, the same answer. A malformed stored hash is a wrong password.
	err = a.Hasher.Verify(ctx, hash, req.Password)
	if pulse.ErrorCode(err) == pulse.EUNAVAILABLE {
		return nil, err
	}
	if u == nil || u.Disabled || err != nil {
		return failed("password", errWrongPassword)
	}
	if u.TOTPSecret != "" {
		if strings.TrimSpace(req.TOTPCode) == "" {
			return nil, ErrTOTPRequired
		}
		ok, err := a.checkSecondFactor(ctx, u, req.TOTPCode, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			return failed("totp", errWrongCode)
		}
	}
	if a.Hasher.NeedsRehash(u.PasswordHash) {
		if h, err := a.Hasher.Hash(ctx, req.Password); err == nil {
			u.PasswordHash, u.UpdatedAt = h, now
			if err := a.Store.UpdateUser(ctx, u); err != nil {
				a.logger().WarnContext(ctx, "password re-hash not stored", "err", err, "user_id", u.ID)
			}
		}
	}
	id, s, err := a.startSession(ctx, u, req.IP, req.UserAgent)
	if err != nil {
		return nil, err
	}
	if !known || devID == "" {
		devID = newSessionID()
	}
	a.record(ctx, Actor{Name: UserActor(u.ID), UserID: u.ID, SourceIP: req.IP, RequestID: req.RequestID},
		"", "session.sign_in", "user/"+u.ID, nil, map[string]any{"known_device": known})
	return &SignInResult{SessionID: id, Session: s, User: u, Device: a.sealDevice(u.ID, devID, now)}, nil
}

// sealDevice is a device cookie for user and device id ("" without a box).
func (a *Auth) sealDevice(userID, devID string, now time.Time) string {
	if a.Box == nil {
		return ""
	}
	return a.Box.SealString(userID+"|"+devID+"|"+strconv.FormatInt(now.Unix(), 10), deviceCookieAD)
}

// openDevice returns the user and device id of a device cookie, or "" for
// none, a forged one, or one older than DeviceCookieMaxAge.
func (a *Auth) openDevice(cookie string) (userID, devID string) {
	if a.Box == nil || cookie == "" || len(cookie) > 512 {
		return "", ""
	}
	plain, err := a.Box.OpenString(cookie, deviceCookieAD)
	if err != nil {
		return "", ""
	}
	parts := strings.Split(plain, "|")
	if len(parts) != 3 {
		return "", ""
	}
	issued, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || a.now().Sub(time.Unix(issued, 0)) > DeviceCookieMaxAge {
		return "", ""
	}
	return parts[0], parts[1]
}

// ChangePassword sets the user's password after checking the current one,
// and ends every other session of the user (keepSessionID stays signed
// in; "" ends all). EUNAUTHORIZED for a wrong current password, EINVALID
// for a new one that breaks password.Check.
func (a *Auth) ChangePassword(ctx context.Context, by Actor, u *pulse.User, current, next, keepSessionID string) error {
	if err := a.Hasher.Verify(ctx, u.PasswordHash, current); err != nil {
		if pulse.ErrorCode(err) == pulse.EUNAVAILABLE {
			return err
		}
		return pulse.Errorf(pulse.EUNAUTHORIZED, "the current password is wrong")
	}
	if err := password.Check(next, u.Email); err != nil {
		return err
	}
	h, err := a.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt = h, a.now()
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		return err
	}
	keep := ""
	if keepSessionID != "" {
		keep = pulse.HashSecret(keepSessionID)
	}
	if err := a.Store.DeleteUserSessions(ctx, u.ID, keep); err != nil {
		return err
	}
	a.record(ctx, by, "", "user.password_change", "user/"+u.ID, nil, nil)
	return nil
}
