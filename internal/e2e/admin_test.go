package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var apiKeyRE = regexp.MustCompile(`^ps_[0-9A-Za-z]{32,}$`)

func TestAdminToken(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("admin-auth", 0)
		routes := []struct{ method, path string }{
			{"GET", "/admin/v1/tenants"},
			{"POST", "/admin/v1/tenants"},
			{"GET", "/admin/v1/tenants/" + tenantID},
			{"PATCH", "/admin/v1/tenants/" + tenantID},
			{"GET", "/admin/v1/tenants/" + tenantID + "/api-keys"},
			{"POST", "/admin/v1/tenants/" + tenantID + "/api-keys"},
			{"DELETE", "/admin/v1/tenants/" + tenantID + "/api-keys/01900000-0000-7000-8000-000000000000"},
			{"GET", "/admin/v1/users"},
			{"POST", "/admin/v1/users"},
			{"PATCH", "/admin/v1/users/01900000-0000-7000-8000-000000000000"},
			{"GET", "/admin/v1/tenants/" + tenantID + "/members"},
			{"PUT", "/admin/v1/tenants/" + tenantID + "/members/01900000-0000-7000-8000-000000000000"},
			{"DELETE", "/admin/v1/tenants/" + tenantID + "/members/01900000-0000-7000-8000-000000000000"},
		}
		// Every route refuses a missing token; one route is tried with every
		// kind of wrong token (few enough failures to stay under the
		// per-address limit on failed authentications).
		for i, rt := range routes {
			var body any
			if rt.method == "POST" || rt.method == "PATCH" {
				body = map[string]any{"name": "x", "disabled": true}
			}
			creds := [][]string{nil}
			if i == 3 {
				creds = append(creds,
					[]string{"Authorization", "Bearer wrong-token"},
					[]string{"Authorization", "Bearer " + adminToken + "x"},
					[]string{"Authorization", "Bearer " + key},
					[]string{"Authorization", adminToken})
			}
			for _, cred := range creds {
				r := n.do(rt.method, rt.path, "", body, cred...)
				problem(t, r, http.StatusUnauthorized)
			}
		}
		// Nothing changed.
		r := n.do("GET", "/admin/v1/tenants", adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		if ts := r.JSON(t)["tenants"].([]any); len(ts) != 1 || ts[0].(map[string]any)["disabled"] != false {
			t.Fatalf("tenants after refused requests: %s", r.Body)
		}
		r = n.do("GET", "/admin/v1/users", adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		if us := r.JSON(t)["users"].([]any); len(us) != 0 {
			t.Fatalf("users after refused requests: %s", r.Body)
		}
		// X-API-Key does not carry the admin token (Authorization only).
		problem(t, n.do("GET", "/admin/v1/tenants", "", nil, "X-API-Key", adminToken), http.StatusUnauthorized)
	})
}

func TestAdminTenants(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		r := n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "  Acme  "})
		expectStatus(t, r, http.StatusCreated)
		m := r.JSON(t)
		key, _ := m["api_key"].(string)
		if !apiKeyRE.MatchString(key) {
			t.Fatalf("api_key %q is not ps_ + ≥ 32 base62 characters", key)
		}
		tn := m["tenant"].(map[string]any)
		id := tn["id"].(string)
		if !uuidRE.MatchString(id) || tn["name"] != "Acme" || tn["rate_limit_per_minute"] != 100.0 || tn["retention_days"] != 30.0 || tn["disabled"] != false {
			t.Fatalf("tenant with defaults: %v", tn)
		}
		if c, err := time.Parse(time.RFC3339Nano, tn["created_at"].(string)); err != nil || c.Sub(n.Clock.Now()).Abs() > time.Second {
			t.Errorf("created_at = %v, want about %v", tn["created_at"], n.Clock.Now())
		}
		n.ingest(key, event(nil))

		r = n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "Beta", "rate_limit_per_minute": 500, "retention_days": 7})
		expectStatus(t, r, http.StatusCreated)
		beta := r.JSON(t)["tenant"].(map[string]any)
		if beta["rate_limit_per_minute"] != 500.0 || beta["retention_days"] != 7.0 {
			t.Fatalf("tenant with limits: %v", beta)
		}
		if beta["id"] == id {
			t.Fatal("two tenants share an id")
		}

		r = n.do("GET", "/admin/v1/tenants", adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		list := r.JSON(t)["tenants"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["id"] != id || list[1].(map[string]any)["id"] != beta["id"] {
			t.Fatalf("tenant list: %s", r.Body)
		}
		if strings.Contains(string(r.Body), key) {
			t.Fatal("tenant list shows an API key")
		}

		r = n.do("GET", "/admin/v1/tenants/"+id, adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		if g := r.JSON(t); g["name"] != "Acme" || g["id"] != id {
			t.Fatalf("get tenant: %s", r.Body)
		}

		r = n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, map[string]any{"name": "Acme Corp", "rate_limit_per_minute": 250, "retention_days": 90})
		expectStatus(t, r, http.StatusOK)
		if p := r.JSON(t); p["name"] != "Acme Corp" || p["rate_limit_per_minute"] != 250.0 || p["retention_days"] != 90.0 || p["disabled"] != false {
			t.Fatalf("patched tenant: %s", r.Body)
		}
		r = n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, map[string]any{"disabled": true})
		expectStatus(t, r, http.StatusOK)
		if g := n.do("GET", "/admin/v1/tenants/"+id, adminToken, nil).JSON(t); g["name"] != "Acme Corp" || g["rate_limit_per_minute"] != 250.0 || g["disabled"] != true {
			t.Fatalf("a partial patch changed other fields: %v", g)
		}

		// Unknown tenants.
		for _, bad := range []string{"01900000-0000-7000-8000-000000000000", "not-a-uuid", "01900000-0000-7000-8000-00000000000G"} {
			problem(t, n.do("GET", "/admin/v1/tenants/"+bad, adminToken, nil), http.StatusNotFound)
			problem(t, n.do("PATCH", "/admin/v1/tenants/"+bad, adminToken, map[string]any{"name": "x"}), http.StatusNotFound)
			problem(t, n.do("GET", "/admin/v1/tenants/"+bad+"/api-keys", adminToken, nil), http.StatusNotFound)
			problem(t, n.do("POST", "/admin/v1/tenants/"+bad+"/api-keys", adminToken, map[string]any{}), http.StatusNotFound)
		}
	})
}

