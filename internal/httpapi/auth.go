package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

type ctxKey int

const (
	ctxTenant ctxKey = iota
	ctxAPIKey
	ctxRequestID
	ctxNote // *requestNote, see observe
)

// tenantFrom returns the authenticated tenant; handlers behind requireKey
// can rely on it being set.
func tenantFrom(ctx context.Context) *pulse.Tenant {
	t, _ := ctx.Value(ctxTenant).(*pulse.Tenant)
	return t
}

func apiKeyFrom(ctx context.Context) *pulse.APIKey {
	k, _ := ctx.Value(ctxAPIKey).(*pulse.APIKey)
	return k
}

type keyStore interface {
	pulse.KeyStore
	pulse.TenantStore
}

// KeyCache resolves API keys to (key, tenant) without a database round trip
// on every request. An entry lives ttl (≤ 5 s), so a revocation, expiry or
// tenant change made on any node takes effect everywhere within ttl.
type KeyCache struct {
	store keyStore
	clock pulse.Clock
	ttl   time.Duration

	// staleFor (log mode, see ServeStale) lets an entry outlive its ttl
	// by this much while the database cannot answer.
	staleFor time.Duration

	mu      sync.Mutex
	entries map[string]keyEntry
}

type keyEntry struct {
	key     *pulse.APIKey
	tenant  *pulse.Tenant
	expires time.Time
	fetched time.Time
}

// staleLookupTimeout bounds the look-up of a key that has a stale entry to
// fall back on, so that an unreachable database costs little latency.
const staleLookupTimeout = 500 * time.Millisecond

// ServeStale makes the cache answer from an expired entry, up to d after
// it was read, when the database fails to answer (log mode: ingestion goes
// on while PostgreSQL is down). A key revoked during that time stays
// usable on this node until the database answers again. Call before use.
func (c *KeyCache) ServeStale(d time.Duration) { c.staleFor = d }

const maxKeyCacheEntries = 100_000

// NewKeyCache returns a cache over store.
func NewKeyCache(store keyStore, clock pulse.Clock, ttl time.Duration) *KeyCache {
	return &KeyCache{store: store, clock: clock, ttl: ttl, entries: map[string]keyEntry{}}
}

// Authenticate returns the key and tenant for secret, or EUNAUTHORIZED for
// an unknown, revoked, expired or malformed key. A secret that cannot be a
// key (see pulse.WellFormedSecret) costs no look-up.
func (c *KeyCache) Authenticate(ctx context.Context, secret string) (*pulse.APIKey, *pulse.Tenant, error) {
	if !pulse.WellFormedSecret(secret) {
		return nil, nil, errUnauthorized
	}
	now := c.clock.Now()
	hash := pulse.HashSecret(secret)
	c.mu.Lock()
	e, ok := c.entries[hash]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		stale := ok && c.staleFor > 0 && now.Before(e.fetched.Add(c.ttl+c.staleFor))
		k, t, err := c.lookup(ctx, hash, stale)
		switch {
		case pulse.IsNotFound(err):
			return nil, nil, errUnauthorized
		case err != nil && stale && pulse.ErrorCode(err) == pulse.EUNAVAILABLE:
			// Serve the stale entry; ask the database again after ttl.
			e.expires = now.Add(c.ttl)
		case err != nil:
			return nil, nil, err
		default:
			e = keyEntry{key: k, tenant: t, expires: now.Add(c.ttl), fetched: now}
		}
		c.mu.Lock()
		if len(c.entries) >= maxKeyCacheEntries {
			for h, old := range c.entries {
				if !now.Before(old.expires) {
					delete(c.entries, h)
				}
			}
		}
		if len(c.entries) < maxKeyCacheEntries {
			c.entries[hash] = e
		}
		c.mu.Unlock()
	}
	if !e.key.Active(now) {
		return nil, nil, errUnauthorized
	}
	return e.key, e.tenant, nil
}

// lookup reads a key and its tenant; with a stale entry to fall back on,
// within staleLookupTimeout.
func (c *KeyCache) lookup(ctx context.Context, hash string, stale bool) (*pulse.APIKey, *pulse.Tenant, error) {
	if stale {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, staleLookupTimeout)
		defer cancel()
	}
	k, err := c.store.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.store.GetTenant(ctx, k.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return k, t, nil
}

// Forget drops every cached entry of a tenant (after a change on this node).
func (c *KeyCache) Forget(tenantID string) {
	c.mu.Lock()
	for h, e := range c.entries {
		if e.tenant.ID == tenantID {
			delete(c.entries, h)
		}
	}
	c.mu.Unlock()
}

