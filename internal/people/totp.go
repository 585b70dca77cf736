package people

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TOTP (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps, a code of the
// step before or after also accepted (clock drift between phone and server).

const (
	totpDigits = 6
	totpStep   = 30 * time.Second
	totpSkew   = 1 // steps either side
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns a random 20-byte secret in base32 (what
// authenticator apps read).
func newTOTPSecret() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return b32.EncodeToString(b[:])
}

// hotp is RFC 4226's HOTP value of key at counter, as digits decimal digits.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// totpCode is the code of secret (base32) at t.
func totpCode(secret string, t time.Time) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(secret))
	if err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	return hotp(key, uint64(t.Unix())/uint64(totpStep/time.Second), totpDigits), nil
}

// totpValid reports whether code is secret's code at t, or one step
// before or after. Codes are compared in constant time.
func totpValid(secret, code string, t time.Time) bool {
	_, ok := totpMatch(secret, code, t)
	return ok
}

// totpMatch is totpValid that also returns the time step the code belongs
// to (RFC 6238 §5.2: a code accepted once is not accepted again).
func totpMatch(secret, code string, t time.Time) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return 0, false
	}
	var step int64
	ok := false
	for d := -totpSkew; d <= totpSkew; d++ {
		at := t.Add(time.Duration(d) * totpStep)
		want, err := totpCode(secret, at)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			ok, step = true, at.Unix()/int64(totpStep/time.Second)
		}
	}
	return step, ok
}

// totpURI is the otpauth:// URI authenticator apps scan (as a QR code).
func totpURI(secret, email string) string {
	label := url.PathEscape("PulseStream:" + email)
	q := url.Values{"secret": {secret}, "issuer": {"PulseStream"}, "algorithm": {"SHA1"},
		"digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// The second factor at rest: pulse.User.TOTPSecret holds, sealed with Box
// (additional data: the user's id), the JSON of totpState — the secret
// and the SHA-256 hashes of the unused recovery codes.
type totpState struct {
	Secret   string   `json:"secret"`
	Recovery []string `json:"recovery"`
	// LastStep is the time step of the last code accepted at sign-in: a
	// code of that step or an earlier one is refused (no replay within
	// the ±1 step window).
	LastStep int64 `json:"last_step,omitempty"`
}

const (
	recoveryCodes   = 10
	enrolAD         = "pulsestream-totp-enrol"
	enrolValidFor   = 15 * time.Minute
	maxTOTPCodeSize = 64
)

var errNoBox = pulse.Errorf(pulse.EUNAVAILABLE, "the second factor needs the server's secret key (PULSESTREAM_SECRET_KEY)")

func (a *Auth) openTOTP(u *pulse.User) (*totpState, error) {
	if a.Box == nil {
		return nil, errNoBox
	}
	plain, err := a.Box.OpenString(u.TOTPSecret, u.ID)
	if err != nil {
		return nil, fmt.Errorf("open totp state of user %s: %w", u.ID, err)
	}
	var st totpState
	if err := json.Unmarshal([]byte(plain), &st); err != nil {
		return nil, fmt.Errorf("decode totp state of user %s: %w", u.ID, err)
	}
	return &st, nil
}

func (a *Auth) sealTOTP(u *pulse.User, st *totpState) string {
	b, _ := json.Marshal(st)
	return a.Box.SealString(string(b), u.ID)
}

// checkSecondFactor accepts the current TOTP code or an unused recovery
// code (which is then used up).
func (a *Auth) checkSecondFactor(ctx context.Context, u *pulse.User, code string, now time.Time) (bool, error) {
	if len(code) > maxTOTPCodeSize {
		return false, nil
	}
	st, err := a.openTOTP(u)
	if err != nil {
		return false, err
	}
	if step, ok := totpMatch(st.Secret, code, now); ok {
		return a.useTOTPStep(ctx, u.ID, step)
	}
	return a.useRecoveryCode(ctx, u.ID, code)
}

// useTOTPStep records step as the user's last accepted TOTP step, or
// refuses it when a code of that step or a later one was already accepted
// (under totpMu, so on this node a code is accepted once; as for recovery
// codes, two nodes in the same instant could both accept it).
func (a *Auth) useTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	a.totpMu.Lock()
	defer a.totpMu.Unlock()
	u, err := a.Store.GetUser(ctx, userID)
	if err != nil || u.TOTPSecret == "" {
		return false, err
	}
	st, err := a.openTOTP(u)
	if err != nil {
		return false, err
	}
	if step <= st.LastStep {
		return false, nil
	}
	st.LastStep = step
	u.TOTPSecret, u.UpdatedAt = a.sealTOTP(u, st), a.now()
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		return false, err
	}
	return true, nil
}