func TestAdminValidation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"name": "   "}, "name"},
			{map[string]any{}, "name"},
			{map[string]any{"name": strings.Repeat("n", 129)}, "name"},
			{map[string]any{"name": "a\x00b"}, "name"},
			{map[string]any{"name": "x", "rate_limit_per_minute": 0}, "rate_limit_per_minute"},
			{map[string]any{"name": "x", "rate_limit_per_minute": -5}, "rate_limit_per_minute"},
			{map[string]any{"name": "x", "rate_limit_per_minute": "100"}, "rate_limit_per_minute"},
			{map[string]any{"name": "x", "retention_days": 0}, "retention_days"},
			{map[string]any{"name": "x", "retention_days": 3651}, "retention_days"},
			{map[string]any{"name": "x", "color": "red"}, "color"},
		} {
			t.Run("create "+c.field, func(t *testing.T) {
				invalid(t, n.do("POST", "/admin/v1/tenants", adminToken, c.body), c.field)
			})
		}
		problem(t, n.do("POST", "/admin/v1/tenants", adminToken, "{not json"), http.StatusBadRequest)
		problem(t, n.do("POST", "/admin/v1/tenants", adminToken, `{"name":"x"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
		if r := n.do("GET", "/admin/v1/tenants", adminToken, nil); len(r.JSON(t)["tenants"].([]any)) != 0 {
			t.Fatalf("refused requests created tenants: %s", r.Body)
		}

		id, _ := n.tenant("valid", 0)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"rate_limit_per_minute": 0}, "rate_limit_per_minute"},
			{map[string]any{"rate_limit_per_minute": -1}, "rate_limit_per_minute"},
			{map[string]any{"retention_days": 0}, "retention_days"},
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"disabled": "yes"}, "disabled"},
			{map[string]any{"id": "01900000-0000-7000-8000-000000000000"}, "id"},
		} {
			t.Run("patch "+c.field, func(t *testing.T) {
				invalid(t, n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, c.body), c.field)
			})
		}
		g := n.do("GET", "/admin/v1/tenants/"+id, adminToken, nil).JSON(t)
		if g["name"] != "valid" || g["rate_limit_per_minute"] != 100.0 || g["retention_days"] != 30.0 || g["disabled"] != false {
			t.Fatalf("refused patches changed the tenant: %v", g)
		}
	})
}

func TestAdminKeys(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, first := n.tenant("keys", 0)
		exp := n.Clock.Now().Add(24 * time.Hour).Truncate(time.Second)
		r := n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken,
			map[string]any{"name": "ci", "scopes": []string{"ingest", "read"}, "expires_at": exp.Format(time.RFC3339)})
		expectStatus(t, r, http.StatusCreated)
		m := r.JSON(t)
		secret := m["key"].(string)
		k := m["api_key"].(map[string]any)
		if !apiKeyRE.MatchString(secret) || k["name"] != "ci" || !strings.HasPrefix(secret, k["prefix"].(string)) || len(k["prefix"].(string)) >= len(secret)/2 {
			t.Fatalf("created key: %s", r.Body)
		}
		if sc := k["scopes"].([]any); len(sc) != 2 || sc[0] != "ingest" || sc[1] != "read" {
			t.Fatalf("scopes = %v", sc)
		}
		if e, err := time.Parse(time.RFC3339Nano, k["expires_at"].(string)); err != nil || !e.Equal(exp) {
			t.Fatalf("expires_at = %v, want %v", k["expires_at"], exp)
		}
		n.ingest(secret, event(nil))

		// A key with no scopes gets all three.
		r = n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{})
		expectStatus(t, r, http.StatusCreated)
		if sc := r.JSON(t)["api_key"].(map[string]any)["scopes"].([]any); len(sc) != 3 {
			t.Fatalf("default scopes = %v", sc)
		}

		r = n.do("GET", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		list := r.JSON(t)["api_keys"].([]any)
		if len(list) != 3 {
			t.Fatalf("key list: %s", r.Body)
		}
		for _, s := range []string{first, secret, `"hash"`} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("key list shows %q: %s", s, r.Body)
			}
		}
		for _, k := range list {
			km := k.(map[string]any)
			if !uuidRE.MatchString(km["id"].(string)) || km["tenant_id"] != tenantID || km["revoked_at"] != nil {
				t.Errorf("listed key: %v", km)
			}
		}

		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"name": strings.Repeat("k", 129)}), "name")
		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"scopes": "read"}), "scopes")
		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"expires_at": "tomorrow"}), "expires_at")
		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"secret": "ps_mine"}), "secret")
		if l := n.do("GET", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, nil).JSON(t)["api_keys"].([]any); len(l) != 3 {
			t.Fatalf("refused requests created keys: %d keys", len(l))
		}
	})
}
