package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestRulePreview: POST /api/v1/alert-rules/preview evaluates a rule body
// over the tenant's stored events of the last hour, per group; it
// validates like POST /api/v1/alert-rules and stores and sends nothing.
func TestRulePreview(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("preview", 0)
		_, otherKey := n.tenant("other", 0)
		rc := newReceiver(t)
		now := n.Clock.Now()
		var checkout []string
		for _, ago := range []time.Duration{10 * time.Minute, 5 * time.Minute, time.Minute} {
			checkout = append(checkout, n.ingest(key, event(map[string]any{"service": "checkout", "severity": "error", "timestamp": ts(now.Add(-ago))})))
		}
		search := n.ingest(key, event(map[string]any{"service": "search", "severity": "error", "timestamp": ts(now.Add(-2 * time.Minute))}))
		n.ingest(key, event(map[string]any{"service": "search", "severity": "info", "timestamp": ts(now.Add(-2 * time.Minute))}))
		n.ingest(key, event(map[string]any{"service": "search", "severity": "error", "timestamp": ts(now.Add(-2 * time.Hour))})) // before the hour
		for range 4 {                                                                                                            // another tenant's events are not counted
			n.ingest(otherKey, event(map[string]any{"service": "search", "severity": "error", "timestamp": ts(now.Add(-time.Minute))}))
		}

		rule := map[string]any{"name": "errors by service", "filter": map[string]any{"min_severity": "error"},
			"condition": map[string]any{"aggregate": "count", "operator": "gt", "threshold": 2, "window_seconds": 86400},
			"group_by":  []string{"service"}, "notify": []any{map[string]any{"type": "webhook", "url": rc.URL + "/hook"}}}
		r := n.do("POST", "/api/v1/alert-rules/preview", key, rule)
		expectStatus(t, r, http.StatusOK)
		p := r.JSON(t)
		if p["window_seconds"] != 3600.0 || p["events_scanned"] != 5.0 || p["truncated"] != false ||
			p["groups_total"] != 2.0 || p["would_fire_count"] != 1.0 {
			t.Fatalf("preview: %s", r.Body)
		}
		groups := p["groups"].([]any)
		first, second := groups[0].(map[string]any), groups[1].(map[string]any)
		if first["labels"].(map[string]any)["service"] != "checkout" || first["value"] != 3.0 || first["threshold"] != 2.0 ||
			first["operator"] != "gt" || first["would_fire"] != true {
			t.Errorf("checkout group: %v", first)
		}
		var samples []string
		for _, id := range first["sample_event_ids"].([]any) {
			samples = append(samples, id.(string))
		}
		slices.Sort(samples)
		slices.Sort(checkout)
		if !slices.Equal(samples, checkout) {
			t.Errorf("checkout samples %v, want %v", samples, checkout)
		}
		if second["labels"].(map[string]any)["service"] != "search" || second["value"] != 1.0 || second["would_fire"] != false ||
			len(second["sample_event_ids"].([]any)) != 1 || second["sample_event_ids"].([]any)[0] != search {
			t.Errorf("search group: %v", second)
		}

		// Invalid: the same 422, naming the same fields, as saving the rule.
		bad := map[string]any{"name": "", "condition": map[string]any{"aggregate": "count", "operator": "between", "threshold": 2, "window_seconds": 60}}
		got := fields(invalid(t, n.do("POST", "/api/v1/alert-rules/preview", key, bad), "condition.operator"))
		want := fields(invalid(t, n.do("POST", "/api/v1/alert-rules", key, bad), "condition.operator"))
		if !slices.Equal(got, want) {
			t.Errorf("preview refuses %v, creating refuses %v", got, want)
		}
		// A window over the tenant's limit is refused as on create.
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"alert_limits": map[string]any{"max_window_seconds": 600}}), http.StatusOK)
		invalid(t, n.do("POST", "/api/v1/alert-rules/preview", key, rule), "condition.window_seconds")

		// Nothing stored, nothing sent: no rule, no alert after an evaluator tick, no webhook.
		if _, err := n.App.Evaluator().Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if rules := n.do("GET", "/api/v1/alert-rules", key, nil).JSON(t)["rules"].([]any); len(rules) != 0 {
			t.Errorf("rules after previews: %v", rules)
		}
		if alerts := n.do("GET", "/api/v1/alerts", key, nil).JSON(t)["alerts"].([]any); len(alerts) != 0 {
			t.Errorf("alerts after previews: %v", alerts)
		}
		if got := rc.requests(); len(got) != 0 {
			t.Errorf("webhooks after previews: %d", len(got))
		}
	})
}
