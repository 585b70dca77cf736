package pulse

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// SigningSecretPrefix starts every request-signing secret.
const SigningSecretPrefix = "pss_"

// MaxSignatureSkew is the replay window: a signed request whose timestamp
// is further than this from the server's clock is refused.
const MaxSignatureSkew = 5 * time.Minute

// SigningSecret is a tenant's HMAC key for signed requests. The secret is
// kept encrypted (Sealed, by the HTTP layer's secret box); its JSON form
// never carries it.
type SigningSecret struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	Name      string     `json:"name,omitempty"`
	Prefix    string     `json:"prefix"`
	Sealed    []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// SigningSecretStore keeps signing secrets (encrypted).
type SigningSecretStore interface {
	CreateSigningSecret(ctx context.Context, s *SigningSecret) error
	// ListSigningSecrets returns the tenant's secrets, revoked ones too.
	ListSigningSecrets(ctx context.Context, tenantID string) ([]*SigningSecret, error)
	// RevokeSigningSecret sets revoked_at (keeping an earlier one);
	// ErrNotFound when the secret is not the tenant's.
	RevokeSigningSecret(ctx context.Context, tenantID, id string, at time.Time) error
}

// Sign returns the v1 signature of body sent at the unix timestamp ts:
// hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-PulseStream-Signature header ("v1=<hex>",
// several comma-separated signatures allowed while secrets rotate) against
// any of secrets, in constant time per comparison, and the timestamp
// against now ± MaxSignatureSkew. It returns EUNAUTHORIZED with a reason.
func VerifySignature(secrets []string, tsHeader, sigHeader string, body []byte, now time.Time) error {
	tsText := strings.TrimSpace(tsHeader)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return Errorf(EUNAUTHORIZED, "X-PulseStream-Timestamp must be unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSignatureSkew || d < -MaxSignatureSkew {
		return Errorf(EUNAUTHORIZED, "the request timestamp is more than 5 minutes off the server's clock")
	}
	var sigs [][]byte
	for _, part := range strings.Split(sigHeader, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return Errorf(EUNAUTHORIZED, "X-PulseStream-Signature must be v1=<hex HMAC-SHA256>")
	}
	ok := false
	for _, secret := range secrets {
		want, _ := hex.DecodeString(Sign(secret, tsText, body))
		for _, got := range sigs {
			if hmac.Equal(want, got) {
				ok = true // keep going: the time taken does not depend on which matched
			}
		}
	}
	if !ok {
		return Errorf(EUNAUTHORIZED, "the request signature does not match")
	}
	return nil
}
