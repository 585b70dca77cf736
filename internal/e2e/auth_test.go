package e2e

import (
	"net/http"
	"testing"
	"time"
)

// newKey creates an API key for tenantID with body (scopes, expires_at, ...)
// and returns its id and secret.
func (n *node) newKey(tenantID string, body map[string]any) (string, string) {
	n.t.Helper()
	r := n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, body)
	expectStatus(n.t, r, http.StatusCreated)
	m := r.JSON(n.t)
	return m["api_key"].(map[string]any)["id"].(string), m["key"].(string)
}

func TestAuthCredentials(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("auth", 0)
		for _, path := range []string{"/api/v1/events", "/api/v1/usage", "/api/v1/events/01900000-0000-7000-8000-000000000000"} {
			r := n.do("GET", path, "", nil)
			problem(t, r, http.StatusUnauthorized)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", path)
			}
		}
		problem(t, n.do("POST", "/api/v1/events", "", event(nil)), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events/batch", "", map[string]any{"events": []any{event(nil)}}), http.StatusUnauthorized)

		unknown := "ps_0123456789abcdefghijABCDEFGHIJ0123456789"
		problem(t, n.do("GET", "/api/v1/events", unknown, nil), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "X-API-Key", unknown), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", key+"x", nil), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", key[:len(key)-1], nil), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "Authorization", "Basic "+key), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "Authorization", key), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", adminToken, nil), http.StatusUnauthorized)

		// Both ways of sending a key work, for reading and for ingesting.
		expectStatus(t, n.do("GET", "/api/v1/events", key, nil), http.StatusOK)
		expectStatus(t, n.do("GET", "/api/v1/events", "", nil, "Authorization", "bearer "+key), http.StatusOK)
		expectStatus(t, n.do("GET", "/api/v1/events", "", nil, "X-API-Key", key), http.StatusOK)
		expectStatus(t, n.do("POST", "/api/v1/events", "", event(nil), "X-API-Key", key), http.StatusCreated)
	})
}

func TestAuthScopes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("scopes", 0)
		id := n.ingest(key, event(nil))
		_, readOnly := n.newKey(tenantID, map[string]any{"name": "reader", "scopes": []string{"read"}})
		_, ingestOnly := n.newKey(tenantID, map[string]any{"scopes": []string{"ingest"}})

		problem(t, n.do("POST", "/api/v1/events", readOnly, event(nil)), http.StatusForbidden)
		problem(t, n.do("POST", "/api/v1/events/batch", readOnly, map[string]any{"events": []any{event(nil)}}), http.StatusForbidden)
		expectStatus(t, n.do("GET", "/api/v1/events", readOnly, nil), http.StatusOK)
		expectStatus(t, n.do("GET", "/api/v1/events/"+id, readOnly, nil), http.StatusOK)
		expectStatus(t, n.do("GET", "/api/v1/usage", readOnly, nil), http.StatusOK)

		n.ingest(ingestOnly, event(nil))
		problem(t, n.do("GET", "/api/v1/events", ingestOnly, nil), http.StatusForbidden)
		problem(t, n.do("GET", "/api/v1/events/"+id, ingestOnly, nil), http.StatusForbidden)
		problem(t, n.do("GET", "/api/v1/usage", ingestOnly, nil), http.StatusForbidden)

		// A tenant key, even with the admin scope, is not the operator token.
		problem(t, n.do("GET", "/admin/v1/tenants", key, nil), http.StatusUnauthorized)

		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"scopes": []string{"write"}}), "scopes")
		if p := n.search(key, nil); len(p.Events) != 2 {
			t.Fatalf("%d events, want 2", len(p.Events))
		}
	})
}

