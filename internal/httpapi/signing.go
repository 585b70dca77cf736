package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Request signing: a tenant's signing secrets (created here, shown once,
// stored sealed by the secret box) and the check on ingest routes.

const (
	headerSignature = "X-PulseStream-Signature"
	headerTimestamp = "X-PulseStream-Timestamp"
)

type createSigningSecretRequest struct {
	Name string `json:"name"`
}

// sealAD binds a sealed secret to its tenant and id.
func sealAD(tenantID, id string) []byte { return []byte("signing_secret/" + tenantID + "/" + id) }

func (s *Server) createSigningSecret(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r.Context())
	var in createSigningSecretRequest
	if r.ContentLength != 0 {
		if err := s.decodeJSON(r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if len(in.Name) > 128 {
		s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "name", Message: "must be at most 128 characters", Reason: "name.too_long"}))
		return
	}
	if s.SecretBox == nil {
		s.writeError(w, r, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "signing secrets need PULSESTREAM_SECRET_KEY on the server"})
		return
	}
	secret := pulse.GenerateSecret(pulse.SigningSecretPrefix, 40)
	sec := &pulse.SigningSecret{
		ID: pulse.NewID(), TenantID: t.ID, Name: in.Name, Prefix: secret[:len(pulse.SigningSecretPrefix)+6],
		CreatedAt: s.clock.Now().UTC().Truncate(time.Microsecond),
	}
	sec.Sealed = s.SecretBox.Seal([]byte(secret), sealAD(t.ID, sec.ID))
	if err := s.store.CreateSigningSecret(r.Context(), sec); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.signing.forget(t.ID)
	s.audit(r, t.ID, "signing_secret.create", "signing_secret/"+sec.ID, nil, sec)
	writeJSON(w, http.StatusCreated, map[string]any{"signing_secret": sec, "secret": secret})
}

func (s *Server) listSigningSecrets(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListSigningSecrets(r.Context(), tenantFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []*pulse.SigningSecret{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"signing_secrets": list})
}

func (s *Server) deleteSigningSecret(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r.Context())
	id := r.PathValue("id")
	notFound := pulse.Errorf(pulse.ENOTFOUND, "signing secret not found")
	if !pulse.ValidID(id) {
		s.writeError(w, r, notFound)
		return
	}
	if err := s.store.RevokeSigningSecret(r.Context(), t.ID, id, s.clock.Now()); pulse.IsNotFound(err) {
		s.writeError(w, r, notFound)
		return
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.signing.forget(t.ID)
	s.audit(r, t.ID, "signing_secret.revoke", "signing_secret/"+id, map[string]string{"id": id}, nil)
	w.WriteHeader(http.StatusNoContent)
}

