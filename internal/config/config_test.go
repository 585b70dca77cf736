package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestParseFlagsAndEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PULSESTREAM_ADDR":             ":9999",
		"PULSESTREAM_DATABASE_URL":     "postgres://x/y",
		"PULSESTREAM_REDIS_URL":        "redis://127.0.0.1:6379/0",
		"PULSESTREAM_KEY_CACHE_TTL":    "1s",
		"PULSESTREAM_MAX_BATCH_EVENTS": "10",
		"PULSESTREAM_METRICS_TOKEN":    "scrape-me",
	}
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	if err := Parse(fs, []string{"--addr", ":7000"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" {
		t.Errorf("flag must win over env: addr = %q", c.Addr)
	}
	if c.DatabaseURL != "postgres://x/y" || c.RedisURL != "redis://127.0.0.1:6379/0" || c.KeyCacheTTL != time.Second || c.MaxBatchEvents != 10 || c.MetricsToken != "scrape-me" {
		t.Errorf("env not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestEveryFlagHasEnv(t *testing.T) {
	t.Parallel()
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(EnvName(f.Name), "PULSESTREAM_") {
			t.Errorf("flag %s has no PULSESTREAM_ variable", f.Name)
		}
	})
	if EnvName("database") != "PULSESTREAM_DATABASE_URL" || EnvName("rate-limit-failure") != "PULSESTREAM_RATE_LIMIT_FAILURE" {
		t.Error("unexpected env names")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	cases := map[string]func(*Config){
		"database":                   func(c *Config) { c.DatabaseURL = "mysql://x" },
		"rate-limit-failure":         func(c *Config) { c.RateLimitFailure = "maybe" },
		"key-cache-ttl":              func(c *Config) { c.KeyCacheTTL = time.Minute },
		"max-batch-events":           func(c *Config) { c.MaxBatchEvents = 0 },
		"sqlite-synchronous":         func(c *Config) { c.SQLiteSynchronous = "OFF" },
		"sqlite-group-wait":          func(c *Config) { c.SQLiteGroupWait = -time.Millisecond },
		"event-store must":           func(c *Config) { c.EventStore = "columns" },
		"event-store parts":          func(c *Config) { c.EventStore, c.DatabaseURL = "parts", "postgres://x/y" },
		"pg-writers":                 func(c *Config) { c.PGWriters = c.PGMaxConns + 1 },
		"log-level":                  func(c *Config) { c.LogLevel = "loud" },
		"webhook-workers":            func(c *Config) { c.WebhookWorkers = 1 },
		"webhook-tenant-concurrency": func(c *Config) { c.WebhookTenantConcurrency = c.WebhookWorkers/2 + 1 },
		"webhook-timeout must":       func(c *Config) { c.WebhookTimeout = 10 * time.Minute },
		"webhook-connect-timeout":    func(c *Config) { c.WebhookConnectTimeout = c.WebhookTimeout + time.Second },
		"max-decode-bytes":           func(c *Config) { c.MaxDecodeBytes = 4*c.MaxBodyBytes - 1 },
		"decode-tenant-share":        func(c *Config) { c.DecodeTenantShare = 1.5 },
		"body-read-timeout":          func(c *Config) { c.BodyReadTimeout = c.ReadTimeout + time.Second },
	}
	for name, mut := range cases {
		c := Default()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming it, got %v", name, err)
		}
	}
}

