package people

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
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
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return false
	}
	ok := false
	for d := -totpSkew; d <= totpSkew; d++ {
		want, err := totpCode(secret, t.Add(time.Duration(d)*totpStep))
		if err != nil {
			return false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			ok = true
		}
	}
	return ok
}

// totpURI is the otpauth:// URI authenticator apps scan (as a QR code).
func totpURI(secret, email string) string {
	label := url.PathEscape("PulseStream:" + email)
	q := url.Values{"secret": {secret}, "issuer": {"PulseStream"}, "algorithm": {"SHA1"},
		"digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}
