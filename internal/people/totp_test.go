package people

import (
	"encoding/base32"
	"testing"
	"time"
)

// TestTOTPRFC6238 checks the SHA-1 test vectors of RFC 6238 appendix B
// (8 digits there; the last 6 of them are this package's 6-digit codes,
// since both are the same value mod 10^n).
func TestTOTPRFC6238(t *testing.T) {
	key := []byte("12345678901234567890")
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
	for _, c := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		if got := hotp(key, uint64(c.unix/30), 8); got != c.want {
			t.Errorf("8-digit code at %d = %s, want %s", c.unix, got, c.want)
		}
		at := time.Unix(c.unix, 0)
		got, err := totpCode(secret, at)
		if err != nil || got != c.want[2:] {
			t.Errorf("totpCode at %d = %q, %v; want %s", c.unix, got, err, c.want[2:])
		}
		if !totpValid(secret, c.want[2:], at) {
			t.Errorf("code at %d not accepted at its own time", c.unix)
		}
		// ±1 step accepted, ±2 refused.
		if !totpValid(secret, c.want[2:], at.Add(30*time.Second)) || !totpValid(secret, c.want[2:], at.Add(-30*time.Second)) {
			t.Errorf("code at %d not accepted one step away", c.unix)
		}
		if totpValid(secret, c.want[2:], at.Add(61*time.Second)) || totpValid(secret, c.want[2:], at.Add(-61*time.Second)) {
			t.Errorf("code at %d accepted two steps away", c.unix)
		}
	}
	if totpValid(secret, "", time.Unix(59, 0)) || totpValid(secret, "12345", time.Unix(59, 0)) {
		t.Error("malformed codes accepted")
	}
}