var errUnauthorized = pulse.Errorf(pulse.EUNAUTHORIZED, "a valid API key is required (Authorization: Bearer ps_... or X-API-Key)")

// credential returns the API key from Authorization or X-API-Key. Log
// shippers speak Elasticsearch's schemes, so besides Bearer the key is
// taken as `ApiKey <key>` (or Elasticsearch's `ApiKey base64(id:key)`,
// any id) and as the password of Basic auth (any user name). The admin
// token is never read from here: requireToken takes Bearer only.
func credential(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return strings.TrimSpace(r.Header.Get("X-API-Key"))
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return bearer(r)
	case "apikey":
		if pulse.WellFormedSecret(rest) {
			return rest
		}
		dec, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		if _, key, ok := strings.Cut(string(dec), ":"); ok {
			return key
		}
		return string(dec)
	case "basic":
		_, password, _ := r.BasicAuth()
		return password
	}
	return ""
}

// bearer returns the token of Authorization: Bearer (the only place the
// admin token is accepted).
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireKey authenticates the request with an API key that belongs to an
// enabled tenant and may do a (permit), and puts key, tenant and
// principal in the context. (require also accepts a session.)
//
// A valid key is always honoured, even from an address whose failed
// authentications are used up: the failed-authentication limit slows
// guessing, it must not lock out the other clients behind the same NAT or
// proxy. Keys carry ~238 bits, so the guesses a blocked address can still
// try at the server's throughput gain it nothing.
//
// The key's look-up runs under --request-timeout: with the database
// unreachable, a key whose cache entry expired is answered 503 in time
// instead of hanging. (Handlers start their own deadline once the body is
// read, so a slow upload does not eat the time of the database work.)
func (s *Server) requireKey(a pulse.Action, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actx, cancel := contextWithTimeout(r, s.RequestTimeout)
		k, t, err := s.keys.Authenticate(actx, credential(r))
		cancel()
		if err != nil {
			if pulse.ErrorCode(err) == pulse.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="pulsestream"`)
				s.authFailed(w, r, err)
				return
			}
			s.writeError(w, r, err)
			return
		}
		noteFrom(r.Context()).tenantID = t.ID
		if s.KeyUsage != nil {
			s.KeyUsage.Touch(k, s.clock.Now())
		}
		if t.Disabled {
			s.writeError(w, r, pulse.Errorf(pulse.EFORBIDDEN, "this tenant is disabled"))
			return
		}
		p := pulse.Principal{TenantID: t.ID, Role: keyRole(k), APIKeyID: k.ID}
		if err := permit(p, k, a); err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), ctxTenant, t), ctxAPIKey, k)
		h(w, r.WithContext(pulse.WithPrincipal(ctx, p)))
	}
}

// requireMetricsToken guards /metrics with --metrics-token when one is set.
func (s *Server) requireMetricsToken(h http.HandlerFunc) http.HandlerFunc {
	if s.MetricsTokenHash == "" {
		return h
	}
	return s.requireToken(s.MetricsTokenHash, "pulsestream-metrics", "the metrics token", h)
}

// requireAdmin checks the operator token. Like a key, the right token is
// honoured from any address; production refuses weak tokens at start
// (see config.Validate).
// A signed-in operator user may call them too (the console's operator
// pages): with the session cookie and no Authorization header, under the
// same cross-origin check as every session request.
func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	byToken := s.requireToken(s.adminHash, "pulsestream-admin", "the admin token", h)
	byOperator := s.requireSession(func(w http.ResponseWriter, r *http.Request) {
		u := sessionFrom(r.Context()).user
		if !u.Operator {
			s.writeError(w, r, pulse.Errorf(pulse.EFORBIDDEN, "only an operator may do this"))
			return
		}
		// The audit log names the person, not the token.
		h(w, r.WithContext(pulse.WithPrincipal(r.Context(), pulse.Principal{Role: pulse.RoleOwner, UserID: u.ID})))
	})
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Auth != nil && r.Header.Get("Authorization") == "" {
			if c, err := r.Cookie(people.SessionCookieName); err == nil && c.Value != "" {
				byOperator(w, r)
				return
			}
		}
		byToken(w, r)
	}
}

// requireToken accepts the token whose SHA-256 hex is hash, only in
// Authorization: Bearer, compared in constant time; a wrong or missing one
// is a failed authentication of the client IP.
func (s *Server) requireToken(hash, realm, what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := bearer(r)
		if secret == "" || subtle.ConstantTimeCompare([]byte(pulse.HashSecret(secret)), []byte(hash)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			s.authFailed(w, r, pulse.Errorf(pulse.EUNAUTHORIZED, "%s is required (Authorization: Bearer <token>)", what))
			return
		}
		h(w, r)
	}
}
