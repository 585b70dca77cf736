package pulse

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Scope is a right an API key carries.
type Scope string

const (
	ScopeIngest Scope = "ingest"
	ScopeRead   Scope = "read"
	ScopeAdmin  Scope = "admin"
)

// AllScopes is the default set for a new key.
var AllScopes = []Scope{ScopeIngest, ScopeRead, ScopeAdmin}

// APIKey is a tenant's credential. The secret itself is never stored: only
// its SHA-256 hash and a short prefix to recognise it by.
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name,omitempty"`
	Prefix     string     `json:"prefix"`
	Hash       string     `json:"-"`
	Scopes     []Scope    `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Has reports whether the key carries scope s.
func (k *APIKey) Has(s Scope) bool { return slices.Contains(k.Scopes, s) }

// Active reports whether the key may be used at now.
func (k *APIKey) Active(now time.Time) bool {
	if k.RevokedAt != nil && !now.Before(*k.RevokedAt) {
		return false
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return false
	}
	return true
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// KeyPrefix starts every API key so that leaked keys are easy to scan for.
const KeyPrefix = "ps_"

// WellFormedSecret reports whether secret has the form of an API key:
// KeyPrefix, then 32 to 200 base62 characters. Anything else is refused
// without a look-up.
func WellFormedSecret(secret string) bool {
	rest, ok := strings.CutPrefix(secret, KeyPrefix)
	if !ok || len(rest) < 32 || len(rest) > 200 {
		return false
	}
	for i := range len(rest) {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// GenerateSecret returns prefix followed by n random base62 characters.
func GenerateSecret(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	max := big.NewInt(int64(len(base62)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(base62[i.Int64()])
	}
	return b.String()
}

// HashSecret is how keys and tokens are stored and looked up.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewAPIKey creates a key for tenantID and returns it with its secret, which
// the caller shows once and then forgets.
func NewAPIKey(id, tenantID, name string, scopes []Scope, expiresAt *time.Time, now time.Time) (*APIKey, string, error) {
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	var errs []FieldError
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			errs = append(errs, FieldError{Field: "scopes", Message: "unknown scope " + string(s) + " (use ingest, read, admin)", Reason: "scopes.invalid"})
		}
	}
	if len(name) > 128 {
		errs = append(errs, FieldError{Field: "name", Message: "must be at most 128 characters", Reason: "name.too_long"})
	}
	if expiresAt != nil && !expiresAt.After(now) {
		errs = append(errs, FieldError{Field: "expires_at", Message: "must be in the future", Reason: "expires_at.past"})
	}
	if len(errs) > 0 {
		return nil, "", Invalid(errs...)
	}
	secret := GenerateSecret(KeyPrefix, 40)
	k := &APIKey{
		ID: id, TenantID: tenantID, Name: name,
		Prefix: secret[:len(KeyPrefix)+6], Hash: HashSecret(secret),
		Scopes: slices.Clone(scopes), CreatedAt: now.UTC().Truncate(time.Microsecond),
	}
	if expiresAt != nil {
		e := expiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &e
	}
	return k, secret, nil
}
