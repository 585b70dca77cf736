package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// keyID returns the id of the key secret belongs to, through the tenant API.
func keyID(t *testing.T, n *node, adminKey, secret string) string {
	t.Helper()
	r := n.do("GET", "/api/v1/api-keys", adminKey, nil)
	expectStatus(t, r, http.StatusOK)
	var out struct {
		Keys []struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
		} `json:"api_keys"`
	}
	mustUnmarshal(t, r.Body, &out)
	for _, k := range out.Keys {
		if strings.HasPrefix(secret, k.Prefix) {
			return k.ID
		}
	}
	t.Fatalf("no key with the prefix of %s…", secret[:9])
	return ""
}

func TestKeyRotationGracePeriod(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, old := n.tenant("rotation", 0)
		id := keyID(t, n, old, old)
		r := n.do("POST", "/api/v1/api-keys/"+id+"/rotate", old, map[string]any{"grace_period_seconds": 3600})
		expectStatus(t, r, http.StatusCreated)
		var out struct {
			Key      string              `json:"key"`
			APIKey   struct{ ID string } `json:"api_key"`
			Previous struct {
				ID        string    `json:"id"`
				RevokedAt time.Time `json:"revoked_at"`
			} `json:"previous"`
		}
		mustUnmarshal(t, r.Body, &out)
		if !strings.HasPrefix(out.Key, "ps_") || out.Previous.ID != id || !out.Previous.RevokedAt.Equal(n.Clock.Now().Add(time.Hour)) {
			t.Fatalf("rotate answer: %s", r.Body)
		}
		next := out.Key

		// A key in its grace period already has a successor: rotating it
		// again is a 409 naming that successor, and makes no third key.
		for _, again := range []*response{
			n.do("POST", "/api/v1/api-keys/"+id+"/rotate", old, nil),
			n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys/"+id+"/rotate", adminToken, map[string]any{"grace_period_seconds": 0}),
		} {
			p := problem(t, again, http.StatusConflict)
			if p["id"] != out.APIKey.ID || !strings.Contains(p["detail"].(string), out.APIKey.ID) {
				t.Errorf("second rotation: %s, want the successor %s named", again.Body, out.APIKey.ID)
			}
		}
		keys := n.do("GET", "/api/v1/api-keys", next, nil).JSON(t)["api_keys"].([]any)
		if len(keys) != 2 {
			t.Errorf("%d keys after a refused second rotation, want 2", len(keys))
		}

		// During the grace period both keys work.
		n.Clock.Advance(59 * time.Minute)
		expectStatus(t, n.do("GET", "/api/v1/usage", old, nil), http.StatusOK)
		expectStatus(t, n.do("GET", "/api/v1/usage", next, nil), http.StatusOK)
		// After it only the new one does (the key cache ages with the clock).
		n.Clock.Advance(time.Minute)
		problem(t, n.do("GET", "/api/v1/usage", old, nil), http.StatusUnauthorized)
		expectStatus(t, n.do("GET", "/api/v1/usage", next, nil), http.StatusOK)
		// A revoked key cannot be rotated again.
		problem(t, n.do("POST", "/api/v1/api-keys/"+id+"/rotate", next, nil), http.StatusConflict)
	})
}

func TestKeyRotationImmediateAdminAndDefaults(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("rotation-admin", 0)
		id := keyID(t, n, key, key)
		// Admin rotation, grace 0: the old key stops at once.
		r := n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys/"+id+"/rotate", adminToken, map[string]any{"grace_period_seconds": 0})
		expectStatus(t, r, http.StatusCreated)
		next := r.JSON(t)["key"].(string)
		problem(t, n.do("GET", "/api/v1/usage", key, nil), http.StatusUnauthorized)
		expectStatus(t, n.do("GET", "/api/v1/usage", next, nil), http.StatusOK)

		// Without a body the grace is 24 h.
		id2 := keyID(t, n, next, next)
		r = n.do("POST", "/api/v1/api-keys/"+id2+"/rotate", next, nil)
		expectStatus(t, r, http.StatusCreated)
		third := r.JSON(t)["key"].(string)
		n.Clock.Advance(23 * time.Hour)
		expectStatus(t, n.do("GET", "/api/v1/usage", next, nil), http.StatusOK)
		n.Clock.Advance(time.Hour)
		problem(t, n.do("GET", "/api/v1/usage", next, nil), http.StatusUnauthorized)

		problem(t, n.do("POST", "/api/v1/api-keys/"+id2+"/rotate", third, map[string]any{"grace_period_seconds": -1}), http.StatusUnprocessableEntity)
		problem(t, n.do("POST", "/api/v1/api-keys/"+tenantID+"/rotate", third, nil), http.StatusNotFound)
		problem(t, n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys/not-an-id/rotate", adminToken, nil), http.StatusNotFound)
	})
}

func TestTenantKeyManagement(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("self-service", 0)
		_, otherKey := n.tenant("other", 0)
		r := n.do("POST", "/api/v1/api-keys", key, map[string]any{"name": "reader", "scopes": []string{"read"}})
		expectStatus(t, r, http.StatusCreated)
		reader := r.JSON(t)["key"].(string)
		readerID := r.JSON(t)["api_key"].(map[string]any)["id"].(string)
		expectStatus(t, n.do("GET", "/api/v1/usage", reader, nil), http.StatusOK)
		// A read key cannot manage keys.
		problem(t, n.do("GET", "/api/v1/api-keys", reader, nil), http.StatusForbidden)
		// Another tenant cannot touch this tenant's key.
		problem(t, n.do("DELETE", "/api/v1/api-keys/"+readerID, otherKey, nil), http.StatusNotFound)
		problem(t, n.do("POST", "/api/v1/api-keys/"+readerID+"/rotate", otherKey, nil), http.StatusNotFound)

		expectStatus(t, n.do("DELETE", "/api/v1/api-keys/"+readerID, key, nil), http.StatusNoContent)
		problem(t, n.do("GET", "/api/v1/usage", reader, nil), http.StatusUnauthorized)

		// last_used_at is written off the request path, at most once a minute.
		before := n.Clock.Now()
		expectStatus(t, n.do("GET", "/api/v1/usage", key, nil), http.StatusOK)
		if err := n.App.Server().KeyUsage.Flush(t.Context()); err != nil {
			t.Fatalf("flush key usage: %v", err)
		}
		r = n.do("GET", "/api/v1/api-keys", key, nil)
		var list struct {
			Keys []struct {
				Name       string     `json:"name"`
				LastUsedAt *time.Time `json:"last_used_at"`
			} `json:"api_keys"`
		}
		mustUnmarshal(t, r.Body, &list)
		for _, k := range list.Keys {
			if k.Name == "default" && (k.LastUsedAt == nil || k.LastUsedAt.Before(before)) {
				t.Errorf("last_used_at of the used key = %v, want ≥ %v", k.LastUsedAt, before)
			}
		}
	})
}
