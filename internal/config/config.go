// Package config holds the server's configuration as a value: defaults,
// loading from flags and PULSESTREAM_* environment variables, validation.
// There are no globals; main builds one Config and passes it down.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
)

// Config is everything `pulsestream serve` can be told.
type Config struct {
	Addr        string
	DatabaseURL string
	RedisURL    string
	// RedisTimeout bounds each rate-limit call to Redis; past it the
	// failure mode (RateLimitFailure) decides.
	RedisTimeout time.Duration
	AdminToken   string

	RateLimitFailure string // "open" (fall back to the node's own limiter) or "closed" (503)

	MaxBodyBytes    int64
	MaxPayloadBytes int
	// MaxDecodeBytes is the node's memory budget for event bodies being
	// read and parsed (4 bytes charged per decompressed body byte; 503
	// beyond; 0: no budget); one tenant may hold DecodeTenantShare of it.
	MaxDecodeBytes    int64
	DecodeTenantShare float64
	MaxBatchEvents    int
	KeyCacheTTL       time.Duration
	RequestTimeout    time.Duration
	ShutdownTimeout   time.Duration

	MaintenanceInterval time.Duration

	PGMaxConns         int
	PGWriters          int // group-commit transactions at once; 0: min(4, PGMaxConns/2)
	PGStatementTimeout time.Duration
	SQLiteSynchronous  string
	SQLiteGroupWait    time.Duration // how long the group committer waits for more requests
	// EventStore is how a NEW SQLite database keeps events: "rows" (a row
	// per event) or "parts" (columnar blocks, docs/STORAGE.md). A database
	// keeps the kind it was created with; `pulsestream migrate-store` moves
	// a rows database to parts. PostgreSQL has its own event store.
	EventStore string

	LogLevel  string
	LogFormat string
	Pprof     bool
	// PprofAllowProduction is the second, explicit consent production
	// needs before it serves /debug/pprof/.
	PprofAllowProduction bool

	// MetricsToken, when set, is required on /metrics as
	// Authorization: Bearer <token>; production requires one.
	MetricsToken string

	// WebhookAllowPrivate lets alert webhooks reach loopback, private and
	// link-local addresses (tests, or receivers on the same network).
	WebhookAllowPrivate bool
	// WebhookWorkers is how many deliveries a node runs at once, shared by
	// all tenants; WebhookTenantConcurrency is the share one tenant may hold
	// (a job of a tenant at its share waits in the queue, not in a worker).
	WebhookWorkers           int
	WebhookTenantConcurrency int
	// WebhookConnectTimeout bounds reaching a receiver (DNS + TCP, then TLS);
	// WebhookTimeout bounds waiting for its answer.
	WebhookConnectTimeout time.Duration
	WebhookTimeout        time.Duration
	// AlertLimits are the default per-tenant alerting limits; a tenant's
	// overrides (admin API, CLI) replace them field by field.
	AlertLimits pulse.AlertLimits

	// Live tail and console (issue 14): open tails per tenant and per node
	// (429 beyond), events one tail sends per second (the rest are
	// reported as dropped).
	TailsPerTenant      int
	TailsPerNode        int
	TailEventsPerSecond int
	// Sign-in and sessions (issue 14): a session ends after
	// SessionIdleTimeout unused or SessionMaxAge after sign-in; SMTPURL
	// (smtp://user:pass@host:port?from=addr) mails invitation links.
	SessionIdleTimeout time.Duration
	SessionMaxAge      time.Duration
	SMTPURL            string
	// Ingest log (issue 18, log mode): with IngestLog set to a nats://
	// URL, accepted events are published to a JetStream stream and
	// answered 202; every node's writers move them into PostgreSQL.
	IngestLog         string        // nats://host:port[,nats://…]; empty: events go straight to the database
	IngestLogStream   string        // the JetStream stream's name
	IngestLogReplicas int           // stream replicas (1, 3 or 5; 3 on a 3-node JetStream cluster)
	IngestLogMaxBytes int64         // stream size cap: beyond it publishes are refused (503), never old events dropped
	IngestLogMaxAge   time.Duration // how long an unwritten event may wait in the log
	IngestLogTimeout  time.Duration // longest wait for the log's acknowledgements of one request
	// IngestLogDedupWindow is how long JetStream recognises a replayed
	// external_id by itself; later replays are settled by the database.
	IngestLogDedupWindow time.Duration
	// IngestLogAckWait is how long a message fetched by a writer that
	// neither stored nor returned it (a killed node) waits to be re-delivered.
	IngestLogAckWait time.Duration
	// IngestLogCheckStored looks external ids up in PostgreSQL before
	// publishing (250 ms budget): replays after the duplicate window then
	// answer duplicate with the stored id and cost no quota, for one query
	// per request.
	IngestLogCheckStored bool

	Hardening
}