// useRecoveryCode removes code from the user's unused recovery codes,
// re-reading the user under totpMu so that a code is used once on this
// node. (Two nodes using the same code in the same instant could both
// accept it: the codes are stored inside the sealed TOTP state.)
func (a *Auth) useRecoveryCode(ctx context.Context, userID, code string) (bool, error) {
	code = strings.ToLower(strings.TrimSpace(code))
	if !strings.Contains(code, "-") {
		return false, nil
	}
	a.totpMu.Lock()
	defer a.totpMu.Unlock()
	u, err := a.Store.GetUser(ctx, userID)
	if err != nil || u.TOTPSecret == "" {
		return false, err
	}
	st, err := a.openTOTP(u)
	if err != nil {
		return false, err
	}
	h := pulse.HashSecret(code)
	i := slices.IndexFunc(st.Recovery, func(x string) bool { return subtle.ConstantTimeCompare([]byte(x), []byte(h)) == 1 })
	if i < 0 {
		return false, nil
	}
	st.Recovery = slices.Delete(st.Recovery, i, i+1)
	u.TOTPSecret, u.UpdatedAt = a.sealTOTP(u, st), a.now()
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		return false, err
	}
	return true, nil
}

// TOTPEnrolment is the start of turning on the second factor: show
// Secret (or URI as a QR code) once, then confirm with a code and Token.
type TOTPEnrolment struct {
	Secret string    `json:"secret"`
	URI    string    `json:"otpauth_uri"`
	Token  string    `json:"enrolment_token"` // sealed: the secret, the user, the expiry
	Until  time.Time `json:"expires_at"`
}

// BeginTOTP starts the enrolment of u's second factor. Nothing is stored
// until ConfirmTOTP; an account whose factor is on must disable it first
// (ECONFLICT).
func (a *Auth) BeginTOTP(ctx context.Context, u *pulse.User) (*TOTPEnrolment, error) {
	if a.Box == nil {
		return nil, errNoBox
	}
	if u.TOTPSecret != "" {
		return nil, pulse.Errorf(pulse.ECONFLICT, "the second factor is already on; turn it off first")
	}
	secret := newTOTPSecret()
	until := a.now().Add(enrolValidFor)
	tok := a.Box.SealString(u.ID+"|"+secret+"|"+strconv.FormatInt(until.Unix(), 10), enrolAD)
	return &TOTPEnrolment{Secret: secret, URI: totpURI(secret, u.Email), Token: tok, Until: until}, nil
}

// ConfirmTOTP turns the second factor on when code matches the enrolment's
// secret, and returns the recovery codes (shown once; each works once).
// EINVALID for a wrong code or an expired or foreign enrolment token.
func (a *Auth) ConfirmTOTP(ctx context.Context, by Actor, u *pulse.User, token, code string) ([]string, error) {
	if a.Box == nil {
		return nil, errNoBox
	}
	bad := func(field, msg, reason string) error {
		return pulse.Invalid(pulse.FieldError{Field: field, Message: msg, Reason: reason})
	}
	plain, err := a.Box.OpenString(token, enrolAD)
	parts := strings.Split(plain, "|")
	if err != nil || len(parts) != 3 || parts[0] != u.ID {
		return nil, bad("enrolment_token", "is not an enrolment this server started for you", "enrolment_token.invalid")
	}
	until, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !a.now().Before(time.Unix(until, 0)) {
		return nil, bad("enrolment_token", "has expired; start again", "enrolment_token.expired")
	}
	if !totpValid(parts[1], code, a.now()) {
		return nil, bad("code", "is not the code your authenticator app shows now", "code.wrong")
	}
	codes := make([]string, recoveryCodes)
	st := &totpState{Secret: parts[1]}
	for i := range codes {
		c := strings.ToLower(newTOTPSecret()[:10])
		codes[i] = c[:5] + "-" + c[5:]
		st.Recovery = append(st.Recovery, pulse.HashSecret(codes[i]))
	}
	a.totpMu.Lock()
	defer a.totpMu.Unlock()
	u, err = a.Store.GetUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if u.TOTPSecret != "" {
		return nil, pulse.Errorf(pulse.ECONFLICT, "the second factor is already on; turn it off first")
	}
	u.TOTPSecret, u.UpdatedAt = a.sealTOTP(u, st), a.now()
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	a.record(ctx, by, "", "user.totp_enable", "user/"+u.ID, nil, nil)
	return codes, nil
}

// DisableTOTP turns u's second factor off after checking a current code or
// a recovery code (EUNAUTHORIZED when wrong).
func (a *Auth) DisableTOTP(ctx context.Context, by Actor, u *pulse.User, code string) error {
	if u.TOTPSecret == "" {
		return nil
	}
	ok, err := a.checkSecondFactor(ctx, u, code, a.now())
	if err != nil {
		return err
	}
	if !ok {
		return errWrongCode
	}
	a.totpMu.Lock()
	defer a.totpMu.Unlock()
	if u, err = a.Store.GetUser(ctx, u.ID); err != nil {
		return err
	}
	u.TOTPSecret, u.UpdatedAt = "", a.now()
	if err := a.Store.UpdateUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, by, "", "user.totp_disable", "user/"+u.ID, nil, nil)
	return nil
}
