package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
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

func TestAuditEveryMutatingRoute(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, behindProxy, func(t *testing.T, n *node) {
		from := []string{"X-Forwarded-For", "203.0.113.77", "X-Request-ID", "req-audit-1"}
		r := n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "audited"}, from...)
		expectStatus(t, r, http.StatusCreated)
		tenantID := r.JSON(t)["tenant"].(map[string]any)["id"].(string)
		key := r.JSON(t)["api_key"].(string)
		secrets := []string{key, adminToken}
		_, otherKey := n.tenant("bystander", 0)

		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"rate_limit_per_minute": 500}, from...), http.StatusOK)
		r = n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"name": "ci"}, from...)
		expectStatus(t, r, http.StatusCreated)
		adminMade := r.JSON(t)["api_key"].(map[string]any)["id"].(string)
		secrets = append(secrets, r.JSON(t)["key"].(string))
		r = n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys/"+adminMade+"/rotate", adminToken, nil, from...)
		expectStatus(t, r, http.StatusCreated)
		secrets = append(secrets, r.JSON(t)["key"].(string))
		expectStatus(t, n.do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/"+adminMade, adminToken, nil, from...), http.StatusNoContent)

		r = n.do("POST", "/api/v1/api-keys", key, map[string]any{"name": "self"}, from...)
		expectStatus(t, r, http.StatusCreated)
		selfMade := r.JSON(t)["api_key"].(map[string]any)["id"].(string)
		secrets = append(secrets, r.JSON(t)["key"].(string))
		r = n.do("POST", "/api/v1/api-keys/"+selfMade+"/rotate", key, map[string]any{"grace_period_seconds": 0}, from...)
		expectStatus(t, r, http.StatusCreated)
		secrets = append(secrets, r.JSON(t)["key"].(string))
		expectStatus(t, n.do("DELETE", "/api/v1/api-keys/"+selfMade, key, nil, from...), http.StatusNoContent)
		r = n.do("POST", "/api/v1/signing-secrets", key, map[string]any{"name": "ci"}, from...)
		expectStatus(t, r, http.StatusCreated)
		secretID := r.JSON(t)["signing_secret"].(map[string]any)["id"].(string)
		secrets = append(secrets, r.JSON(t)["secret"].(string))
		expectStatus(t, n.do("DELETE", "/api/v1/signing-secrets/"+secretID, key, nil, from...), http.StatusNoContent)

		entries, raw := auditLog(t, n, "/api/v1/audit-log", key)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
			if e.TenantID != tenantID || e.SourceIP != "203.0.113.77" || e.RequestID != "req-audit-1" || e.Target == "" {
				t.Errorf("entry %+v: wrong tenant, source IP, request id or target", e)
			}
			if strings.HasPrefix(e.Action, "tenant.") || e.Target == "api_key/"+adminMade {
				if e.Actor != "admin" {
					t.Errorf("%s by %q, want admin", e.Action, e.Actor)
				}
			} else if !strings.HasPrefix(e.Actor, "key:") {
				t.Errorf("%s by %q, want key:<id>", e.Action, e.Actor)
			}
		}
		want := []string{ // newest first
			"signing_secret.revoke", "signing_secret.create", "api_key.revoke", "api_key.rotate", "api_key.create",
			"api_key.revoke", "api_key.rotate", "api_key.create", "tenant.update", "tenant.create",
		}
		if !slices.Equal(actions, want) {
			t.Errorf("audit actions = %v\nwant %v", actions, want)
		}
		for _, e := range entries {
			if e.Action == "tenant.update" && (e.Before["rate_limit_per_minute"] != 100.0 || e.After["rate_limit_per_minute"] != 500.0) {
				t.Errorf("tenant.update before/after = %v / %v", e.Before, e.After)
			}
		}
		admin, adminRaw := auditLog(t, n, "/admin/v1/audit-log", adminToken)
		if len(admin) < len(entries)+1 { // + the bystander's creation
			t.Errorf("admin audit log has %d entries, want ≥ %d", len(admin), len(entries)+1)
		}
		for _, s := range secrets {
			if strings.Contains(raw, s) || strings.Contains(adminRaw, s) {
				t.Errorf("the audit log contains the secret %s…", s[:8])
			}
			if strings.Contains(raw, "hash") {
				t.Errorf("the audit log contains key hashes")
			}
		}
		// Tenants see only their own log; the log is append-only.
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
