package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/apidocs"
	"github.com/pulsestream/pulsestream/internal/config"
)

func TestOpsHealthAndReady(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		for _, path := range []string{"/health", "/ready"} {
			r := n.do("GET", path, "", nil)
			expectStatus(t, r, http.StatusOK)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s Content-Type = %q", path, r.Header.Get("Content-Type"))
			}
			r.JSON(t)
		}
	})
}

func TestOpsMetrics(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("metrics", 0)
		n.ingest(key, event(map[string]any{"external_id": "m"}))
		expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "m"})), http.StatusOK)
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"severity": "x"})), "severity")
		r := n.do("GET", "/metrics", "", nil)
		expectStatus(t, r, http.StatusOK)
		body := string(r.Body)
		for _, re := range []string{
			`(?m)^pulsestream_http_requests_total\{[^}]*method="POST",route="/api/v1/events"[^}]*status="201"[^}]*\} 1$`,
			`(?m)^pulsestream_http_requests_total\{[^}]*method="POST",route="/api/v1/events"[^}]*status="422"[^}]*\} 1$`,
			`(?m)^pulsestream_http_request_duration_seconds_bucket\{[^}]*method="POST",route="/api/v1/events"`,
			`(?m)^pulsestream_events_total\{[^}]*outcome="created"[^}]*\} 1$`,
			`(?m)^pulsestream_events_total\{[^}]*outcome="duplicate"[^}]*\} 1$`,
			`(?m)^pulsestream_events_total\{[^}]*outcome="rejected"[^}]*\} 1$`,
			`(?m)^pulsestream_rejected_events_total\{[^}]*reason="severity.invalid"[^}]*\} 1$`,
			// two requests reached the store, one after the other: two groups of one event
			`(?m)^pulsestream_commit_group_events_sum 2$`,
			`(?m)^pulsestream_commit_group_requests_count 2$`,
			`(?m)^pulsestream_commit_seconds_bucket\{le="\+Inf"\} 2$`,
			`(?m)^pulsestream_commit_failures_total 0$`,
			`(?m)^pulsestream_commit_queue_full_total 0$`,
			`(?m)^pulsestream_commit_queue_waiting 0$`,
		} {
			if !regexp.MustCompile(re).MatchString(body) {
				t.Errorf("/metrics lacks %s", re)
			}
		}
		if strings.Contains(body, key) {
			t.Error("/metrics shows an API key")
		}
	})
}

func TestOpsRequestID(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		r := n.do("GET", "/health", "", nil, "X-Request-ID", "client-req-42")
		if got := r.Header.Get("X-Request-ID"); got != "client-req-42" {
			t.Errorf("X-Request-ID = %q, want the client's", got)
		}
		a, b := n.do("GET", "/health", "", nil), n.do("GET", "/health", "", nil)
		ida, idb := a.Header.Get("X-Request-ID"), b.Header.Get("X-Request-ID")
		if len(ida) < 8 || ida == idb {
			t.Errorf("generated request ids %q and %q", ida, idb)
		}
		// A hostile id is replaced, not echoed.
		for _, bad := range []string{"a b", strings.Repeat("x", 500), "<script>"} {
			r := n.do("GET", "/health", "", nil, "X-Request-ID", bad)
			if got := r.Header.Get("X-Request-ID"); got == bad || got == "" {
				t.Errorf("X-Request-ID %q answered with %q", bad, got)
			}
		}
		// Problems carry the same id.
		r = n.do("GET", "/api/v1/events", "", nil, "X-Request-ID", "trace-me")
		if m := problem(t, r, http.StatusUnauthorized); m["request_id"] != "trace-me" || r.Header.Get("X-Request-ID") != "trace-me" {
			t.Errorf("problem request_id = %v", m["request_id"])
		}
	})
}

func TestOpsDocs(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		r := n.do("GET", "/openapi.json", "", nil)
		expectStatus(t, r, http.StatusOK)
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("/openapi.json: %v", err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.1") || len(doc.Paths) == 0 {
			t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
		}
		if _, ok := doc.Paths["/api/v1/events"]["post"]; !ok {
			t.Error("the document lacks POST /api/v1/events")
		}

		r = n.do("GET", "/docs", "", nil)
		expectStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(string(r.Body)), "<html") {
			t.Fatalf("/docs is not HTML: %q", r.Header.Get("Content-Type"))
		}
		csp := r.Header.Get("Content-Security-Policy")
		if csp == "" || !strings.Contains(csp, "default-src") {
			t.Fatalf("/docs CSP = %q", csp)
		}
		// Works offline: every script and style sheet comes from this server.
		for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(r.Body), -1) {
			u := m[1]
			if strings.Contains(u, "//") {
				t.Errorf("/docs loads %s from elsewhere", u)
				continue
			}
			if strings.HasPrefix(u, "/") {
				expectStatus(t, n.do("GET", u, "", nil), http.StatusOK)
			}
		}
	})
}

