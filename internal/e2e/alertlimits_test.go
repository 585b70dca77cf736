package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// A tenant's alert limits are data: the admin API sets its overrides, rule
// creation beyond max_rules or max_window_seconds is a 422 naming the
// field, groups beyond max_groups_per_rule are dropped and shown on the
// rule; another tenant keeps the defaults.
func TestAlertLimits(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		id, key := n.tenant("limited", 1000)
		_, otherKey := n.tenant("other", 1000)
		r := n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, map[string]any{
			"alert_limits": map[string]any{"max_rules": 2, "max_window_seconds": 300, "max_groups_per_rule": 2}})
		expectStatus(t, r, http.StatusOK)
		if l := r.JSON(t)["alert_limits"].(map[string]any); l["max_rules"] != 2.0 || l["max_distinct_per_group"] != 0.0 {
			t.Fatalf("alert_limits after PATCH = %v", l)
		}
		invalid(t, n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, map[string]any{"alert_limits": map[string]any{"max_rules": -1}}), "alert_limits.max_rules")

		rule := errorRule("https://hooks.example.com/x")
		rule["group_by"] = []any{"tag:request_id"}
		rule["condition"] = map[string]any{"aggregate": "count", "threshold": 1000, "window_seconds": 300}
		grouped := n.createRule(key, rule)
		long := errorRule("https://hooks.example.com/x")
		long["condition"] = map[string]any{"aggregate": "count", "threshold": 5, "window_seconds": 301}
		invalid(t, n.do("POST", "/api/v1/alert-rules", key, long), "condition.window_seconds")
		second := n.createRule(key, errorRule("https://hooks.example.com/x"))
		invalid(t, n.do("POST", "/api/v1/alert-rules", key, errorRule("https://hooks.example.com/x")), "rules")
		invalid(t, n.do("PATCH", "/api/v1/alert-rules/"+second["id"].(string), key, map[string]any{"condition": long["condition"]}), "condition.window_seconds")
		// An update within the limits is not counted as a third rule.
		expectStatus(t, n.do("PATCH", "/api/v1/alert-rules/"+second["id"].(string), key, map[string]any{"name": "renamed"}), http.StatusOK)
		for range 3 {
			n.createRule(otherKey, long) // the defaults: 100 rules, 24 h windows
		}

		for i := range 5 {
			n.sendEvents(key, 1, map[string]any{"severity": "error", "service": "checkout", "tags": map[string]any{"request_id": fmt.Sprintf("r%d", i)}})
		}
		n.tick()
		r = n.do("GET", "/api/v1/alert-rules/"+grouped["id"].(string), key, nil)
		expectStatus(t, r, http.StatusOK)
		st, _ := r.JSON(t)["status"].(map[string]any)
		if st["groups"] != 2.0 || st["max_groups"] != 2.0 || st["groups_dropped"] != 3.0 {
			t.Fatalf("rule status = %v, want 2 groups of 2 and 3 dropped", st)
		}
	})
}
