package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Who may call the tenant API, and the one permission check.
//
// A request is authenticated by an API key (Authorization / X-API-Key, see
// credential) or, when it carries none, by the session cookie
// (people.SessionCookieName) together with the header TenantHeader naming
// the tenant the person acts in. Either way the handler finds the tenant
// (tenantFrom) and a pulse.Principal (pulse.PrincipalFrom) in the context,
// and permit decides:
//   - a person acts with their membership's role (an operator user as
//     owner of any tenant) and may do what pulse.Role.Can allows;
//   - an API key may do what its scopes allow (actionScope): ingest →
//     ActIngest, read → ActRead, admin → every managing action (rules,
//     silences, acknowledgements, keys, signing secrets, audit log,
//     invitations of non-owners). Its Principal.Role is the closest role
//     (admin scope: admin, else read: viewer, else none) for display only.
//
// Requests authenticated by the cookie that change state must come from
// the server's own origin (http.CrossOriginProtection: Sec-Fetch-Site,
// else Origin against Host); API-key requests are not checked (a browser
// does not add an API key by itself).

// TenantHeader names the tenant a signed-in person acts in.
const TenantHeader = "X-PulseStream-Tenant"

// actionScope is the API-key scope each action needs.
var actionScope = map[pulse.Action]pulse.Scope{
	pulse.ActRead:          pulse.ScopeRead,
	pulse.ActIngest:        pulse.ScopeIngest,
	pulse.ActAcknowledge:   pulse.ScopeAdmin,
	pulse.ActSilence:       pulse.ScopeAdmin,
	pulse.ActManageRules:   pulse.ScopeAdmin,
	pulse.ActManageKeys:    pulse.ScopeAdmin,
	pulse.ActDeleteKeys:    pulse.ScopeAdmin,
	pulse.ActManageMembers: pulse.ScopeAdmin,
	pulse.ActReadAudit:     pulse.ScopeAdmin,
	// ActManageOwners: no scope; a key never grants the owner role.
}

// keyRole is the role closest to what a key's scopes allow (display and
// the people service's checks, which need a role).
func keyRole(k *pulse.APIKey) pulse.Role {
	switch {
	case k.Has(pulse.ScopeAdmin):
		return pulse.RoleAdmin
	case k.Has(pulse.ScopeRead):
		return pulse.RoleViewer
	}
	return ""
}

// permit is the one permission check of the tenant API: k is the request's
// API key, nil for a person.
func permit(p pulse.Principal, k *pulse.APIKey, a pulse.Action) error {
	if k != nil {
		scope, ok := actionScope[a]
		if !ok {
			return pulse.Errorf(pulse.EFORBIDDEN, "an API key may not do this; sign in as an owner")
		}
		if !k.Has(scope) {
			return pulse.Errorf(pulse.EFORBIDDEN, "this API key lacks the %q scope", scope)
		}
		return nil
	}
	if !p.Role.Can(a) {
		return pulse.Errorf(pulse.EFORBIDDEN, "your role (%s) may not %s in this tenant", orNone(string(p.Role)), strings.ReplaceAll(string(a), "_", " "))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

type sessionCtx struct {
	user    *pulse.User
	session *pulse.Session
	id      string // the cookie's value; never logged
}

const ctxSession ctxKey = 100

func sessionFrom(ctx context.Context) *sessionCtx {
	s, _ := ctx.Value(ctxSession).(*sessionCtx)
	return s
}

// require authenticates the request (API key, else session cookie and
// TenantHeader) and lets it through when permit allows a.
func (s *Server) require(a pulse.Action, h http.HandlerFunc) http.HandlerFunc {
	byKey := s.requireKey(a, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Auth != nil && credential(r) == "" {
			if c, err := r.Cookie(people.SessionCookieName); err == nil && c.Value != "" {
				s.requireSession(func(w http.ResponseWriter, r *http.Request) { s.actAsMember(a, h, w, r) })(w, r)
				return
			}
		}
		byKey(w, r)
	}
}

// actAsMember resolves the signed-in person's role in the tenant named by
// TenantHeader and runs h when permit allows a.
func (s *Server) actAsMember(a pulse.Action, h http.HandlerFunc, w http.ResponseWriter, r *http.Request) {
	sc := sessionFrom(r.Context())
	tid := strings.TrimSpace(r.Header.Get(TenantHeader))
	if tid == "" {
		s.writeError(w, r, pulse.Errorf(pulse.EBADREQUEST, "name the tenant to act in with the %s header", TenantHeader))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	p, err := s.Auth.Principal(ctx, sc.user, tid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.GetTenant(ctx, tid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if t.Disabled {
		s.writeError(w, r, pulse.Errorf(pulse.EFORBIDDEN, "this tenant is disabled"))
		return
	}
	if err := permit(p, nil, a); err != nil {
		s.writeError(w, r, err)
		return
	}
	rctx := pulse.WithPrincipal(context.WithValue(r.Context(), ctxTenant, t), p)
	h(w, r.WithContext(rctx))
}

// requireSession authenticates the session cookie, refuses a
// state-changing request from another origin, and puts the user and
// session in the context. An ended session clears the cookie.
func (s *Server) requireSession(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Auth == nil {
			s.writeError(w, r, errNoSignIn)
			return
		}
		if err := s.sameOrigin(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		c, err := r.Cookie(people.SessionCookieName)
		if err != nil || c.Value == "" {
			s.writeError(w, r, pulse.Errorf(pulse.EUNAUTHORIZED, "sign in first (POST /api/v1/session)"))
			return
		}
		ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
		u, sess, err := s.Auth.Authenticate(ctx, c.Value)
		cancel()
		if err != nil {
			if pulse.ErrorCode(err) == pulse.EUNAUTHORIZED {
				http.SetCookie(w, people.ExpiredSessionCookie(s.secure(r)))
			}
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxSession, &sessionCtx{user: u, session: sess, id: c.Value})))
	}
}

var errNoSignIn = pulse.Errorf(pulse.EUNAVAILABLE, "signing in is not available on this server")

// sameOrigin refuses a state-changing browser request from another origin
// (http.CrossOriginProtection).
func (s *Server) sameOrigin(r *http.Request) error {
	if err := s.csrf.Check(r); err != nil {
		return pulse.Errorf(pulse.EFORBIDDEN, "cross-origin request refused: a state-changing request with the session cookie must come from this server's own pages")
	}
	return nil
}

// secure reports whether cookies set on r's answer must be Secure: the
// server speaks TLS, or a trusted proxy says the client used HTTPS.
func (s *Server) secure(r *http.Request) bool {
	if s.SecureCookies || r.TLS != nil {
		return true
	}
	peer := remoteAddr(r.RemoteAddr)
	return peer.IsValid() && s.trusted(peer) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// baseURL is how the client reached this server (for invitation links).
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// actor describes the request's principal to the people service.
func (s *Server) actor(r *http.Request) people.Actor {
	a := people.Actor{Name: pulse.ActorAdmin, SourceIP: s.clientIP(r), RequestID: requestID(r.Context())}
	if p, ok := pulse.PrincipalFrom(r.Context()); ok {
		a.Role, a.UserID = p.Role, p.UserID
		switch {
		case p.UserID != "":
			a.Name = people.UserActor(p.UserID)
		case p.APIKeyID != "":
			a.Name = pulse.KeyActor(p.APIKeyID)
		}
	} else if sc := sessionFrom(r.Context()); sc != nil {
		a.Name, a.UserID = people.UserActor(sc.user.ID), sc.user.ID
	}
	return a
}
