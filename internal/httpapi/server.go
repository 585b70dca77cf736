package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulsestream/pulsestream/internal/apidocs"
	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
)

// Config wires the server's dependencies and limits.
type Config struct {
	Store pulse.Store
	// Ready, when set, is what /ready pings instead of the store: in log
	// mode a node takes events while the database is down, so a load
	// balancer must keep it as long as its ingest log answers.
	Ready          interface{ Ping(context.Context) error }
	Ingest         *ingest.Service
	Keys           *KeyCache
	AdminTokenHash string // SHA-256 hex of the operator token
	Clock          pulse.Clock
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Gatherer       prometheus.Gatherer
	MaxBodyBytes   int64
	MaxBatchEvents int
	RequestTimeout time.Duration
	Pprof          bool
	// OnTenantChange is called after a tenant or key changes on this node
	// (e.g. to drop caches); may be nil.
	OnTenantChange func(tenantID string)

	// AuthFailures counts failed authentications per client IP (nil: no
	// limit); AuthFailuresPerMinute is the allowance (default 20).
	AuthFailures          pulse.Limiter
	AuthFailuresPerMinute int
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MaxInFlight caps concurrent requests (503 beyond; 0: no cap).
	MaxInFlight int
	// BodyReadTimeout is how long a client has to send a request body
	// (408 beyond; 0: only the server's ReadTimeout).
	BodyReadTimeout time.Duration
	// MaxDecodeBytes is the node's memory budget for event bodies being
	// read and parsed, DecodeAmplification bytes per body byte (503
	// EOVERLOADED beyond; 0: no budget). One tenant may hold
	// DecodeTenantShare of it (0: DefaultDecodeTenantShare).
	MaxDecodeBytes    int64
	DecodeTenantShare float64
	// SecretBox seals signing secrets at rest (nil: they cannot be created).
	SecretBox *secretbox.Box
	// KeyUsage records keys' last use off the request path (may be nil).
	KeyUsage *KeyUsage
	// MetricsTokenHash is the SHA-256 hex of the token /metrics requires
	// (empty: /metrics is open).
	MetricsTokenHash string
	// Replay remembers accepted signed requests so that each is accepted
	// once (nil: replays within the signature window are not refused;
	// the app always sets one).
	Replay pulse.ReplayGuard
	// AlertLimits are the default alerting limits (zero:
	// pulse.DefaultAlertLimits); tenants override them.
	AlertLimits pulse.AlertLimits
	// RuleStatus reports what this node's evaluator holds for a rule (nil,
	// or ok false: the rule's GET has no status).
	RuleStatus func(ruleID string) (pulse.RuleStatus, bool)
	// Tail bounds the live tails (zero fields: the defaults).
	Tail TailConfig

	// People administers users and members (issue 14; nil: a service on
	// Store with the default password hasher).
	People *people.Service

	// Sign-in and sessions (issue 14). Auth signs people in (nil: only
	// API keys and the admin token work); SecureCookies marks cookies
	// Secure (set when the server speaks TLS; a request through a trusted
	// proxy with X-Forwarded-Proto: https gets them Secure too).
	Auth          *people.Auth
	SecureCookies bool

	// Backup (issue 17, GET /admin/v1/backup) returns a consistent copy of
	// the database, taken after the node's usage counters were flushed, as
	// an open file already unlinked (closed by the handler). nil: the
	// database is not SQLite.
	Backup func(ctx context.Context) (*os.File, error)
}

// Server serves the HTTP API.
type Server struct {
	Config
	store     pulse.Store
	ingest    *ingest.Service
	keys      *KeyCache
	adminHash string
	clock     pulse.Clock
	logger    *slog.Logger
	metrics   *httpMetrics
	mux       *http.ServeMux
	routeList []string
	signing   signingCache
	inFlight  chan struct{} // the --max-in-flight slots; nil: no cap
	decode    *decodeBudget // the --max-decode-bytes budget; nil: none
	probe     readyProbe    // one database ping at a time for /ready
	tails     *tails        // the open live tails
	people    *people.Service
	csrf      *http.CrossOriginProtection
}

