package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
)

// behindProxy trusts the test client (127.0.0.1) as a proxy, so that
// X-Forwarded-For names the client IP.
func behindProxy(c *config.Config) { c.TrustedProxies = "127.0.0.1/32, ::1" }

func TestAbuseAuthBruteForceLimitedPerIP(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, behindProxy, func(t *testing.T, n *node) {
		wellFormed := "ps_" + strings.Repeat("0", 40) // looked up, unlike a malformed key
		attacker := []string{"X-Forwarded-For", "203.0.113.5"}
		for i := range 20 {
			r := n.do("GET", "/api/v1/usage", "ps_guess"+strings.Repeat("x", i), nil, attacker...)
			problem(t, r, http.StatusUnauthorized)
		}
		for _, guess := range []string{"ps_guess-21", wellFormed} {
			r := n.do("GET", "/api/v1/usage", guess, nil, attacker...)
			problem(t, r, http.StatusTooManyRequests)
			checkRetryAfter(t, r)
		}
		problem(t, n.do("GET", "/admin/v1/tenants", "wrong-admin-token", nil, attacker...), http.StatusTooManyRequests)
		// A proxy chain: the right-most untrusted address is the client.
		problem(t, n.do("GET", "/api/v1/usage", wellFormed, nil, "X-Forwarded-For", "198.51.100.1, 203.0.113.5"), http.StatusTooManyRequests)
		// A spoofed left-most entry does not help the attacker.
		problem(t, n.do("GET", "/api/v1/usage", wellFormed, nil, "X-Forwarded-For", "203.0.113.99, 203.0.113.5"), http.StatusTooManyRequests)
		// Another client IP is unaffected.
		problem(t, n.do("GET", "/api/v1/usage", wellFormed, nil, "X-Forwarded-For", "203.0.113.6"), http.StatusUnauthorized)

		// The allowance refills: 20 per minute.
		n.Clock.Advance(time.Minute)
		problem(t, n.do("GET", "/api/v1/usage", wellFormed, nil, attacker...), http.StatusUnauthorized)
	})
}

// TestAbuseFailuresNeverLockOutValidCredentials: behind one NAT or proxy, a
// client failing to authenticate 1,000 times must not take the service
// away from the valid keys and the admin token at the same address.
func TestAbuseFailuresNeverLockOutValidCredentials(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, behindProxy, func(t *testing.T, n *node) {
		_, key := n.tenant("same-nat", 0)
		nat := []string{"X-Forwarded-For", "203.0.113.7"}
		refused := 0
		for i := range 1000 {
			guess := "ps_" + strings.Repeat(strconv.Itoa(i%10), 40) // well formed: looked up
			if i%2 == 1 {
				guess = "revoked-or-mistyped"
			}
			r := n.do("GET", "/api/v1/usage", guess, nil, nat...)
			if r.Status == http.StatusTooManyRequests {
				refused++
			} else {
				problem(t, r, http.StatusUnauthorized)
			}
			if i%100 == 99 { // during the attack
				expectStatus(t, n.do("GET", "/api/v1/usage", key, nil, nat...), http.StatusOK)
				expectStatus(t, n.do("POST", "/api/v1/events", key, event(nil), nat...), http.StatusCreated)
				expectStatus(t, n.do("GET", "/admin/v1/tenants", adminToken, nil, nat...), http.StatusOK)
			}
		}
		if refused != 1000-20 {
			t.Errorf("%d of 1,000 failing attempts refused with 429, want all but the first 20", refused)
		}
		// After it: failures still refused, valid credentials still honoured.
		problem(t, n.do("GET", "/api/v1/usage", "ps_"+strings.Repeat("z", 40), nil, nat...), http.StatusTooManyRequests)
		expectStatus(t, n.do("GET", "/api/v1/usage", key, nil, nat...), http.StatusOK)
		expectStatus(t, n.do("GET", "/admin/v1/tenants", adminToken, nil, nat...), http.StatusOK)
	})
}

func TestAbuseForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("no-proxy", 0)
		// Without --trusted-proxies the peer address counts, whatever the
		// client claims: rotating X-Forwarded-For does not reset the limit.
		for i := range 20 {
			problem(t, n.do("GET", "/api/v1/usage", "ps_bad", nil, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i)), http.StatusUnauthorized)
		}
		problem(t, n.do("GET", "/api/v1/usage", "ps_bad", nil, "X-Forwarded-For", "198.51.100.200"), http.StatusTooManyRequests)
		expectStatus(t, n.do("GET", "/api/v1/usage", key, nil, "X-Forwarded-For", "198.51.100.201"), http.StatusOK)
	})
}