// TestAuthDisabledTenant: disabling takes effect at once on the node that
// made the change and within the key-cache TTL on the others.
func TestAuthDisabledTenant(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("disable", 0)
		other := n.peer(t, nil)
		expectStatus(t, n.do("GET", "/api/v1/events", key, nil), http.StatusOK)
		expectStatus(t, other.do("GET", "/api/v1/events", key, nil), http.StatusOK) // cached on the peer now

		r := n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"disabled": true})
		expectStatus(t, r, http.StatusOK)
		if r.JSON(t)["disabled"] != true {
			t.Fatalf("patch response: %s", r.Body)
		}
		problem(t, n.do("GET", "/api/v1/events", key, nil), http.StatusForbidden)
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusForbidden)

		n.Clock.Advance(3 * time.Second)
		problem(t, other.do("GET", "/api/v1/events", key, nil), http.StatusForbidden)
		problem(t, other.do("POST", "/api/v1/events", key, event(nil)), http.StatusForbidden)

		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"disabled": false}), http.StatusOK)
		n.ingest(key, event(nil))
		n.Clock.Advance(3 * time.Second)
		expectStatus(t, other.do("POST", "/api/v1/events", key, event(nil)), http.StatusCreated)
	})
}

// TestAuthRevokedKey: a revoked key is refused at once on the node that
// revoked it and within 5 s (the fake clock moves 3 s) on every other.
func TestAuthRevokedKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("revoke", 0)
		keyID, second := n.newKey(tenantID, nil)
		other := n.peer(t, nil)
		for _, nd := range []*node{n, other} {
			expectStatus(t, nd.do("GET", "/api/v1/events", second, nil), http.StatusOK)
		}
		expectStatus(t, n.do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/"+keyID, adminToken, nil), http.StatusNoContent)
		problem(t, n.do("GET", "/api/v1/events", second, nil), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", second, event(nil)), http.StatusUnauthorized)

		n.Clock.Advance(3 * time.Second)
		problem(t, other.do("GET", "/api/v1/events", second, nil), http.StatusUnauthorized)
		problem(t, other.do("POST", "/api/v1/events", "", event(nil), "X-API-Key", second), http.StatusUnauthorized)

		// The tenant's other key is untouched, and the list shows the revocation.
		expectStatus(t, n.do("GET", "/api/v1/events", key, nil), http.StatusOK)
		expectStatus(t, other.do("GET", "/api/v1/events", key, nil), http.StatusOK)
		list := n.do("GET", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, nil).JSON(t)["api_keys"].([]any)
		revoked := 0
		for _, k := range list {
			km := k.(map[string]any)
			if km["revoked_at"] != nil {
				revoked++
				if km["id"] != keyID {
					t.Errorf("the wrong key is revoked: %v", km)
				}
			}
		}
		if len(list) != 2 || revoked != 1 {
			t.Fatalf("key list after revoke: %v", list)
		}
		// Revoking again is harmless; an unknown key is 404.
		r := n.do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/"+keyID, adminToken, nil)
		if r.Status != http.StatusNoContent && r.Status != http.StatusNotFound {
			t.Errorf("second revoke: %d", r.Status)
		}
		problem(t, n.do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/01900000-0000-7000-8000-000000000000", adminToken, nil), http.StatusNotFound)
		problem(t, n.do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/not-an-id", adminToken, nil), http.StatusNotFound)
	})
}

func TestAuthExpiredKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, _ := n.tenant("expiry", 0)
		exp := n.Clock.Now().Add(time.Hour)
		_, key := n.newKey(tenantID, map[string]any{"expires_at": exp.Format(time.RFC3339)})
		other := n.peer(t, nil)
		n.ingest(key, event(nil))
		expectStatus(t, other.do("GET", "/api/v1/events", key, nil), http.StatusOK)

		n.Clock.Advance(time.Hour - time.Second)
		expectStatus(t, n.do("GET", "/api/v1/events", key, nil), http.StatusOK)
		n.Clock.Advance(time.Second) // now == expires_at
		problem(t, n.do("GET", "/api/v1/events", key, nil), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusUnauthorized)
		problem(t, other.do("GET", "/api/v1/events", key, nil), http.StatusUnauthorized)

		invalid(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken,
			map[string]any{"expires_at": n.Clock.Now().Add(-time.Minute).Format(time.RFC3339)}), "expires_at")
	})
}