var errPanic = errors.New("panic in handler")

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = pulse.SystemClock{}
	}
	if cfg.AlertLimits == (pulse.AlertLimits{}) {
		cfg.AlertLimits = pulse.DefaultAlertLimits()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.MaxBatchEvents == 0 {
		cfg.MaxBatchEvents = 1000
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	cfg.Tail = cfg.Tail.withDefaults()
	if cfg.AuthFailuresPerMinute == 0 {
		cfg.AuthFailuresPerMinute = DefaultAuthFailuresPerMinute
	}
	s := &Server{
		Config: cfg, store: cfg.Store, ingest: cfg.Ingest, keys: cfg.Keys, adminHash: cfg.AdminTokenHash,
		clock: cfg.Clock, logger: cfg.Logger, metrics: newHTTPMetrics(cfg.Registerer), mux: http.NewServeMux(),
		tails: newTails(),
		csrf:  http.NewCrossOriginProtection(),
	}
	s.people = cfg.People
	if s.people == nil {
		s.people = &people.Service{Store: cfg.Store, Clock: cfg.Clock, Logger: cfg.Logger,
			Hasher: password.NewHasher(password.DefaultParams, password.DefaultConcurrency), Box: cfg.SecretBox}
	}
	if cfg.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, cfg.MaxInFlight)
	}
	if cfg.MaxDecodeBytes > 0 {
		share := cfg.DecodeTenantShare
		if share <= 0 || share > 1 {
			share = DefaultDecodeTenantShare
		}
		s.decode = newDecodeBudget(cfg.MaxDecodeBytes, share, cfg.Registerer)
	}
	s.routes()
	return s
}

// Handler returns the root handler with all middleware.
func (s *Server) Handler() http.Handler {
	return s.observe(s.limitInFlight(s.bodyDeadline(s.notFound(s.mux))))
}

// API is the router of the API's routes without the outer middleware, for
// in-process calls (the console calls it with the person's own cookie).
func (s *Server) API() http.Handler { return s.mux }

// Mount serves h at patterns beside the API's routes (the console);
// Routes does not list them, as they are not part of the API.
func (s *Server) Mount(h http.Handler, patterns ...string) {
	for _, p := range patterns {
		s.mux.Handle(p, h)
	}
}

// Routes lists "METHOD /pattern" of every registered route, for the test
// that keeps the OpenAPI document complete.
func (s *Server) Routes() []string { return s.routeList }

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.routeList = append(s.routeList, pattern)
}