func TestAbuseInFlightCap(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) { c.MaxInFlight = 1 }, func(t *testing.T, n *node) {
		_, key := n.tenant("inflight", 0)
		// Hold the one slot: a request that announces a body it never
		// finishes sending, written on a raw connection so that nothing buffers it.
		held, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close() // on failure too: a held request would keep the server from closing
		_, err = held.Write([]byte("POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event_type\":"))
		if err != nil {
			t.Fatal(err)
		}

		// Wait until the server serves it (/metrics is exempt from the cap
		// and counts itself plus the held request), then nothing else fits.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(string(n.do("GET", "/metrics", "", nil).Body), "\npulsestream_http_requests_in_flight 2\n") {
			if time.Now().After(deadline) {
				t.Fatal("the held request never reached the handler")
			}
		}
		r := n.do("GET", "/api/v1/usage", key, nil)
		problem(t, r, http.StatusServiceUnavailable)
		checkRetryAfter(t, r)
		problem(t, n.do("GET", "/api/v1/usage", key, nil), http.StatusServiceUnavailable)
		expectStatus(t, n.do("GET", "/health", "", nil), http.StatusOK) // exempt
		expectStatus(t, n.do("GET", "/metrics", "", nil), http.StatusOK)

		held.Close()
		for r = n.do("GET", "/api/v1/usage", key, nil); r.Status != http.StatusOK && time.Now().Before(deadline); {
			r = n.do("GET", "/api/v1/usage", key, nil)
		}
		expectStatus(t, r, http.StatusOK) // the slot is free again
	})
}

func TestAbuseSecurityHeaders(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("headers", 0)
		for _, r := range []*response{
			n.do("GET", "/api/v1/usage", key, nil),
			n.do("GET", "/api/v1/usage", "", nil),
			n.do("GET", "/admin/v1/tenants", adminToken, nil),
		} {
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" ||
				r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("status %d: security headers missing: %v", r.Status, r.Header)
			}
			if hsts := r.Header.Get("Strict-Transport-Security"); hsts != "" {
				t.Errorf("Strict-Transport-Security %q sent over plain HTTP", hsts)
			}
		}
		docs := n.do("GET", "/docs", "", nil)
		expectStatus(t, docs, http.StatusOK)
		csp := docs.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("/docs CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("/docs CSP allows inline code: %q", csp)
		}
	})
}

// serveNode runs a node through app.Serve on a real listener (as `serve`
// does), for what httptest cannot show: timeouts, TLS.
func serveNode(t *testing.T, mutate func(*config.Config)) (*app.App, string) {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + t.TempDir() + "/pulsestream.db"
	cfg.AdminToken = adminToken
	cfg.MaintenanceInterval = time.Hour
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	a.Start()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		_ = a.Close()
	})
	return a, ln.Addr().String()
}

func TestAbuseSlowHeadersCutOff(t *testing.T) {
	t.Parallel()
	_, addr := serveNode(t, func(c *config.Config) { c.ReadHeaderTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// Half a request, and then nothing: a slowloris client.
	if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: pulsestream\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // the test's own bound, not the server's
	data, err := io.ReadAll(bufio.NewReader(conn))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a slow-header connection open for 10 s (got %q)", data)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cut off after %v, want about the 200ms ReadHeaderTimeout", took)
	}
	if len(data) > 0 && !strings.HasPrefix(string(data), "HTTP/1.1 408") {
		t.Errorf("answer to a slow client = %q, want nothing or 408", data)
	}

	// Oversized headers are refused as well.
	big, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	_, _ = big.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n"))
	_ = big.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(big).ReadString('\n')
	if !strings.Contains(line, "431") {
		t.Errorf("a 200 KiB header got %q, want 431", line)
	}
}

func TestProductionRefusesUnsafeStart(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + t.TempDir() + "/pulsestream.db"
	cfg.Env = "production"
	_, err := app.New(context.Background(), cfg, app.Options{})
	if err == nil {
		t.Fatal("production started without a secret key, TLS or an admin token")
	}
	for _, want := range []string{"PULSESTREAM_SECRET_KEY", "--tls-cert", "--trusted-proxies", "PULSESTREAM_ADMIN_TOKEN", "--metrics-token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not name %s: %v", want, err)
		}
	}
}
