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
// is older than this by the server's clock is refused. Within it, each
// signed request is accepted once (ReplayGuard).
const MaxSignatureSkew = 5 * time.Minute

// MaxSignatureFutureSkew is how far ahead of the server's clock a signed
// request's timestamp may be: room for clock drift, no more, since a
// request stamped ahead stays valid for longer.
const MaxSignatureFutureSkew = 30 * time.Second

// ReplayGuard remembers the signed requests accepted within the signature
// window, so that a captured request cannot be sent again. Implementations:
// inmem (one node) and redis (shared by all nodes).
type ReplayGuard interface {
	// FirstSeen records key for the tenant until ttl has passed and reports
	// whether it was not recorded already, atomically: of concurrent calls
	// with one key, one gets true. An error (EUNAVAILABLE: the guard is
	// full or unreachable) means the answer is unknown.
	FirstSeen(ctx context.Context, tenantID, key string, ttl time.Duration) (bool, error)
	// Forget drops key, so that a request refused without effect (a 503,
	// a 429) may be sent again as it was.
	Forget(ctx context.Context, tenantID, key string) error
}

// SignedRequestKey identifies a signed request for the ReplayGuard: the
// hash of what the signature covers. Two requests with the same body and
// the same timestamp second are the same request.
func SignedRequestKey(ts string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// ParseSignatureTimestamp reads an X-PulseStream-Timestamp header: unix
// seconds in plain decimal, without sign, spaces, leading zeros or a
// fraction, so that one instant has exactly one signed form.
func ParseSignatureTimestamp(h string) (int64, error) {
	ok := h != "" && len(h) <= 18 && (h == "0" || h[0] != '0')
	for i := 0; ok && i < len(h); i++ {
		ok = h[i] >= '0' && h[i] <= '9'
	}
	if !ok {
		return 0, Errorf(EUNAUTHORIZED, "X-PulseStream-Timestamp must be unix seconds in plain digits (no sign, spaces, leading zeros or fraction)")
	}
	return strconv.ParseInt(h, 10, 64)
}

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

// CheckSignatureTimestamp checks the X-PulseStream-Timestamp header
// (ParseSignatureTimestamp) against now: at most MaxSignatureSkew old and
// MaxSignatureFutureSkew ahead. It returns EUNAUTHORIZED with a reason; it
// needs no body, so a server can refuse before reading one.
func CheckSignatureTimestamp(tsHeader string, now time.Time) error {
	ts, err := ParseSignatureTimestamp(tsHeader)
	if err != nil {
		return err
	}
	switch d := now.Sub(time.Unix(ts, 0)); {
	case d > MaxSignatureSkew:
		return Errorf(EUNAUTHORIZED, "the request timestamp is more than 5 minutes old (sign each request when it is sent)")
	case d < -MaxSignatureFutureSkew:
		return Errorf(EUNAUTHORIZED, "the request timestamp is more than 30 seconds ahead of the server's clock")
	}
	return nil
}

// VerifySignature checks an X-PulseStream-Signature header ("v1=<hex>",
// several comma-separated signatures allowed while secrets rotate) against
// any of secrets, in constant time per comparison, and the timestamp
// (ParseSignatureTimestamp) against now: at most MaxSignatureSkew old and
// MaxSignatureFutureSkew ahead. It returns EUNAUTHORIZED with a reason.
// Replays within the window are the caller's to refuse (ReplayGuard).
func VerifySignature(secrets []string, tsHeader, sigHeader string, body []byte, now time.Time) error {
	tsText := tsHeader
	if err := CheckSignatureTimestamp(tsText, now); err != nil {
		return err
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
