package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// TestWebhookConcurrencyOverride: a tenant's alert_limits.webhook_concurrency
// (admin API) replaces --webhook-tenant-concurrency for that tenant only.
// Two tenants whose receivers stall each fire four alerts with a default
// share of 2: the one lowered to 1 holds exactly one request, the one
// raised to 3 holds three, and the rest of their jobs are deferred.
// Before the override was wired both held 2. Structural: no time bound but
// eventually's.
func TestWebhookConcurrencyOverride(t *testing.T) {
	t.Parallel()
	const alerts = 4
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			n := startAlertNodeCfg(t, b.url(t), clock, alertOpts(clock), true, func(c *config.Config) {
				c.WebhookAllowPrivate = true
				c.WebhookWorkers, c.WebhookTenantConcurrency = 8, 2
				c.WebhookTimeout = time.Minute // no request ends during the test
			})
			share := map[string]int{"lowered": 1, "raised": 3}
			receivers, keys := map[string]*stalledReceiver{}, map[string]string{}
			// Every override is set before any job exists: the node's cache
			// loads at the first delivery and the fake clock never ages it.
			for name, s := range share {
				id, key := n.tenant(name, 1000)
				keys[name] = key
				r := n.do("PATCH", "/admin/v1/tenants/"+id, adminToken, map[string]any{"alert_limits": map[string]any{"webhook_concurrency": s}})
				expectStatus(t, r, http.StatusOK)
				if got := r.JSON(t)["alert_limits"].(map[string]any)["webhook_concurrency"]; got != float64(s) {
					t.Fatalf("%s: webhook_concurrency after PATCH = %v", name, got)
				}
			}
			for name, key := range keys {
				receivers[name] = newStalledReceiver(t)
				n.createRule(key, anyErrorRule(receivers[name].URL))
				for i := range alerts {
					n.sendEvents(key, 1, map[string]any{"severity": "error", "service": fmt.Sprintf("svc-%d", i)})
				}
			}
			n.tick()
			eventually(t, "each tenant holding its share, the rest deferred", func() bool {
				deferred := metricValue(t, n, "pulsestream_notification_deferred_total", "reason", "tenant_concurrency")
				return receivers["lowered"].count().held == 1 && receivers["raised"].count().held == 3 &&
					deferred >= (alerts-1)+(alerts-3)
			})
			for name, s := range share {
				if c := receivers[name].count(); c.maxHeld != s || c.ended != 0 {
					t.Fatalf("%s's receiver: %+v; want at most %d held at once (its override), none ended", name, c, s)
				}
			}
		})
	}
}
