package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/apidocs"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

type auditEntry struct {
	ID        string         `json:"id"`
	TenantID  string         `json:"tenant_id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	SourceIP  string         `json:"source_ip"`
	RequestID string         `json:"request_id"`
	Before    map[string]any `json:"before"`
	After     map[string]any `json:"after"`
}

// auditLog reads every page of an audit-log route.
func auditLog(t *testing.T, n *node, path, key string) ([]auditEntry, string) {
	t.Helper()
	var all []auditEntry
	var raw strings.Builder
	cursor := ""
	for range 100 {
		p := path + "?limit=2"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		r := n.do("GET", p, key, nil)
		expectStatus(t, r, http.StatusOK)
		raw.Write(r.Body)
		var page struct {
			Entries []auditEntry `json:"entries"`
			Next    *string      `json:"next_cursor"`
		}
		mustUnmarshal(t, r.Body, &page)
		all = append(all, page.Entries...)
		if page.Next == nil {
			return all, raw.String()
		}
		cursor = *page.Next
	}
	t.Fatal("audit log pages never end")
	return nil, ""
}

// auditWalk is the state TestAuditEveryMutatingRoute's fixtures share: a
// tenant, its admin-scope key, a webhook receiver that refuses every
// delivery (so notifications fail and can be retried) and every secret
// handed out, which the audit log must never contain.
type auditWalk struct {
	t        *testing.T
	n        *node
	tenantID string
	key      string
	rc       *receiver
	secrets  []string
	alertID  string // a fired alert and its failed notification, made once
	noteID   string
}

// auditCall is the request a fixture built (after making what it needs)
// and the audit entry it must leave: action on target in tenant (default:
// the walk's tenant; set by the fixture when the request makes a tenant).
type auditCall struct {
	method, path, key string
	body              any
	status            int
	action, target    string
	tenant            func(r *response) string
}

// auditFixture builds a valid request for one route; exempt routes say why
// instead.
type auditFixture struct {
	build  func(w *auditWalk) auditCall
	exempt string
}

func (w *auditWalk) json(r *response, status int) map[string]any {
	w.t.Helper()
	expectStatus(w.t, r, status)
	return r.JSON(w.t)
}

const walkPassword = "walked-password-never-audited"

// user creates a user through the admin API and returns its id.
func (w *auditWalk) user() string {
	w.secrets = append(w.secrets, walkPassword)
	m := w.json(w.n.do("POST", "/admin/v1/users", adminToken,
		map[string]any{"email": "walk-" + pulse.NewID() + "@example.com", "password": walkPassword}), http.StatusCreated)
	return m["id"].(string)
}

func (w *auditWalk) apiKey() string {
	m := w.json(w.n.do("POST", "/api/v1/api-keys", w.key, map[string]any{"name": "walk"}), http.StatusCreated)
	w.secrets = append(w.secrets, m["key"].(string))
	return m["api_key"].(map[string]any)["id"].(string)
}

// rule creates a rule with a webhook secret the walk remembers.
func (w *auditWalk) rule() string {
	m := w.json(w.n.do("POST", "/api/v1/alert-rules", w.key, errorRule(w.rc.URL)), http.StatusCreated)
	w.secrets = append(w.secrets, m["notify"].([]any)[0].(map[string]any)["secret"].(string))
	return m["id"].(string)
}

// fired makes (once) an alert whose notification failed.
func (w *auditWalk) fired() (alertID, noteID string) {
	if w.alertID == "" {
		rule := w.rule()
		w.n.sendEvents(w.key, 6, errEvent)
		w.n.tick()
		alerts := w.n.alerts(w.key, "?rule_id="+rule)
		if len(alerts) != 1 {
			w.t.Fatalf("%d alerts of the walk's rule, want 1", len(alerts))
		}
		w.alertID = alerts[0].(map[string]any)["id"].(string)
		eventually(w.t, "the failed notification", func() bool {
			notes := w.n.notifications(w.key, w.alertID)
			return len(notes) == 1 && notes[0].(map[string]any)["status"] == "failed"
		})
		w.noteID = w.n.notifications(w.key, w.alertID)[0].(map[string]any)["id"].(string)
	}
	return w.alertID, w.noteID
}

const walkWebhookSecret = "whsec_" + "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1hdWRpdGVk"

// auditFixtures has one entry per mutating route of the OpenAPI document,
// keyed "METHOD /path" as apidocs.Routes spells them. A new route without
// an entry fails TestAuditEveryMutatingRoute: say how to call it and what
// it records, or why it is exempt.
var auditFixtures = map[string]auditFixture{
	"POST /api/v1/events": {exempt: "ingestion: every event is counted in usage and kept with its key id; " +
		"an audit row per event would double the write path"},
	"POST /api/v1/events/batch":                       {exempt: "ingestion, as POST /api/v1/events"},
	"POST /v1/logs":                                   {exempt: "ingestion (OTLP logs), as POST /api/v1/events"},
	"POST /api/v1/ingest/elasticsearch/_bulk":         {exempt: "ingestion (Elasticsearch bulk API), as POST /api/v1/events"},
	"POST /api/v1/ingest/elasticsearch/{index}/_bulk": {exempt: "ingestion (Elasticsearch bulk API), as POST /api/v1/events"},

	"POST /admin/v1/tenants": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/admin/v1/tenants", key: adminToken, body: map[string]any{"name": "walked"},
			status: http.StatusCreated, action: "tenant.create",
			tenant: func(r *response) string {
				m := r.JSON(w.t)
				w.secrets = append(w.secrets, m["api_key"].(string))
				return m["tenant"].(map[string]any)["id"].(string)
			}}
	}},
	"PATCH /admin/v1/tenants/{id}": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "PATCH", path: "/admin/v1/tenants/" + w.tenantID, key: adminToken,
			body: map[string]any{"rate_limit_per_minute": 5000}, status: http.StatusOK,
			action: "tenant.update", target: "tenant/" + w.tenantID}
	}},
	"POST /admin/v1/tenants/{id}/api-keys": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/admin/v1/tenants/" + w.tenantID + "/api-keys", key: adminToken,
			body: map[string]any{"name": "ci"}, status: http.StatusCreated, action: "api_key.create"}
	}},
	"DELETE /admin/v1/tenants/{id}/api-keys/{key_id}": {build: func(w *auditWalk) auditCall {
		id := w.apiKey()
		return auditCall{method: "DELETE", path: "/admin/v1/tenants/" + w.tenantID + "/api-keys/" + id, key: adminToken,
			status: http.StatusNoContent, action: "api_key.revoke", target: "api_key/" + id}
	}},
	"POST /admin/v1/tenants/{id}/api-keys/{key_id}/rotate": {build: func(w *auditWalk) auditCall {
		id := w.apiKey()
		return auditCall{method: "POST", path: "/admin/v1/tenants/" + w.tenantID + "/api-keys/" + id + "/rotate", key: adminToken,
			status: http.StatusCreated, action: "api_key.rotate", target: "api_key/" + id}
	}},
	"POST /admin/v1/users": {build: func(w *auditWalk) auditCall {
		w.secrets = append(w.secrets, walkPassword)
		return auditCall{method: "POST", path: "/admin/v1/users", key: adminToken,
			body:   map[string]any{"email": "walked-" + pulse.NewID() + "@example.com", "password": walkPassword},
			status: http.StatusCreated, action: "user.create", tenant: func(*response) string { return "" }}
	}},
	"PATCH /admin/v1/users/{id}": {build: func(w *auditWalk) auditCall {
		id := w.user()
		return auditCall{method: "PATCH", path: "/admin/v1/users/" + id, key: adminToken, body: map[string]any{"name": "Renamed"},
			status: http.StatusOK, action: "user.update", target: "user/" + id, tenant: func(*response) string { return "" }}
	}},
	"PUT /admin/v1/tenants/{id}/members/{user_id}": {build: func(w *auditWalk) auditCall {
		id := w.user()
		return auditCall{method: "PUT", path: "/admin/v1/tenants/" + w.tenantID + "/members/" + id, key: adminToken,
			body: map[string]any{"role": "viewer"}, status: http.StatusCreated, action: "member.add", target: "member/" + id}
	}},
	"DELETE /admin/v1/tenants/{id}/members/{user_id}": {build: func(w *auditWalk) auditCall {
		id := w.user()
		w.json(w.n.do("PUT", "/admin/v1/tenants/"+w.tenantID+"/members/"+id, adminToken, map[string]any{"role": "viewer"}), http.StatusCreated)
		return auditCall{method: "DELETE", path: "/admin/v1/tenants/" + w.tenantID + "/members/" + id, key: adminToken,
			status: http.StatusNoContent, action: "member.remove", target: "member/" + id}
	}},
	"PUT /api/v1/members/{user_id}": {build: func(w *auditWalk) auditCall {
		id := w.user()
		w.json(w.n.do("PUT", "/admin/v1/tenants/"+w.tenantID+"/members/"+id, adminToken, map[string]any{"role": "viewer"}), http.StatusCreated)
		return auditCall{method: "PUT", path: "/api/v1/members/" + id, key: w.key,
			body: map[string]any{"role": "member"}, status: http.StatusOK, action: "member.change_role", target: "member/" + id}
	}},
	"DELETE /api/v1/members/{user_id}": {build: func(w *auditWalk) auditCall {
		id := w.user()
		w.json(w.n.do("PUT", "/admin/v1/tenants/"+w.tenantID+"/members/"+id, adminToken, map[string]any{"role": "viewer"}), http.StatusCreated)
		return auditCall{method: "DELETE", path: "/api/v1/members/" + id, key: w.key,
			status: http.StatusNoContent, action: "member.remove", target: "member/" + id}
	}},
	"POST /api/v1/api-keys": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/api/v1/api-keys", key: w.key, body: map[string]any{"name": "self"},
			status: http.StatusCreated, action: "api_key.create"}
	}},
	"DELETE /api/v1/users/{user_id}/events": {build: func(w *auditWalk) auditCall {
		w.n.ingest(w.key, event(map[string]any{"user_id": "walk-user"}))
		return auditCall{method: "DELETE", path: "/api/v1/users/walk-user/events", key: w.key,
			status: http.StatusOK, action: "user_events.erase", target: subjectTarget("walk-user")}
	}},
	"DELETE /api/v1/api-keys/{id}": {build: func(w *auditWalk) auditCall {
		id := w.apiKey()
		return auditCall{method: "DELETE", path: "/api/v1/api-keys/" + id, key: w.key,
			status: http.StatusNoContent, action: "api_key.revoke", target: "api_key/" + id}
	}},
	"POST /api/v1/api-keys/{id}/rotate": {build: func(w *auditWalk) auditCall {
		id := w.apiKey()
		return auditCall{method: "POST", path: "/api/v1/api-keys/" + id + "/rotate", key: w.key,
			body: map[string]any{"grace_period_seconds": 0}, status: http.StatusCreated,
			action: "api_key.rotate", target: "api_key/" + id}
	}},
	"POST /api/v1/signing-secrets": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/api/v1/signing-secrets", key: w.key, body: map[string]any{"name": "ci"},
			status: http.StatusCreated, action: "signing_secret.create"}
	}},
	"DELETE /api/v1/signing-secrets/{id}": {build: func(w *auditWalk) auditCall {
		m := w.json(w.n.do("POST", "/api/v1/signing-secrets", w.key, map[string]any{"name": "gone"}), http.StatusCreated)
		w.secrets = append(w.secrets, m["secret"].(string))
		id := m["signing_secret"].(map[string]any)["id"].(string)
		return auditCall{method: "DELETE", path: "/api/v1/signing-secrets/" + id, key: w.key,
			status: http.StatusNoContent, action: "signing_secret.revoke", target: "signing_secret/" + id}
	}},
	"POST /api/v1/alert-rules": {build: func(w *auditWalk) auditCall {
		rule := errorRule(w.rc.URL)
		rule["notify"] = []any{map[string]any{"type": "webhook", "url": w.rc.URL, "secret": walkWebhookSecret}}
		return auditCall{method: "POST", path: "/api/v1/alert-rules", key: w.key, body: rule,
			status: http.StatusCreated, action: "alert_rule.create"}
	}},
	"PUT /api/v1/alert-rules/{id}": {build: func(w *auditWalk) auditCall {
		id := w.rule()
		rule := errorRule(w.rc.URL)
		rule["name"] = "renamed"
		rule["notify"] = []any{map[string]any{"type": "webhook", "url": w.rc.URL, "secret": walkWebhookSecret}}
		return auditCall{method: "PUT", path: "/api/v1/alert-rules/" + id, key: w.key, body: rule,
			status: http.StatusOK, action: "alert_rule.update", target: "alert_rule/" + id}
	}},
	"PATCH /api/v1/alert-rules/{id}": {build: func(w *auditWalk) auditCall {
		id := w.rule()
		return auditCall{method: "PATCH", path: "/api/v1/alert-rules/" + id, key: w.key, body: map[string]any{"enabled": false},
			status: http.StatusOK, action: "alert_rule.update", target: "alert_rule/" + id}
	}},
	"DELETE /api/v1/alert-rules/{id}": {build: func(w *auditWalk) auditCall {
		id := w.rule()
		return auditCall{method: "DELETE", path: "/api/v1/alert-rules/" + id, key: w.key,
			status: http.StatusNoContent, action: "alert_rule.delete", target: "alert_rule/" + id}
	}},
	"POST /api/v1/alert-rules/preview": {exempt: "changes nothing: evaluates a rule body over stored events, stores and sends nothing"},
	"POST /api/v1/alert-rules/{id}/test": {build: func(w *auditWalk) auditCall {
		id := w.rule()
		return auditCall{method: "POST", path: "/api/v1/alert-rules/" + id + "/test", key: w.key,
			status: http.StatusAccepted, action: "alert_rule.test", target: "alert_rule/" + id}
	}},
	"POST /api/v1/alerts/{id}/acknowledge": {build: func(w *auditWalk) auditCall {
		id, _ := w.fired()
		return auditCall{method: "POST", path: "/api/v1/alerts/" + id + "/acknowledge", key: w.key,
			status: http.StatusOK, action: "alert.acknowledge", target: "alert/" + id}
	}},
	"POST /api/v1/notifications/{id}/retry": {build: func(w *auditWalk) auditCall {
		_, id := w.fired()
		return auditCall{method: "POST", path: "/api/v1/notifications/" + id + "/retry", key: w.key,
			status: http.StatusAccepted, action: "notification.retry", target: "notification/" + id}
	}},
	"POST /api/v1/silences": {build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/api/v1/silences", key: w.key,
			body:   map[string]any{"matchers": map[string]any{"service": "checkout"}, "ends_at": ts(w.n.Clock.Now().Add(time.Hour)), "comment": "deploy"},
			status: http.StatusCreated, action: "silence.create"}
	}},
	"DELETE /api/v1/silences/{id}": {build: func(w *auditWalk) auditCall {
		m := w.json(w.n.do("POST", "/api/v1/silences", w.key,
			map[string]any{"matchers": map[string]any{"service": "x"}, "ends_at": ts(w.n.Clock.Now().Add(time.Hour)), "comment": "gone"}), http.StatusCreated)
		id := m["id"].(string)
		return auditCall{method: "DELETE", path: "/api/v1/silences/" + id, key: w.key,
			status: http.StatusNoContent, action: "silence.delete", target: "silence/" + id}
	}},
}

// TestAuditEveryMutatingRoute walks every POST, PUT, PATCH and DELETE
// route of the OpenAPI document (and of the server's mux), calls it with
// its fixture's valid request, and checks that the newest audit entry of
// the tenant is that change: action, target, actor, source IP, request id,
// and no secret anywhere in the log.
func TestAuditEveryMutatingRoute(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			n := startAlertNodeCfg(t, b.url(t), clock, alertOpts(clock), true, func(c *config.Config) {
				behindProxy(c)
				c.WebhookAllowPrivate = true
			})
			tenantID, key := n.tenant("audited", 1000)
			refuse := make([]int, 100)
			for i := range refuse {
				refuse[i] = http.StatusBadRequest // not retried: the notification fails at once
			}
			w := &auditWalk{t: t, n: n, tenantID: tenantID, key: key, rc: newReceiver(t, refuse...),
				secrets: []string{key, adminToken, walkWebhookSecret}}

			routes := apidocs.Routes()
			for _, r := range n.App.Server().Routes() {
				if !slices.Contains(routes, r) {
					routes = append(routes, r)
				}
			}
			for route := range auditFixtures {
				if !slices.Contains(routes, route) {
					t.Errorf("fixture %q names no route of the document", route)
				}
			}
			walked := 0
			for _, route := range routes {
				method, _, _ := strings.Cut(route, " ")
				if method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE" {
					continue
				}
				fx, ok := auditFixtures[route]
				if !ok {
					t.Errorf("%s has no fixture in auditFixtures: add how to call it and the audit entry it leaves", route)
					continue
				}
				if fx.exempt != "" {
					continue
				}
				c := fx.build(w)
				if !strings.HasPrefix(route, c.method+" ") {
					t.Fatalf("fixture of %s sends %s", route, c.method)
				}
				reqID := fmt.Sprintf("walk-%d", walked)
				r := n.do(c.method, c.path, c.key, c.body, "X-Forwarded-For", "203.0.113.77", "X-Request-ID", reqID)
				if r.Status != c.status {
					t.Fatalf("%s: status %d, want %d: %s", route, r.Status, c.status, r.Body)
				}
				tenant := tenantID
				if c.tenant != nil {
					tenant = c.tenant(r)
				}
				page := w.json(n.do("GET", "/admin/v1/audit-log?limit=1&tenant_id="+tenant, adminToken, nil), http.StatusOK)
				var entries []auditEntry
				mustUnmarshal(t, mustMarshal(t, page["entries"]), &entries)
				if len(entries) != 1 || entries[0].RequestID != reqID {
					t.Errorf("%s left no audit entry (newest: %+v)", route, entries)
					continue
				}
				e := entries[0]
				wantActor := "key:"
				if c.key == adminToken {
					wantActor = "admin"
				}
				if e.Action != c.action || (c.target != "" && e.Target != c.target) || e.Target == "" ||
					!strings.HasPrefix(e.Actor, wantActor) || e.SourceIP != "203.0.113.77" || e.TenantID != tenant {
					t.Errorf("%s: audit entry %+v, want action %s target %q by %s… from 203.0.113.77", route, e, c.action, c.target, wantActor)
				}
				if e.Before == nil && e.After == nil {
					t.Errorf("%s: audit entry %s has neither before nor after", route, e.Action)
				}
				walked++
			}
			if walked == 0 {
				t.Fatal("the document lists no mutating route to walk")
			}
			t.Logf("%d mutating routes audited", walked)

			for _, path := range []string{"/api/v1/audit-log", "/admin/v1/audit-log"} {
				k := key
				if strings.HasPrefix(path, "/admin") {
					k = adminToken
				}
				entries, raw := auditLog(t, n, path, k)
				for _, sec := range w.secrets {
					if strings.Contains(raw, sec) {
						t.Errorf("%s contains the secret %s…", path, sec[:8])
					}
				}
				if strings.Contains(raw, "hash") || strings.Contains(raw, "secret_ciphertext") {
					t.Errorf("%s contains key hashes or sealed secrets", path)
				}
				for _, e := range entries {
					if e.Action == "tenant.update" && (e.Before["rate_limit_per_minute"] != 1000.0 || e.After["rate_limit_per_minute"] != 5000.0) {
						t.Errorf("tenant.update before/after = %v / %v", e.Before, e.After)
					}
					if e.Action == "alert.acknowledge" && (e.Before["acknowledged_at"] != nil || e.After["acknowledged_at"] == nil) {
						t.Errorf("alert.acknowledge before/after = %v / %v", e.Before, e.After)
					}
				}
			}
			// Tenants see only their own log; the log is append-only.
			_, otherKey := n.tenant("bystander", 0)
			other, _ := auditLog(t, n, "/api/v1/audit-log", otherKey)
			for _, e := range other {
				if e.TenantID == tenantID {
					t.Errorf("another tenant sees entry %s", e.ID)
				}
			}
			problem(t, n.do("DELETE", "/api/v1/audit-log", key, nil), http.StatusMethodNotAllowed)
			problem(t, n.do("GET", "/api/v1/audit-log?cursor=bogus", key, nil), http.StatusUnprocessableEntity)
			problem(t, n.do("GET", "/api/v1/audit-log?limit=0", key, nil), http.StatusUnprocessableEntity)
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditLogBadParameters: the audit-log routes refuse unknown and
// repeated query parameters with a 422 naming them, as search does.
func TestAuditLogBadParameters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("audit-params", 0)
		for _, c := range []struct{ path, key, field string }{
			{"/api/v1/audit-log?limt=5", key, "limt"},
			{"/api/v1/audit-log?tenant_id=" + tenantID, key, "tenant_id"}, // admin-only filter
			{"/api/v1/audit-log?limit=5&limit=6", key, "limit"},
			{"/api/v1/audit-log?cursor=a&cursor=b", key, "cursor"},
			{"/admin/v1/audit-log?tenant=" + tenantID, adminToken, "tenant"},
			{"/admin/v1/audit-log?tenant_id=" + tenantID + "&tenant_id=x", adminToken, "tenant_id"},
		} {
			t.Run(c.path, func(t *testing.T) {
				invalid(t, n.do("GET", c.path, c.key, nil), c.field)
			})
		}
		expectStatus(t, n.do("GET", "/admin/v1/audit-log?tenant_id="+tenantID+"&limit=5", adminToken, nil), http.StatusOK)
	})
}
