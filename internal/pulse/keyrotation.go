package pulse

import (
	"context"
	"slices"
	"time"
)

// DefaultRotationGrace is how long a rotated key keeps working by default.
const DefaultRotationGrace = 24 * time.Hour

// MaxRotationGrace bounds the grace period of a rotation.
const MaxRotationGrace = 30 * 24 * time.Hour

// KeyUse is one "this key was used at" note, flushed in batches.
type KeyUse struct {
	TenantID string
	KeyID    string
	At       time.Time
}

// KeyLifecycleStore holds what key rotation and usage tracking need.
type KeyLifecycleStore interface {
	// RotateAPIKey stores next and sets the old key's revoked_at to
	// revokeAt (keeping an earlier one), in one transaction, and returns
	// the old key as stored afterwards. ErrNotFound when the old key is not
	// the tenant's; ECONFLICT when it is already revoked at next.CreatedAt.
	RotateAPIKey(ctx context.Context, tenantID, oldID string, next *APIKey, revokeAt time.Time) (*APIKey, error)
	// TouchAPIKeys raises each key's last_used_at to At (never lowers it).
	TouchAPIKeys(ctx context.Context, uses []KeyUse) error
}

// FindAPIKey returns the tenant's key with id, or ENOTFOUND.
func FindAPIKey(ctx context.Context, s KeyStore, tenantID, id string) (*APIKey, error) {
	if !ValidID(id) {
		return nil, Errorf(ENOTFOUND, "API key not found")
	}
	ks, err := s.ListAPIKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(ks, func(k *APIKey) bool { return k.ID == id }); i >= 0 {
		return ks[i], nil
	}
	return nil, Errorf(ENOTFOUND, "API key not found")
}

// RotateKey replaces the tenant's key keyID with a new key of the same name,
// scopes and expiry. The old key keeps working for grace (0: it stops at
// once). It returns the old key (with its new revoked_at), the new key and
// the new key's secret, to be shown once. The admin API, the tenant API and
// the CLI all rotate through here.
func RotateKey(ctx context.Context, s interface {
	KeyStore
	KeyLifecycleStore
}, tenantID, keyID string, grace time.Duration, now time.Time) (old, next *APIKey, secret string, err error) {
	if grace < 0 || grace > MaxRotationGrace {
		return nil, nil, "", Invalid(FieldError{Field: "grace_period_seconds", Message: "must be between 0 and 2592000 (30 days)", Reason: "grace_period_seconds.invalid"})
	}
	old, err = FindAPIKey(ctx, s, tenantID, keyID)
	if err != nil {
		return nil, nil, "", err
	}
	if !old.Active(now) {
		return nil, nil, "", Errorf(ECONFLICT, "the API key is revoked or expired; create a new one instead")
	}
	next, secret, err = NewAPIKey(NewID(), tenantID, old.Name, old.Scopes, old.ExpiresAt, now)
	if err != nil {
		return nil, nil, "", err
	}
	old, err = s.RotateAPIKey(ctx, tenantID, keyID, next, next.CreatedAt.Add(grace))
	if err != nil {
		return nil, nil, "", err
	}
	return old, next, secret, nil
}