// verifySigned checks the request signature when the tenant requires one
// or the client sent one: a missing, malformed, stale (> 5 min), future
// (> 30 s) or wrong signature is 401 and counts as a failed authentication
// of the client IP. A valid signed request already accepted within the
// window is a replay: 409 with reason signature.replayed (not an
// authentication failure: the sender had the secret once). A request
// answered 429 or 5xx left no effect, so it is forgotten and may be sent
// again unchanged. The raw body is read here (up to MaxBodyBytes) and
// handed on unchanged.
func (s *Server) verifySigned(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t := tenantFrom(r.Context())
		sig, ts := r.Header.Get(headerSignature), r.Header.Get(headerTimestamp)
		if sig == "" && ts == "" && !t.RequireSignedRequests {
			h(w, r)
			return
		}
		if sig == "" || ts == "" {
			s.authFailed(w, r, pulse.Errorf(pulse.EUNAUTHORIZED, "this tenant requires signed requests (%s and %s)", headerTimestamp, headerSignature))
			return
		}
		// Everything that needs no body is checked before the body is
		// read; the raw body is charged to the decode budget like any
		// other (the handler's decompressed read charges only the rest).
		sctx, cancel := contextWithTimeout(r, s.RequestTimeout)
		secrets, err := s.signing.secrets(sctx, s, t.ID)
		cancel()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(secrets) == 0 {
			s.authFailed(w, r, pulse.Errorf(pulse.EUNAUTHORIZED, "the tenant has no active signing secret"))
			return
		}
		now := s.clock.Now()
		if err := pulse.CheckSignatureTimestamp(ts, now); err != nil {
			s.authFailed(w, r, err)
			return
		}
		l, release := s.bodyLease(r)
		defer release()
		raw, err := readCharged(r.Body, s.MaxBodyBytes, l)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		l.prepay(len(raw))
		r = r.WithContext(context.WithValue(r.Context(), ctxLeaseKey{}, l))
		if err := pulse.VerifySignature(secrets, ts, sig, raw, now); err != nil {
			s.authFailed(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		if s.Replay == nil {
			h(w, r)
			return
		}
		unix, _ := pulse.ParseSignatureTimestamp(ts) // verified above
		key := pulse.SignedRequestKey(ts, raw)
		// Remembered for as long as the timestamp is accepted, and a second,
		// plus the future skew: a node whose clock is behind still accepts
		// the timestamp after this node's window has passed.
		ttl := time.Unix(unix, 0).Add(pulse.MaxSignatureSkew + pulse.MaxSignatureFutureSkew + time.Second).Sub(now)
		first, err := s.Replay.FirstSeen(r.Context(), t.ID, key, ttl)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !first {
			s.writeError(w, r, &pulse.Error{Code: pulse.ECONFLICT,
				Message: "this signed request was already received: sign each request with its own timestamp (and set external_id to retry events safely)",
				Fields:  []pulse.FieldError{{Field: headerSignature, Message: "was already used", Reason: "signature.replayed"}}})
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		// Forgotten only after a refusal that kept nothing, so the same
		// request may be sent again; an outcome_unknown answer may have
		// stored it, and a 500 is a bug of unknown effect.
		if refusedKeepingNothing(sw) {
			if err := s.Replay.Forget(context.WithoutCancel(r.Context()), t.ID, key); err != nil {
				s.logger.WarnContext(r.Context(), "signed request not forgotten after a refusal", "err", err, "request_id", requestID(r.Context()))
			}
		}
	}
}

// signingCache keeps each tenant's opened, active signing secrets for the
// key cache's TTL, so a signed request costs no database round trip and a
// revocation on any node holds everywhere within that TTL.
type signingCache struct {
	mu      sync.Mutex
	entries map[string]signingEntry
}

type signingEntry struct {
	secrets []string
	expires time.Time
}

func (c *signingCache) secrets(ctx context.Context, s *Server, tenantID string) ([]string, error) {
	now := s.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[tenantID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.secrets, nil
	}
	list, err := s.store.ListSigningSecrets(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	e = signingEntry{expires: now.Add(s.keys.ttl)}
	for _, sec := range list {
		if sec.RevokedAt != nil && !now.Before(*sec.RevokedAt) {
			continue
		}
		if s.SecretBox == nil {
			break
		}
		plain, err := s.SecretBox.Open(sec.Sealed, sealAD(tenantID, sec.ID))
		if err != nil {
			// Sealed under another PULSESTREAM_SECRET_KEY: unusable, and the
			// operator must know.
			s.logger.ErrorContext(ctx, "signing secret cannot be opened (wrong PULSESTREAM_SECRET_KEY?)", "tenant_id", tenantID, "secret_id", sec.ID)
			continue
		}
		e.secrets = append(e.secrets, string(plain))
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]signingEntry{}
	}
	if len(c.entries) >= maxKeyCacheEntries {
		clear(c.entries)
	}
	c.entries[tenantID] = e
	c.mu.Unlock()
	return e.secrets, nil
}

func (c *signingCache) forget(tenantID string) {
	c.mu.Lock()
	delete(c.entries, tenantID)
	c.mu.Unlock()
}

func refusedKeepingNothing(sw *statusWriter) bool {
	switch sw.status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInsufficientStorage:
		return !sw.mayBeKept
	}
	return false
}
