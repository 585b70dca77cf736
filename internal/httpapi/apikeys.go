package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Tenant-side key management (scope admin) and rotation, for the tenant
// API and the admin API.

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	s.listKeysOf(w, r, tenantFrom(r.Context()).ID)
}

// listKeysOf lists a tenant's keys; the admin and tenant routes share it.
func (s *Server) listKeysOf(w http.ResponseWriter, r *http.Request, tenantID string) {
	ks, err := s.store.ListAPIKeys(r.Context(), tenantID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ks == nil {
		ks = []*pulse.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": ks})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	s.createKeyFor(w, r, tenantFrom(r.Context()))
}

// createKeyFor creates a key for t from the request body; the admin and
// tenant routes share it.
func (s *Server) createKeyFor(w http.ResponseWriter, r *http.Request, t *pulse.Tenant) {
	var in createKeyRequest
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	expires, err := in.expiry()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, secret, err := pulse.NewAPIKey(pulse.NewID(), t.ID, in.Name, in.Scopes, expires, s.clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, t.ID, "api_key.create", "api_key/"+k.ID, nil, k)
	writeJSON(w, http.StatusCreated, map[string]any{"api_key": k, "key": secret})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	s.revokeKeyOf(w, r, tenantFrom(r.Context()).ID, r.PathValue("id"))
}

// revokeKeyOf revokes the tenant's key now; the admin and tenant routes share it.
func (s *Server) revokeKeyOf(w http.ResponseWriter, r *http.Request, tenantID, keyID string) {
	before, err := pulse.FindAPIKey(r.Context(), s.store, tenantID, keyID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.RevokeAPIKey(r.Context(), tenantID, keyID, s.clock.Now()); pulse.IsNotFound(err) {
		s.writeError(w, r, pulse.Errorf(pulse.ENOTFOUND, "API key not found"))
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	after, err := pulse.FindAPIKey(r.Context(), s.store, tenantID, keyID)
	if err != nil {
		after = nil // the revocation stands; the summary is only less complete
	}
	s.audit(r, tenantID, "api_key.revoke", "api_key/"+keyID, before, after)
	s.changed(tenantID)
	w.WriteHeader(http.StatusNoContent)
}

type rotateKeyRequest struct {
	// GracePeriodSeconds is how long the old key keeps working; nil means
	// the default (24 h), 0 means it stops at once.
	GracePeriodSeconds *int64 `json:"grace_period_seconds"`
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	s.rotateKeyOf(w, r, tenantFrom(r.Context()).ID, r.PathValue("id"))
}

func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) {
	t, err := s.tenantParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.rotateKeyOf(w, r, t.ID, r.PathValue("key_id"))
}

// rotateKeyOf answers 201 {"api_key", "key", "previous"}: the new key (its
// secret shown once) and the old one with its revoked_at = now + grace.
func (s *Server) rotateKeyOf(w http.ResponseWriter, r *http.Request, tenantID, keyID string) {
	in := rotateKeyRequest{}
	if r.ContentLength != 0 {
		if err := s.decodeJSON(r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	grace := pulse.DefaultRotationGrace
	if in.GracePeriodSeconds != nil {
		if *in.GracePeriodSeconds < 0 || *in.GracePeriodSeconds > int64(pulse.MaxRotationGrace/time.Second) {
			s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "grace_period_seconds", Message: "must be between 0 and 2592000 (30 days)", Reason: "grace_period_seconds.invalid"}))
			return
		}
		grace = time.Duration(*in.GracePeriodSeconds) * time.Second
	}
	before, _ := pulse.FindAPIKey(r.Context(), s.store, tenantID, keyID)
	old, next, secret, err := pulse.RotateKey(r.Context(), s.store, tenantID, keyID, grace, s.clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, tenantID, "api_key.rotate", "api_key/"+keyID, before, map[string]any{"previous": old, "api_key": next})
	s.changed(tenantID)
	writeJSON(w, http.StatusCreated, map[string]any{"api_key": next, "key": secret, "previous": old})
}

// KeyUsage keeps API keys' last_used_at without touching the database on
// the request path: Touch notes a use in memory (at most once a minute per
// key) and Flush, called periodically by the app from a goroutine it owns,
// writes the notes in batches.
type KeyUsage struct {
	store pulse.KeyLifecycleStore
	clock pulse.Clock

	mu      sync.Mutex
	noted   map[string]time.Time // key id → last use noted
	pending map[string]pulse.KeyUse
}

// KeyUsageResolution is the finest last_used_at granularity kept.
const KeyUsageResolution = time.Minute

// NewKeyUsage returns a tracker writing to store.
func NewKeyUsage(store pulse.KeyLifecycleStore, clock pulse.Clock) *KeyUsage {
	return &KeyUsage{store: store, clock: clock, noted: map[string]time.Time{}, pending: map[string]pulse.KeyUse{}}
}

// Touch notes that k was used at.
func (u *KeyUsage) Touch(k *pulse.APIKey, at time.Time) {
	if k.LastUsedAt != nil && at.Sub(*k.LastUsedAt) < KeyUsageResolution {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.noted[k.ID]; ok && at.Sub(last) < KeyUsageResolution {
		return
	}
	u.noted[k.ID] = at
	u.pending[k.ID] = pulse.KeyUse{TenantID: k.TenantID, KeyID: k.ID, At: at}
}

// Flush writes the pending uses; on failure they are kept for the next try.
func (u *KeyUsage) Flush(ctx context.Context) error {
	now := u.clock.Now()
	u.mu.Lock()
	batch := make([]pulse.KeyUse, 0, len(u.pending))
	for _, use := range u.pending {
		batch = append(batch, use)
	}
	clear(u.pending)
	for id, at := range u.noted { // forget what can no longer suppress a note
		if now.Sub(at) >= KeyUsageResolution {
			delete(u.noted, id)
		}
	}
	u.mu.Unlock()
	if err := u.store.TouchAPIKeys(ctx, batch); err != nil {
		u.mu.Lock()
		for _, use := range batch {
			if _, newer := u.pending[use.KeyID]; !newer {
				u.pending[use.KeyID] = use
			}
		}
		u.mu.Unlock()
		return err
	}
	return nil
}