// Hardening is what a production deployment sets (see Validate for what
// --env=production insists on).
type Hardening struct {
	Env            string // "development" or "production"
	TLSCert        string // PEM certificate file (with --tls-key: serve HTTPS)
	TLSKey         string
	TrustedProxies string // comma-separated CIDRs or IPs whose X-Forwarded-For is believed
	SecretKey      string // 32 bytes, base64 or hex: encrypts secrets at rest

	MaxInFlight           int // concurrent requests per node (503 beyond); 0: no cap
	AuthFailuresPerMinute int // failed authentications per client IP per minute (429 beyond)

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	BodyReadTimeout   time.Duration // time a client has to send a request body (408 beyond)
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:                ":8000",
		DatabaseURL:         "sqlite://./data/pulsestream.db",
		RateLimitFailure:    "open",
		RedisTimeout:        250 * time.Millisecond,
		MaxBodyBytes:        10 << 20,
		MaxPayloadBytes:     5 << 20,
		MaxDecodeBytes:      128 << 20,
		DecodeTenantShare:   0.5,
		MaxBatchEvents:      1000,
		KeyCacheTTL:         2 * time.Second,
		RequestTimeout:      10 * time.Second,
		ShutdownTimeout:     20 * time.Second,
		MaintenanceInterval: 5 * time.Minute,
		PGMaxConns:          16,
		PGStatementTimeout:  5 * time.Second,
		SQLiteSynchronous:   "NORMAL",
		EventStore:          "rows",
		LogLevel:            "info",
		LogFormat:           "json",

		WebhookWorkers:           32,
		AlertLimits:              pulse.DefaultAlertLimits(),
		WebhookTenantConcurrency: 4,
		WebhookConnectTimeout:    2 * time.Second,
		WebhookTimeout:           10 * time.Second,
		TailsPerTenant:           5,
		TailsPerNode:             500,
		TailEventsPerSecond:      100,
		SessionIdleTimeout:       12 * time.Hour,
		SessionMaxAge:            7 * 24 * time.Hour,
		IngestLogStream:          "PULSESTREAM_EVENTS",
		IngestLogReplicas:        1,
		IngestLogMaxBytes:        8 << 30,
		IngestLogMaxAge:          72 * time.Hour,
		IngestLogTimeout:         5 * time.Second,
		IngestLogDedupWindow:     2 * time.Minute,
		IngestLogAckWait:         30 * time.Second,
		IngestLogCheckStored:     true,
		Hardening: Hardening{
			Env:                   "development",
			MaxInFlight:           1024,
			AuthFailuresPerMinute: 20,
			ReadHeaderTimeout:     10 * time.Second,
			ReadTimeout:           60 * time.Second,
			BodyReadTimeout:       10 * time.Second,
			WriteTimeout:          60 * time.Second,
			IdleTimeout:           120 * time.Second,
			MaxHeaderBytes:        64 << 10,
		},
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.validateSignIn()...)
	if c.Addr == "" {
		errs = append(errs, errors.New("--addr must not be empty"))
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database must start with sqlite://, postgres:// or postgresql://"))
	} else if err := checkSQLiteURL(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis") {
		errs = append(errs, errors.New("--redis must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL"))
	}
	if c.RedisTimeout <= 0 || c.RedisTimeout > 5*time.Second {
		errs = append(errs, errors.New("--redis-timeout must be between 1ms and 5s"))
	}
	if c.RateLimitFailure != "open" && c.RateLimitFailure != "closed" {
		errs = append(errs, errors.New("--rate-limit-failure must be open or closed"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 1024"))
	}
	if c.MaxPayloadBytes < 1 || int64(c.MaxPayloadBytes) > c.MaxBodyBytes {
		errs = append(errs, errors.New("--max-payload-bytes must be between 1 and --max-body-bytes"))
	}
	if c.DecodeTenantShare <= 0 || c.DecodeTenantShare > 1 {
		errs = append(errs, errors.New("--decode-tenant-share must be above 0 and at most 1"))
	} else if c.MaxDecodeBytes < 0 || (c.MaxDecodeBytes > 0 && float64(c.MaxDecodeBytes)*c.DecodeTenantShare < float64(4*c.MaxBodyBytes)) {
		// 4 is httpapi.DecodeAmplification: a tenant's share must hold the
		// largest body, or that body could never be accepted.
		errs = append(errs, errors.New("--max-decode-bytes must be 0 (no budget) or, times --decode-tenant-share, at least 4 × --max-body-bytes"))
	}
	if c.MaxBatchEvents < 1 || c.MaxBatchEvents > 100000 {
		errs = append(errs, errors.New("--max-batch-events must be between 1 and 100000"))
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > 5*time.Second {
		errs = append(errs, errors.New("--key-cache-ttl must be between 0 and 5s (revocation must take effect within 5 s)"))
	}
	if c.RequestTimeout <= 0 || c.ShutdownTimeout <= 0 || c.MaintenanceInterval <= 0 {
		errs = append(errs, errors.New("--request-timeout, --shutdown-timeout and --maintenance-interval must be positive"))
	}
	if c.PGWriters < 0 || c.PGWriters > c.PGMaxConns {
		errs = append(errs, errors.New("--pg-writers must be between 0 (automatic) and --pg-max-conns"))
	}
	if c.PGMaxConns < 1 {
		errs = append(errs, errors.New("--pg-max-conns must be at least 1"))
	}
	if c.SQLiteGroupWait < 0 || c.SQLiteGroupWait > time.Second {
		errs = append(errs, errors.New("--sqlite-group-wait must be between 0 and 1s"))
	}
	switch strings.ToUpper(c.SQLiteSynchronous) {
	case "NORMAL", "FULL", "EXTRA":
	default:
		errs = append(errs, errors.New("--sqlite-synchronous must be NORMAL, FULL or EXTRA"))
	}
	switch {
	case c.EventStore != "rows" && c.EventStore != "parts":
		errs = append(errs, errors.New("--event-store must be rows or parts"))
	case c.EventStore == "parts" && !strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		errs = append(errs, errors.New("--event-store parts is a SQLite event store; PostgreSQL keeps its own (leave --event-store at rows)"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("--log-level must be debug, info, warn or error"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("--log-format must be json or text"))
	}
	if err := c.AlertLimits.Validate(false); err != nil {
		errs = append(errs, fmt.Errorf("--alert-max-*: %w", err))
	}
	if c.WebhookWorkers < 2 || c.WebhookWorkers > 1000 {
		errs = append(errs, errors.New("--webhook-workers must be between 2 and 1000"))
	}
	if c.WebhookTenantConcurrency < 1 || c.WebhookTenantConcurrency > c.WebhookWorkers/2 {
		errs = append(errs, errors.New("--webhook-tenant-concurrency must be between 1 and half of --webhook-workers (one tenant's stalled receivers must leave workers to the others)"))
	}
	if c.WebhookTimeout < time.Second || c.WebhookTimeout > 5*time.Minute {
		errs = append(errs, errors.New("--webhook-timeout must be between 1s and 5m"))
	}
	if c.WebhookConnectTimeout < 100*time.Millisecond || c.WebhookConnectTimeout > c.WebhookTimeout {
		errs = append(errs, errors.New("--webhook-connect-timeout must be between 100ms and --webhook-timeout"))
	}
	errs = append(errs, c.validateIngestLog()...)
	if c.TailsPerTenant < 1 || c.TailsPerNode < c.TailsPerTenant || c.TailEventsPerSecond < 1 || c.TailEventsPerSecond > 10000 {
		errs = append(errs, errors.New("--tails-per-tenant must be at least 1 and at most --tails-per-node; --tail-events-per-second between 1 and 10000"))
	}
	errs = append(errs, c.Hardening.validate(c.AdminToken)...)
	if c.Env == "production" {
		if c.Pprof && !c.PprofAllowProduction {
			errs = append(errs, errors.New("--env=production: --pprof also needs --pprof-allow-production (profiles show internals; prefer enabling it on one node for a while)"))
		}
		if c.WebhookAllowPrivate {
			errs = append(errs, errors.New("--env=production: --webhook-allow-private is refused (tenants' webhooks could reach the internal network)"))
		}
		if c.MetricsToken == "" {
			errs = append(errs, errors.New("--env=production: set --metrics-token (PULSESTREAM_METRICS_TOKEN) so that /metrics needs Authorization: Bearer <token>"))
		}
	}
	return errors.Join(errs...)
}

// validateSignIn checks the sign-in settings (issue 14).
func (c Config) validateSignIn() []error {
	var errs []error
	if c.SessionIdleTimeout < time.Minute || c.SessionIdleTimeout > 30*24*time.Hour {
		errs = append(errs, errors.New("--session-idle-timeout must be between 1m and 720h"))
	}
	if c.SessionMaxAge < c.SessionIdleTimeout || c.SessionMaxAge > 90*24*time.Hour {
		errs = append(errs, errors.New("--session-max-age must be at least --session-idle-timeout and at most 2160h (90 days)"))
	}
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Query().Get("from") == "" {
			errs = append(errs, errors.New("--smtp-url must look like smtp://user:pass@host:587?from=pulsestream@example.com"))
		}
	}
	return errs
}

// checkSQLiteURL refuses the SQLite URLs that used to create files named
// after the URL: "sqlite:" (no path) and "sqlite:x.db" (no //). A relative
// path is written sqlite://data/x.db (relative to the working folder, as the
// default), an absolute one sqlite:///var/lib/x.db.
func checkSQLiteURL(u string) error {
	if !strings.HasPrefix(u, "sqlite:") {
		return nil
	}
	path, ok := strings.CutPrefix(u, "sqlite://")
	switch {
	case u == "sqlite:" || ok && path == "":
		return fmt.Errorf("--database %q names no file: write sqlite://PATH, e.g. sqlite://data/pulsestream.db", u)
	case !ok:
		return fmt.Errorf("--database %q: write sqlite://PATH (sqlite://data/x.db is relative to the working folder, sqlite:///var/lib/x.db absolute)", u)
	}
	return nil
}

// validateIngestLog checks the log-mode settings (issue 18).
func (c Config) validateIngestLog() []error {
	if c.IngestLog == "" {
		return nil
	}
	var errs []error
	for _, u := range strings.Split(c.IngestLog, ",") {
		if !strings.HasPrefix(strings.TrimSpace(u), "nats://") && !strings.HasPrefix(strings.TrimSpace(u), "tls://") {
			errs = append(errs, errors.New("--ingest-log must be one or more comma-separated nats:// (or tls://) URLs"))
			break
		}
	}
	if strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		errs = append(errs, errors.New("--ingest-log needs PostgreSQL (--database=postgres://…): the log exists to spread ingestion over many nodes, and a SQLite file has one"))
	}
	if c.IngestLogStream == "" || strings.ContainsAny(c.IngestLogStream, " .*>/\\\t") {
		errs = append(errs, errors.New("--ingest-log-stream must be a non-empty name without spaces, dots, *, > or slashes"))
	}
	switch c.IngestLogReplicas {
	case 1, 3, 5:
	default:
		errs = append(errs, errors.New("--ingest-log-replicas must be 1, 3 or 5"))
	}
	if c.IngestLogMaxBytes < 1<<20 {
		errs = append(errs, errors.New("--ingest-log-max-bytes must be at least 1 MiB"))
	}
	if c.IngestLogMaxAge < time.Minute {
		errs = append(errs, errors.New("--ingest-log-max-age must be at least 1m"))
	}
	if c.IngestLogDedupWindow < 100*time.Millisecond || c.IngestLogDedupWindow > c.IngestLogMaxAge {
		errs = append(errs, errors.New("--ingest-log-dedup-window must be between 100ms and --ingest-log-max-age"))
	}
	if c.IngestLogAckWait < 3*time.Second || c.IngestLogAckWait > 10*time.Minute {
		errs = append(errs, errors.New("--ingest-log-ack-wait must be between 3s and 10m"))
	}
	if c.IngestLogTimeout < 100*time.Millisecond || c.IngestLogTimeout > c.RequestTimeout {
		errs = append(errs, errors.New("--ingest-log-timeout must be between 100ms and --request-timeout"))
	}
	return errs
}

// Production admin tokens: at least MinProductionAdminTokenLength
// characters of which at least MinProductionAdminTokenDistinct differ, so
// that one letter repeated, a word or a short PIN is refused, while any
// random token of that length passes (openssl rand -hex 16, -base64 32).
const (
	MinProductionAdminTokenLength   = 32
	MinProductionAdminTokenDistinct = 8
)

// weakAdminToken says why token is too weak for production ("" if it is not).
func weakAdminToken(token string) string {
	if len(token) < MinProductionAdminTokenLength {
		return fmt.Sprintf("must be at least %d characters", MinProductionAdminTokenLength)
	}
	distinct := map[rune]bool{}
	for _, r := range token {
		distinct[r] = true
	}
	if len(distinct) < MinProductionAdminTokenDistinct {
		return fmt.Sprintf("has only %d distinct characters, needs %d (use a random token: openssl rand -base64 32)", len(distinct), MinProductionAdminTokenDistinct)
	}
	return ""
}

// privateRanges are the addresses a trusted proxy may have in production:
// loopback, RFC 1918, shared address space (RFC 6598), link-local and IPv6
// unique-local. A public range in --trusted-proxies would let anyone on
// the internet set X-Forwarded-For.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// private reports whether every address of p is in privateRanges.
func private(p netip.Prefix) bool {
	for _, r := range privateRanges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func (h Hardening) validate(adminToken string) []error {
	var errs []error
	if h.Env != "development" && h.Env != "production" {
		errs = append(errs, errors.New("--env must be development or production"))
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key must be given together"))
	}
	if _, err := ParsePrefixes(h.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	if h.SecretKey != "" {
		if _, err := secretbox.ParseKey(h.SecretKey); err != nil {
			errs = append(errs, fmt.Errorf("PULSESTREAM_SECRET_KEY: %w", err))
		}
	}
	if h.MaxInFlight < 0 {
		errs = append(errs, errors.New("--max-in-flight must be 0 (no cap) or positive"))
	}
	if h.AuthFailuresPerMinute < 1 {
		errs = append(errs, errors.New("--auth-failures-per-minute must be at least 1"))
	}
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout <= 0 || h.WriteTimeout <= 0 || h.IdleTimeout <= 0 {
		errs = append(errs, errors.New("--read-header-timeout, --read-timeout, --write-timeout and --idle-timeout must be positive"))
	}
	if h.BodyReadTimeout <= 0 || h.BodyReadTimeout > h.ReadTimeout {
		errs = append(errs, errors.New("--body-read-timeout must be positive and at most --read-timeout"))
	}
	if h.MaxHeaderBytes < 4096 {
		errs = append(errs, errors.New("--max-header-bytes must be at least 4096"))
	}
	if h.Env != "production" {
		return errs
	}
	if h.SecretKey == "" {
		errs = append(errs, errors.New("--env=production: PULSESTREAM_SECRET_KEY must be set (32 bytes, base64 or hex; e.g. openssl rand -base64 32) to encrypt secrets at rest"))
	}
	if h.TLSCert == "" && h.TrustedProxies == "" {
		errs = append(errs, errors.New("--env=production: serve TLS (--tls-cert and --tls-key) or name the TLS-terminating proxy with --trusted-proxies"))
	}
	if adminToken == "" {
		errs = append(errs, errors.New("--env=production: set the admin token explicitly (PULSESTREAM_ADMIN_TOKEN); a generated default is not accepted"))
	} else if why := weakAdminToken(adminToken); why != "" {
		errs = append(errs, fmt.Errorf("--env=production: the admin token (PULSESTREAM_ADMIN_TOKEN) %s", why))
	}
	proxies, _ := ParsePrefixes(h.TrustedProxies)
	for _, p := range proxies {
		if !private(p) {
			errs = append(errs, fmt.Errorf("--env=production: --trusted-proxies %s contains public addresses; name only your proxies' private or loopback addresses", p))
		}
	}
	return errs
}

// ParsePrefixes parses a comma-separated list of CIDRs or single IPs.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", item)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// envNames maps flags whose environment variable is not simply
// PULSESTREAM_<FLAG_IN_UPPER_SNAKE_CASE>.
var envNames = map[string]string{
	"database": "PULSESTREAM_DATABASE_URL",
	"redis":    "PULSESTREAM_REDIS_URL",
}

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	if n, ok := envNames[name]; ok {
		return n
	}
	return "PULSESTREAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// DatabaseFlag registers --database on fs (shared by every subcommand).
func DatabaseFlag(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "database", *dst, "database URL: sqlite://PATH (relative to the working folder), sqlite:///ABSOLUTE/PATH or postgres://...")
}

// EventStoreFlag registers --event-store on fs.
func EventStoreFlag(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "event-store", *dst, "how a NEW SQLite database keeps events: rows or parts (columnar blocks); an existing database keeps its kind (pulsestream migrate-store moves rows to parts)")
}

// strictBool is a boolean flag that takes true or false only (flag.BoolVar
// also takes 1, t, T, TRUE, 0, f, …; "--pprof=yes" must not pass unnoticed
// and "maybe" must not become false). --name alone means true.
type strictBool struct{ p *bool }

func (b strictBool) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

func (b strictBool) Set(s string) error {
	switch s {
	case "true", "false":
		*b.p = s == "true"
		return nil
	}
	return fmt.Errorf("%q is not true or false", s)
}

func (b strictBool) Get() any         { return *b.p }
func (b strictBool) IsBoolFlag() bool { return true }

// BoolVar registers a strict boolean flag (true or false only) at *p's value.
func BoolVar(fs *flag.FlagSet, p *bool, name, usage string) {
	fs.Var(strictBool{p}, name, usage)
}

// DatabaseFlags registers what a CLI command working on the database reads:
// --database, --sqlite-synchronous, --event-store and --config.
func DatabaseFlags(fs *flag.FlagSet, c *Config) {
	DatabaseFlag(fs, &c.DatabaseURL)
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", c.SQLiteSynchronous, "SQLite synchronous mode: NORMAL or FULL")
	EventStoreFlag(fs, &c.EventStore)
	FileFlag(fs)
}

// ServeFlags registers every serve flag on fs, writing into c.
func ServeFlags(fs *flag.FlagSet, c *Config) {
	FileFlag(fs)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (in use? pick another, e.g. --addr :8080 or PULSESTREAM_ADDR=:8080)")
	DatabaseFlag(fs, &c.DatabaseURL)
	fs.StringVar(&c.RedisURL, "redis", c.RedisURL, "Redis URL for the shared rate limiter (empty: in-process limiter)")
	fs.DurationVar(&c.RedisTimeout, "redis-timeout", c.RedisTimeout, "longest wait for one Redis rate-limit call before the failure mode applies")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "operator token for /admin/v1 (empty: generated at first start and printed once)")
	fs.StringVar(&c.RateLimitFailure, "rate-limit-failure", c.RateLimitFailure, "when Redis is unreachable: open (use this node's limiter) or closed (503)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body, after gzip decompression")
	fs.Int64Var(&c.MaxDecodeBytes, "max-decode-bytes", c.MaxDecodeBytes, "memory budget of a node for event bodies being decompressed and parsed, 4 bytes per body byte (503 beyond; 0: none)")
	fs.Float64Var(&c.DecodeTenantShare, "decode-tenant-share", c.DecodeTenantShare, "fraction of --max-decode-bytes one tenant may hold at once")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", c.MaxPayloadBytes, "largest event payload (encoded JSON)")
	fs.IntVar(&c.MaxBatchEvents, "max-batch-events", c.MaxBatchEvents, "most events in one batch request")
	fs.DurationVar(&c.KeyCacheTTL, "key-cache-ttl", c.KeyCacheTTL, "how long an API key look-up is cached (≤ 5s)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "deadline for one request's database work")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long shutdown waits for in-flight requests")
	fs.DurationVar(&c.MaintenanceInterval, "maintenance-interval", c.MaintenanceInterval, "how often retention and partition upkeep run")
	fs.IntVar(&c.PGMaxConns, "pg-max-conns", c.PGMaxConns, "PostgreSQL connection pool size")
	fs.IntVar(&c.PGWriters, "pg-writers", c.PGWriters, "PostgreSQL group-commit writers, each one transaction at a time (0: min(4, pg-max-conns/2))")
	fs.DurationVar(&c.PGStatementTimeout, "pg-statement-timeout", c.PGStatementTimeout, "PostgreSQL statement_timeout")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", c.SQLiteSynchronous, "SQLite synchronous mode: NORMAL (safe on process crash) or FULL (also on power loss)")
	fs.DurationVar(&c.SQLiteGroupWait, "sqlite-group-wait", c.SQLiteGroupWait, "how long the SQLite group commit waits for more requests before committing (0: merge only what is queued)")
	EventStoreFlag(fs, &c.EventStore)
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or text")
	BoolVar(fs, &c.Pprof, "pprof", "serve /debug/pprof/ behind the admin token")
	fs.IntVar(&c.WebhookWorkers, "webhook-workers", c.WebhookWorkers, "webhook deliveries a node runs at once, shared by all tenants")
	fs.IntVar(&c.WebhookTenantConcurrency, "webhook-tenant-concurrency", c.WebhookTenantConcurrency, "webhook deliveries of one tenant a node runs at once (≤ half of --webhook-workers)")
	fs.DurationVar(&c.WebhookConnectTimeout, "webhook-connect-timeout", c.WebhookConnectTimeout, "longest wait to reach a webhook receiver (DNS and TCP connect; TLS handshake again)")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", c.WebhookTimeout, "longest wait for a webhook receiver's answer")
	BoolVar(fs, &c.PprofAllowProduction, "pprof-allow-production", "with --pprof, allow it in --env=production as well")
	fs.StringVar(&c.MetricsToken, "metrics-token", c.MetricsToken, "token /metrics requires as Authorization: Bearer (empty: open; required in production); prefer PULSESTREAM_METRICS_TOKEN")
	BoolVar(fs, &c.WebhookAllowPrivate, "webhook-allow-private", "let alert webhooks reach loopback, private and link-local addresses (refused in production)")
	fs.IntVar(&c.AlertLimits.MaxRules, "alert-max-rules", c.AlertLimits.MaxRules, "default alert rules one tenant may have")
	fs.IntVar(&c.AlertLimits.MaxGroupsPerRule, "alert-max-groups-per-rule", c.AlertLimits.MaxGroupsPerRule, "default groups one rule tracks; events of further groups are dropped and counted")
	fs.IntVar(&c.AlertLimits.MaxDistinctPerGroup, "alert-max-distinct-per-group", c.AlertLimits.MaxDistinctPerGroup, "default users a count_distinct group counts exactly; beyond, a HyperLogLog estimate (about 1.6 % error)")
	fs.IntVar(&c.AlertLimits.MaxWindowSeconds, "alert-max-window-seconds", c.AlertLimits.MaxWindowSeconds, "default longest rule window in seconds")
	fs.IntVar(&c.TailsPerTenant, "tails-per-tenant", c.TailsPerTenant, "live tails (GET /api/v1/events/tail, the console's tail page) one tenant may hold open (429 beyond)")
	fs.IntVar(&c.TailsPerNode, "tails-per-node", c.TailsPerNode, "live tails a node holds open for all tenants (429 beyond)")
	fs.IntVar(&c.TailEventsPerSecond, "tail-events-per-second", c.TailEventsPerSecond, "events one live tail sends per second; more are reported as dropped")
	// Sign-in and sessions (issue 14).
	fs.DurationVar(&c.SessionIdleTimeout, "session-idle-timeout", c.SessionIdleTimeout, "a console session ends after this long unused")
	fs.DurationVar(&c.SessionMaxAge, "session-max-age", c.SessionMaxAge, "a console session ends this long after sign-in, used or not")
	fs.StringVar(&c.SMTPURL, "smtp-url", c.SMTPURL, "SMTP server that mails invitation links: smtp://user:pass@host:587?from=addr (STARTTLS when offered; smtps:// for TLS); prefer PULSESTREAM_SMTP_URL")
	// Ingest log (issue 18).
	fs.StringVar(&c.IngestLog, "ingest-log", c.IngestLog, "log mode: NATS JetStream URL(s) (nats://host:4222,…); accepted events are published there, answered 202 and written to PostgreSQL by every node's writers (empty: straight to the database)")
	fs.StringVar(&c.IngestLogStream, "ingest-log-stream", c.IngestLogStream, "JetStream stream holding the ingest log")
	fs.IntVar(&c.IngestLogReplicas, "ingest-log-replicas", c.IngestLogReplicas, "replicas of the ingest log stream (1, 3 or 5)")
	fs.Int64Var(&c.IngestLogMaxBytes, "ingest-log-max-bytes", c.IngestLogMaxBytes, "size cap of the ingest log; when full, ingestion answers 503 (nothing is dropped)")
	fs.DurationVar(&c.IngestLogMaxAge, "ingest-log-max-age", c.IngestLogMaxAge, "longest an event may wait in the ingest log before JetStream discards it")
	fs.DurationVar(&c.IngestLogTimeout, "ingest-log-timeout", c.IngestLogTimeout, "longest wait for the ingest log to acknowledge one request's events (503 beyond)")
	fs.DurationVar(&c.IngestLogDedupWindow, "ingest-log-dedup-window", c.IngestLogDedupWindow, "how long JetStream itself answers a replayed external_id as a duplicate (later replays are settled when written)")
	fs.DurationVar(&c.IngestLogAckWait, "ingest-log-ack-wait", c.IngestLogAckWait, "how long events fetched by a writer that died wait before another node writes them (a write is given 2/3 of it)")
	fs.BoolVar(&c.IngestLogCheckStored, "ingest-log-check-stored", c.IngestLogCheckStored, "look external ids up in PostgreSQL before publishing, so that replays after the dedup window answer duplicate with the stored id (one query per request; false: faster, such replays answer accepted with a new id and the database keeps the first)")
	HardeningFlags(fs, &c.Hardening)
}

// HardeningFlags registers the production-hardening flags on fs.
func HardeningFlags(fs *flag.FlagSet, h *Hardening) {
	fs.StringVar(&h.Env, "env", h.Env, "development or production (production refuses unsafe settings)")
	fs.StringVar(&h.TLSCert, "tls-cert", h.TLSCert, "PEM certificate file; with --tls-key serves HTTPS (reloaded on SIGHUP or file change)")
	fs.StringVar(&h.TLSKey, "tls-key", h.TLSKey, "PEM private key file")
	fs.StringVar(&h.TrustedProxies, "trusted-proxies", h.TrustedProxies, "comma-separated CIDRs/IPs of proxies whose X-Forwarded-For is believed")
	fs.StringVar(&h.SecretKey, "secret-key", h.SecretKey, "key encrypting secrets at rest (32 bytes, base64 or hex); prefer PULSESTREAM_SECRET_KEY")
	fs.IntVar(&h.MaxInFlight, "max-in-flight", h.MaxInFlight, "concurrent requests per node before 503 (0: no cap; /health, /ready and /metrics exempt)")
	fs.IntVar(&h.AuthFailuresPerMinute, "auth-failures-per-minute", h.AuthFailuresPerMinute, "failed authentications per client IP per minute before 429")
	fs.DurationVar(&h.ReadHeaderTimeout, "read-header-timeout", h.ReadHeaderTimeout, "time a client has to send the request headers")
	fs.DurationVar(&h.ReadTimeout, "read-timeout", h.ReadTimeout, "time a client has to send the whole request")
	fs.DurationVar(&h.BodyReadTimeout, "body-read-timeout", h.BodyReadTimeout, "time a client has to send a request body after its headers (408 beyond)")
	fs.DurationVar(&h.WriteTimeout, "write-timeout", h.WriteTimeout, "time to write the response")
	fs.DurationVar(&h.IdleTimeout, "idle-timeout", h.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&h.MaxHeaderBytes, "max-header-bytes", h.MaxHeaderBytes, "largest request header block (431 above)")
}

// TrustedProxyPrefixes returns the parsed --trusted-proxies (valid after Validate).
func (h Hardening) TrustedProxyPrefixes() []netip.Prefix {
	p, _ := ParsePrefixes(h.TrustedProxies)
	return p
}

// Parse parses args into fs, then fills every flag that was not given on the
// command line from its environment variable (see EnvName) or, failing
// that, from the configuration file (--config or PULSESTREAM_CONFIG, when
// fs has --config). Precedence: flag, environment, file, default.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var file map[string]string
	if f := fs.Lookup("config"); f != nil {
		path := f.Value.String()
		if path == "" {
			path = getenv(FileEnv)
		}
		if path != "" {
			var err error
			if file, err = readFile(path); err != nil {
				return err
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		} else if v, ok := file[f.Name]; ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("--config key %s: %w", f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}