// TestOpsEveryRouteDocumented fails when the server registers a route that
// the OpenAPI document lacks.
func TestOpsEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		documented := apidocs.Routes()
		routes := n.App.Server().Routes()
		if len(routes) < 10 {
			t.Fatalf("the server lists only %d routes: %v", len(routes), routes)
		}
		for _, rt := range routes {
			if !slices.Contains(documented, rt) {
				t.Errorf("route %q is not in openapi.json", rt)
			}
		}
		for _, d := range documented {
			if !slices.Contains(routes, d) {
				t.Errorf("openapi.json documents %q, which the server does not serve", d)
			}
		}
	})
}

func TestOpsUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("routes", 0)
		for _, path := range []string{"/nope", "/api/v2/events", "/api/v1/eventz", "/admin/v1/nothing"} {
			problem(t, n.do("GET", path, key, nil), http.StatusNotFound)
		}
		for _, c := range []struct{ method, path string }{
			{"DELETE", "/api/v1/events"},
			{"PUT", "/api/v1/events/batch"},
			{"GET", "/api/v1/events/batch"}, // not an id either: a 404 would also be fair
			{"POST", "/health"},
			{"DELETE", "/admin/v1/tenants"},
		} {
			r := n.do(c.method, c.path, key, nil)
			if c.method == "GET" && r.Status == http.StatusNotFound {
				problem(t, r, http.StatusNotFound)
				continue
			}
			problem(t, r, http.StatusMethodNotAllowed)
			if r.Header.Get("Allow") == "" {
				t.Errorf("%s %s: 405 without Allow", c.method, c.path)
			}
		}
	})
}

// TestOpsProblemsLeakNothing provokes errors of every kind and checks the
// problem documents for internals.
func TestOpsProblemsLeakNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("leaks", 0)
		cases := []struct {
			method, path string
			body         any
			status       int
		}{
			{"GET", "/api/v1/events?service=' UNION SELECT * FROM tenants --", nil, 200},
			{"GET", "/api/v1/events?limit=1%3BDROP TABLE events", nil, 422},
			{"GET", "/api/v1/events?cursor=' OR 1=1", nil, 422},
			{"GET", "/api/v1/events/' OR '1'='1", nil, 404},
			{"GET", "/api/v1/events/00000000-0000-0000-0000-000000000000", nil, 404},
			{"POST", "/api/v1/events", `{"event_type":"a","service":"b","timestamp":"9999-99-99"}`, 422},
			{"POST", "/api/v1/events", `{"event_type":"a","service":"b","tags":{"k":"` + strings.Repeat("v", 300) + `"}}`, 422},
			{"POST", "/api/v1/events", `{"event_type":"a","service":"b","payload":{"a":` + strings.Repeat("[", 20000) + `}}`, 400},
			{"POST", "/admin/v1/tenants", `{"name":1}`, 422},
		}
		for _, c := range cases {
			auth := key
			if strings.HasPrefix(c.path, "/admin") {
				auth = adminToken
			}
			r := n.do(c.method, strings.ReplaceAll(c.path, " ", "%20"), auth, c.body)
			if r.Status != c.status && !(c.status == 400 && r.Status == 422) {
				t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, r.Status, c.status, r.Body)
			}
			if r.Status >= 400 {
				problem(t, r, r.Status)
			} else {
				checkNoLeak(t, r)
			}
		}
	})
}

// TestOpsMetricsTokenAndNoTenantIDs: with --metrics-token, /metrics needs
// Authorization: Bearer <token>; and no series names a tenant, even for a
// tenant whose events were refused by its quota.
func TestOpsMetricsTokenAndNoTenantIDs(t *testing.T) {
	t.Parallel()
	const metricsToken = "a-scrape-token-for-prometheus"
	eachBackendCfg(t, func(c *config.Config) { c.MetricsToken = metricsToken }, func(t *testing.T, n *node) {
		id, key := n.tenant("scraped", 1)
		expectStatus(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusCreated)
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusTooManyRequests)

		for _, cred := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"X-API-Key", metricsToken}, {"Authorization", "Bearer " + adminToken}} {
			r := n.do("GET", "/metrics", "", nil, cred...)
			problem(t, r, http.StatusUnauthorized)
			if strings.Contains(string(r.Body), "pulsestream_") {
				t.Errorf("refused scrape (%v) shows metrics", cred)
			}
		}
		r := n.do("GET", "/metrics", metricsToken, nil)
		expectStatus(t, r, http.StatusOK)
		body := string(r.Body)
		if !regexp.MustCompile(`(?m)^pulsestream_rate_limited_events_total 1$`).MatchString(body) {
			t.Errorf("/metrics lacks the unlabelled pulsestream_rate_limited_events_total 1")
		}
		if strings.Contains(body, id) || strings.Contains(body, `tenant="`) {
			t.Errorf("/metrics names a tenant")
		}
	})
}