func (s *Server) routes() {
	// Operations.
	s.handle("GET /health", s.health)
	s.handle("GET /ready", s.ready)
	gatherer := s.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	metrics := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	s.handle("GET /metrics", s.requireMetricsToken(metrics.ServeHTTP))
	s.handle("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(apidocs.Spec())
	})
	docs := apidocs.Handler()
	s.handle("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", apidocs.CSP)
		w.Header().Set("Cache-Control", "no-cache")
		docs.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /docs/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", apidocs.CSP)
		w.Header().Set("Cache-Control", "no-cache")
		docs.ServeHTTP(w, r)
	})

	// Admin API (operator token).
	s.handle("POST /admin/v1/tenants", s.requireAdmin(s.adminCreateTenant))
	s.handle("GET /admin/v1/tenants", s.requireAdmin(s.adminListTenants))
	s.handle("GET /admin/v1/tenants/{id}", s.requireAdmin(s.adminGetTenant))
	s.handle("PATCH /admin/v1/tenants/{id}", s.requireAdmin(s.adminPatchTenant))
	s.handle("POST /admin/v1/tenants/{id}/api-keys", s.requireAdmin(s.adminCreateKey))
	s.handle("GET /admin/v1/tenants/{id}/api-keys", s.requireAdmin(s.adminListKeys))
	s.handle("DELETE /admin/v1/tenants/{id}/api-keys/{key_id}", s.requireAdmin(s.adminRevokeKey))
	s.handle("POST /admin/v1/tenants/{id}/api-keys/{key_id}/rotate", s.requireAdmin(s.adminRotateKey))
	s.handle("GET /admin/v1/audit-log", s.requireAdmin(s.adminListAuditLog))
	s.peopleRoutes()                                                // users and members (people.go)
	s.handle("GET /admin/v1/backup", s.requireAdmin(s.adminBackup)) // issue 17

	// Tenant API (API keys).
	s.handle("POST /api/v1/events", s.require(pulse.ActIngest, s.verifySigned(s.postEvent)))
	s.handle("POST /api/v1/events/batch", s.require(pulse.ActIngest, s.verifySigned(s.postBatch)))
	// OTLP/HTTP logs, at the path exporters append to the base URL.
	s.handle("POST /v1/logs", s.require(pulse.ActIngest, s.verifySigned(s.postOTLPLogs)))
	s.esRoutes()
	s.handle("GET /api/v1/events", s.require(pulse.ActRead, s.searchEvents))
	s.handle("GET /api/v1/events/{id}", s.require(pulse.ActRead, s.getEvent))
	// Counts over time and the live tail (issue 14).
	s.handle("GET /api/v1/events/histogram", s.require(pulse.ActRead, s.eventHistogram))
	s.handle("GET /api/v1/events/tail", s.require(pulse.ActRead, s.tailEvents))
	s.handle("GET /api/v1/usage", s.require(pulse.ActRead, s.getUsage))
	s.alertRoutes()
	s.handle("GET /api/v1/api-keys", s.require(pulse.ActManageKeys, s.listKeys))
	s.handle("POST /api/v1/api-keys", s.require(pulse.ActManageKeys, s.createKey))
	s.handle("DELETE /api/v1/api-keys/{id}", s.require(pulse.ActDeleteKeys, s.revokeKey))
	s.handle("POST /api/v1/api-keys/{id}/rotate", s.require(pulse.ActManageKeys, s.rotateKey))
	s.handle("GET /api/v1/signing-secrets", s.require(pulse.ActManageKeys, s.listSigningSecrets))
	s.handle("POST /api/v1/signing-secrets", s.require(pulse.ActManageKeys, s.createSigningSecret))
	s.handle("DELETE /api/v1/signing-secrets/{id}", s.require(pulse.ActManageKeys, s.deleteSigningSecret))
	s.handle("GET /api/v1/audit-log", s.require(pulse.ActReadAudit, s.listAuditLog))
	// Data-subject requests (datasubject.go): owners, and keys with the admin scope.
	s.handle("GET /api/v1/users/{user_id}/events/export", s.require(pulse.ActDataSubject, s.exportUserEvents))
	s.handle("DELETE /api/v1/users/{user_id}/events", s.require(pulse.ActDataSubject, s.eraseUserEvents))
	// The tenant's members (issue 14; people.go): see who is in the tenant,
	// change a role, remove.
	s.handle("GET /api/v1/members", s.require(pulse.ActRead, s.listMembers))
	s.handle("PUT /api/v1/members/{user_id}", s.require(pulse.ActManageMembers, s.putMember))
	s.handle("DELETE /api/v1/members/{user_id}", s.require(pulse.ActManageMembers, s.deleteMember))

	// Sign-in, sessions, TOTP, invitations, first-run setup (issue 14; signin.go).
	s.sessionRoutes()

	if s.Pprof {
		s.mux.HandleFunc("GET /debug/pprof/", s.requireAdmin(pprof.Index))
		s.mux.HandleFunc("GET /debug/pprof/profile", s.requireAdmin(pprof.Profile))
		s.mux.HandleFunc("GET /debug/pprof/trace", s.requireAdmin(pprof.Trace))
		s.mux.HandleFunc("GET /debug/pprof/symbol", s.requireAdmin(pprof.Symbol))
	}

}

// notFound answers unmatched requests with problem+json 404 or 405 (keeping
// the mux's Allow header) instead of the mux's plain text.
func (s *Server) notFound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		probe := &discardWriter{header: http.Header{}}
		next.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" && probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, pulse.Errorf(pulse.EMETHOD, "%s is not allowed here; allowed: %s", r.Method, allow))
			return
		}
		if probe.status >= 300 && probe.status < 400 { // the mux's redirect to a cleaned path
			for k, v := range probe.header {
				w.Header()[k] = v
			}
			w.WriteHeader(probe.status)
			return
		}
		s.writeError(w, r, pulse.Errorf(pulse.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path))
	})
}

type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, 2*time.Second)
	defer cancel()
	var target interface{ Ping(context.Context) error } = s.store
	if s.Ready != nil {
		target = s.Ready
	}
	if err := s.probe.ping(ctx, target); err != nil {
		s.writeError(w, r, pulse.Unavailable(err, time.Second))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readyProbe lets concurrent /ready requests share one database ping:
// /ready is exempt from --max-in-flight (a load balancer must always get
// an answer), so a flood of it must not take the pool's connections from
// the tenants. At most one ping runs at a time; the others wait for its
// result (or their own deadline).
type readyProbe struct {
	mu      sync.Mutex
	running *readyCall
}

type readyCall struct {
	done chan struct{}
	err  error
}

func (p *readyProbe) ping(ctx context.Context, store interface{ Ping(context.Context) error }) error {
	p.mu.Lock()
	c := p.running
	if c == nil {
		c = &readyCall{done: make(chan struct{})}
		p.running = c
		p.mu.Unlock()
		// The ping is not the caller's alone: it ends at its own deadline,
		// not when the first caller goes away.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		c.err = store.Ping(pctx)
		cancel()
		p.mu.Lock()
		p.running = nil
		p.mu.Unlock()
		close(c.done)
		return c.err
	}
	p.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
