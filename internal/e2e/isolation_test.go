package e2e

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantA, keyA := n.tenant("tenant-a", 0)
		tenantB, keyB := n.tenant("tenant-b", 0)
		ev := event(map[string]any{"external_id": "shared-ext", "user_id": "alice", "tags": map[string]any{"team": "a"}})
		idA := n.ingest(keyA, ev)

		// B cannot read A's event: 404, exactly like an id that does not exist.
		rA := n.do("GET", "/api/v1/events/"+idA, keyB, nil)
		missing := n.do("GET", "/api/v1/events/"+"01900000-0000-7000-8000-000000000000", keyB, nil)
		mA, mMissing := problem(t, rA, http.StatusNotFound), problem(t, missing, http.StatusNotFound)
		delete(mA, "request_id")
		delete(mMissing, "request_id")
		if !maps.EqualFunc(mA, mMissing, func(a, b any) bool { return a == b }) {
			t.Errorf("another tenant's event and a missing one answer differently:\n%s\n%s", rA.Body, missing.Body)
		}
		if strings.Contains(string(rA.Body), idA) {
			t.Error("404 names the event id")
		}

		// B cannot find it by any filter.
		for _, query := range [][]string{nil, {"external_id", "shared-ext"}, {"user_id", "alice"}, {"tag", "team:a"}, {"service", "checkout"}} {
			if p := n.search(keyB, q(query...)); len(p.Events) != 0 {
				t.Errorf("tenant B's search %v finds %d of A's events", query, len(p.Events))
			}
		}

		// The same external_id in B is a new event, not a duplicate or conflict.
		idB := n.ingest(keyB, ev)
		if idB == idA {
			t.Fatal("tenant B's event got tenant A's id")
		}
		changed := event(map[string]any{"external_id": "shared-ext", "message": "different"})
		r, b := n.batch(keyB, []map[string]any{ev, changed})
		expectStatus(t, r, http.StatusOK)
		if b.Results[0].Status != "duplicate" || b.Results[0].ID != idB || b.Results[1].Status != "conflict" || b.Results[1].ID != idB {
			t.Fatalf("tenant B's batch must resolve against B's event %s only: %s", idB, r.Body)
		}
		// A still sees its own, unchanged; the replay in A is a duplicate of A's id.
		r = n.do("POST", "/api/v1/events", keyA, ev)
		expectStatus(t, r, http.StatusOK)
		if r.JSON(t)["id"] != idA {
			t.Fatalf("A's replay after B's insert: %s", r.Body)
		}
		if p := n.search(keyA, nil); len(p.Events) != 1 || p.Events[0].ID != idA {
			t.Fatalf("tenant A sees %v", ids(p.Events))
		}
		if e := n.get(keyB, idB); e.ExternalID != "shared-ext" {
			t.Fatalf("B's event: %+v", e)
		}
		problem(t, n.do("GET", "/api/v1/events/"+idB, keyA, nil), http.StatusNotFound)

		// Keys are scoped too: A's key cannot be revoked through B's tenant.
		keysA := n.do("GET", "/admin/v1/tenants/"+tenantA+"/api-keys", adminToken, nil).JSON(t)["api_keys"].([]any)
		keyIDA := keysA[0].(map[string]any)["id"].(string)
		problem(t, n.do("DELETE", "/admin/v1/tenants/"+tenantB+"/api-keys/"+keyIDA, adminToken, nil), http.StatusNotFound)
		expectStatus(t, n.do("GET", "/api/v1/events", keyA, nil), http.StatusOK)
		keysB := n.do("GET", "/admin/v1/tenants/"+tenantB+"/api-keys", adminToken, nil).JSON(t)["api_keys"].([]any)
		if len(keysB) != 1 || keysB[0].(map[string]any)["id"] == keyIDA {
			t.Fatalf("tenant B's key list: %v", keysB)
		}
	})
}
