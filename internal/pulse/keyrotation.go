package pulse

import (
	"context"
	"fmt"
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
	// revokeAt, in one transaction, and returns
	// the old key as stored afterwards. ErrNotFound when the old key is not
	// the tenant's; ECONFLICT when it is already revoked at next.CreatedAt
	// or has a revocation scheduled (it was rotated: one successor only).
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
//
// A key in its grace period (rotated already, or with a revocation
// scheduled) is not rotated again: that would leave two successors, one of
// them forgotten. ECONFLICT names the successor (Error.ID) so the caller
// rotates that one instead.
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
	if old.RevokedAt != nil {
		return nil, nil, "", rotatedConflict(ctx, s, old)
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

// rotatedConflict is the ECONFLICT for rotating old, which already has a
// revocation scheduled: it names old's successor, the key of the same
// name, tenant and scopes created first after old and still in use (the
// store keeps no link, and a rotation creates exactly that key).
func rotatedConflict(ctx context.Context, s KeyStore, old *APIKey) error {
	at := old.RevokedAt.UTC().Format(time.RFC3339)
	ks, err := s.ListAPIKeys(ctx, old.TenantID)
	if err != nil {
		return err
	}
	var next *APIKey
	for _, k := range ks {
		if k.ID != old.ID && k.Name == old.Name && slices.Equal(k.Scopes, old.Scopes) &&
			!k.CreatedAt.Before(old.CreatedAt) && !k.CreatedAt.After(*old.RevokedAt) &&
			(next == nil || k.CreatedAt.Before(next.CreatedAt)) {
			next = k
		}
	}
	if next == nil {
		return Errorf(ECONFLICT, "the API key is already scheduled to stop working at %s; rotate a key once", at)
	}
	return &Error{Code: ECONFLICT, ID: next.ID, Message: fmt.Sprintf(
		"the API key was already rotated: its successor is %s and the key stops working at %s; rotate %s instead", next.ID, at, next.ID)}
}