func TestBadEnvValue(t *testing.T) {
	t.Parallel()
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ServeFlags(fs, &c)
	err := Parse(fs, nil, func(k string) string {
		if k == "PULSESTREAM_MAX_BATCH_EVENTS" {
			return "lots"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "PULSESTREAM_MAX_BATCH_EVENTS") {
		t.Fatalf("want error naming the variable, got %v", err)
	}
}

func TestProductionRefusesUnsafeSettings(t *testing.T) {
	t.Parallel()
	safe := func() Config {
		c := Default()
		c.Env = "production"
		c.AdminToken = "an-operator-token-of-enough-length"
		c.MetricsToken = "a-scrape-token"
		c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64
		c.TLSCert, c.TLSKey = "cert.pem", "key.pem"
		return c
	}
	if err := safe().Validate(); err != nil {
		t.Fatalf("safe production config refused: %v", err)
	}
	behindProxy := safe()
	behindProxy.TLSCert, behindProxy.TLSKey = "", ""
	behindProxy.TrustedProxies = "10.0.0.0/8, 172.16.0.0/12, 192.168.1.0/24, 100.64.0.0/10, 127.0.0.1, ::1, fd00::/8, fe80::/64"
	if err := behindProxy.Validate(); err != nil {
		t.Fatalf("production behind a trusted TLS proxy refused: %v", err)
	}
	profiled := safe()
	profiled.Pprof, profiled.PprofAllowProduction = true, true
	if err := profiled.Validate(); err != nil {
		t.Fatalf("production with --pprof --pprof-allow-production refused: %v", err)
	}
	for _, token := range []string{"3f9a0c6e1b7d4a2f8e5c0b9d6a3f1e7c", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="} {
		c := safe()
		c.AdminToken = token // openssl rand -hex 16, -base64 32
		if err := c.Validate(); err != nil {
			t.Errorf("random admin token %q refused: %v", token, err)
		}
	}
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no secret key":       {func(c *Config) { c.SecretKey = "" }, "PULSESTREAM_SECRET_KEY"},
		"bad secret key":      {func(c *Config) { c.SecretKey = "too-short" }, "PULSESTREAM_SECRET_KEY"},
		"no TLS, no proxies":  {func(c *Config) { c.TLSCert, c.TLSKey = "", "" }, "--tls-cert"},
		"generated admin":     {func(c *Config) { c.AdminToken = "" }, "PULSESTREAM_ADMIN_TOKEN"},
		"short admin token":   {func(c *Config) { c.AdminToken = "admin" }, "PULSESTREAM_ADMIN_TOKEN"},
		"31 characters":       {func(c *Config) { c.AdminToken = "an-operator-token-of-length-31!" }, "at least 32 characters"},
		"one letter repeated": {func(c *Config) { c.AdminToken = strings.Repeat("a", 64) }, "distinct characters"},
		"seven letters":       {func(c *Config) { c.AdminToken = strings.Repeat("abcdefg", 6) }, "distinct characters"},
		"proxies: anywhere":   {func(c *Config) { c.TrustedProxies = "0.0.0.0/0" }, "--trusted-proxies 0.0.0.0/0 contains public"},
		"proxies: ipv6 all":   {func(c *Config) { c.TrustedProxies = "10.0.0.0/8, ::/0" }, "--trusted-proxies ::/0 contains public"},
		"proxies: public ip":  {func(c *Config) { c.TrustedProxies = "203.0.113.7" }, "--trusted-proxies 203.0.113.7/32 contains public"},
		"proxies: too wide":   {func(c *Config) { c.TrustedProxies = "10.0.0.0/7" }, "--trusted-proxies 10.0.0.0/7 contains public"},
		"pprof alone":         {func(c *Config) { c.Pprof = true }, "--pprof-allow-production"},
		"webhooks to private": {func(c *Config) { c.WebhookAllowPrivate = true }, "--webhook-allow-private"},
		"no metrics token":    {func(c *Config) { c.MetricsToken = "" }, "--metrics-token"},
		"cert without key":    {func(c *Config) { c.TLSKey = "" }, "--tls-key"},
		"bad trusted proxies": {func(c *Config) { c.TrustedProxies = "10.0.0.0/8, nonsense" }, "--trusted-proxies"},
		"bad env":             {func(c *Config) { c.Env = "staging" }, "--env"},
	}
	for name, tc := range cases {
		c := safe()
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error naming %s, got %v", name, tc.want, err)
		}
	}
	// Development accepts all of it.
	dev := Default()
	dev.AdminToken, dev.TrustedProxies, dev.Pprof, dev.WebhookAllowPrivate = "admin", "0.0.0.0/0", true, true
	if err := dev.Validate(); err != nil {
		t.Errorf("development default refused: %v", err)
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := ParsePrefixes(" 10.0.0.0/8,192.0.2.7, ::1 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("ParsePrefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestWebhookDeliveryFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PULSESTREAM_WEBHOOK_WORKERS":            "64",
		"PULSESTREAM_WEBHOOK_TENANT_CONCURRENCY": "8",
		"PULSESTREAM_WEBHOOK_CONNECT_TIMEOUT":    "1s",
	}
	c := Default()
	if c.WebhookWorkers != 32 || c.WebhookTenantConcurrency != 4 || c.WebhookConnectTimeout != 2*time.Second || c.WebhookTimeout != 10*time.Second {
		t.Fatalf("defaults = %d workers, %d per tenant, %s connect, %s answer",
			c.WebhookWorkers, c.WebhookTenantConcurrency, c.WebhookConnectTimeout, c.WebhookTimeout)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	if err := Parse(fs, []string{"--webhook-timeout", "30s"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.WebhookWorkers != 64 || c.WebhookTenantConcurrency != 8 || c.WebhookConnectTimeout != time.Second || c.WebhookTimeout != 30*time.Second {
		t.Fatalf("parsed = %d workers, %d per tenant, %s connect, %s answer",
			c.WebhookWorkers, c.WebhookTenantConcurrency, c.WebhookConnectTimeout, c.WebhookTimeout)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid webhook settings refused: %v", err)
	}
	c.WebhookTenantConcurrency = 33 // more than half of 64 workers
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "half of --webhook-workers") {
		t.Fatalf("a tenant share above half the workers: %v", err)
	}
}

func TestAlertLimitFlags(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.AlertLimits != pulse.DefaultAlertLimits() {
		t.Fatalf("default alert limits = %+v", c.AlertLimits)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	env := map[string]string{"PULSESTREAM_ALERT_MAX_GROUPS_PER_RULE": "200"}
	if err := Parse(fs, []string{"--alert-max-rules", "7", "--alert-max-window-seconds", "3600"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := pulse.DefaultAlertLimits()
	want.MaxRules, want.MaxGroupsPerRule, want.MaxWindowSeconds = 7, 200, 3600
	if c.AlertLimits != want {
		t.Fatalf("parsed alert limits = %+v, want %+v", c.AlertLimits, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid alert limits refused: %v", err)
	}
	c.AlertLimits.MaxGroupsPerRule = 0 // a default must be set
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max_groups_per_rule") {
		t.Fatalf("zero max_groups_per_rule default: %v", err)
	}
	c.AlertLimits.MaxGroupsPerRule, c.AlertLimits.MaxWindowSeconds = 10, pulse.MaxRuleWindowSeconds+1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max_window_seconds") {
		t.Fatalf("window beyond the rule maximum: %v", err)
	}
}

func TestBodyLimitFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PULSESTREAM_MAX_DECODE_BYTES": "104857600", "PULSESTREAM_BODY_READ_TIMEOUT": "3s"}
	c := Default()
	if c.MaxDecodeBytes != 128<<20 || c.DecodeTenantShare != 0.5 || c.BodyReadTimeout != 10*time.Second {
		t.Errorf("defaults: max-decode-bytes %d, share %v, body-read-timeout %v", c.MaxDecodeBytes, c.DecodeTenantShare, c.BodyReadTimeout)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	if err := Parse(fs, []string{"--decode-tenant-share", "0.25"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.MaxDecodeBytes != 100<<20 || c.DecodeTenantShare != 0.25 || c.BodyReadTimeout != 3*time.Second {
		t.Errorf("flags/env not applied: %d %v %v", c.MaxDecodeBytes, c.DecodeTenantShare, c.BodyReadTimeout)
	}
	// 100 MiB × 0.25 is less than 4 × the 10 MiB largest body.
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max-decode-bytes") {
		t.Errorf("a tenant share smaller than the largest body's charge was accepted: %v", err)
	}
	c.MaxDecodeBytes = 0 // no budget
	if err := c.Validate(); err != nil {
		t.Errorf("--max-decode-bytes=0 refused: %v", err)
	}
}

func TestSignInSettings(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.SessionIdleTimeout != 12*time.Hour || c.SessionMaxAge != 7*24*time.Hour {
		t.Fatalf("defaults %v %v", c.SessionIdleTimeout, c.SessionMaxAge)
	}
	for _, mutate := range []func(*Config){
		func(c *Config) { c.SessionIdleTimeout = 0 },
		func(c *Config) { c.SessionMaxAge = time.Hour }, // shorter than the idle timeout
		func(c *Config) { c.SessionMaxAge = 100 * 24 * time.Hour },
		func(c *Config) { c.SMTPURL = "http://mail.example.com?from=a@b.c" },
		func(c *Config) { c.SMTPURL = "smtp://mail.example.com" },
	} {
		c := Default()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
	c.SMTPURL = "smtp://u:p@mail.example.com:587?from=ps@example.com"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestIngestLogFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PULSESTREAM_INGEST_LOG": "nats://n1:4222,nats://n2:4222", "PULSESTREAM_DATABASE_URL": "postgres://x/y"}
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	if err := Parse(fs, []string{"--ingest-log-replicas", "3", "--ingest-log-stream", "EVENTS_EU"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.IngestLog != "nats://n1:4222,nats://n2:4222" || c.IngestLogReplicas != 3 || c.IngestLogStream != "EVENTS_EU" ||
		c.IngestLogMaxBytes != 8<<30 || c.IngestLogMaxAge != 72*time.Hour || c.IngestLogDedupWindow != 2*time.Minute || c.IngestLogAckWait != 30*time.Second || !c.IngestLogCheckStored {
		t.Errorf("flags/env/defaults not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid log mode refused: %v", err)
	}

	cases := map[string]func(*Config){
		"needs PostgreSQL":          func(c *Config) { c.DatabaseURL = "sqlite://./x.db" },
		"nats://":                   func(c *Config) { c.IngestLog = "http://n1:4222" },
		"ingest-log-stream":         func(c *Config) { c.IngestLogStream = "a.b" },
		"ingest-log-replicas":       func(c *Config) { c.IngestLogReplicas = 2 },
		"ingest-log-max-bytes":      func(c *Config) { c.IngestLogMaxBytes = 1000 },
		"ingest-log-max-age":        func(c *Config) { c.IngestLogMaxAge = time.Second },
		"ingest-log-dedup-window":   func(c *Config) { c.IngestLogDedupWindow = c.IngestLogMaxAge + time.Second },
		"ingest-log-ack-wait":       func(c *Config) { c.IngestLogAckWait = time.Second },
		"ingest-log-timeout":        func(c *Config) { c.IngestLogTimeout = c.RequestTimeout + time.Second },
		"ingest-log-timeout must b": func(c *Config) { c.IngestLogTimeout = time.Millisecond },
	}
	for name, mut := range cases {
		c := c
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming it, got %v", name, err)
		}
	}
	// Outside log mode the log's settings are not checked.
	plain := Default()
	plain.IngestLogReplicas = 2
	if err := plain.Validate(); err != nil {
		t.Errorf("log settings checked without --ingest-log: %v", err)
	}
}

// TestEventStoreFromEnv: --event-store is read from PULSESTREAM_EVENT_STORE
// by every command that opens the database.
func TestEventStoreFromEnv(t *testing.T) {
	t.Parallel()
	for name, register := range map[string]func(*flag.FlagSet, *Config){"serve": ServeFlags, "database": DatabaseFlags} {
		c := Default()
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		register(fs, &c)
		getenv := func(k string) string {
			if k == "PULSESTREAM_EVENT_STORE" {
				return "parts"
			}
			return ""
		}
		if err := Parse(fs, nil, getenv); err != nil || c.EventStore != "parts" {
			t.Errorf("%s flags: event store %q, %v", name, c.EventStore, err)
		}
	}
	if Default().EventStore != "rows" {
		t.Errorf("default event store %q", Default().EventStore)
	}
}
