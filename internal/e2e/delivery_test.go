package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// stalledReceiver accepts every webhook and answers none (until release,
// the end of the test, or the client giving up; then 200); it counts the
// requests it holds.
type stalledReceiver struct {
	*httptest.Server
	release                    func()
	mu                         sync.Mutex
	held, maxHeld, ended, seen int
}

type stallCount struct{ held, maxHeld, ended, seen int }

func newStalledReceiver(t *testing.T) *stalledReceiver {
	sr := &stalledReceiver{}
	release := make(chan struct{})
	sr.release = sync.OnceFunc(func() { close(release) })
	sr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr.mu.Lock()
		sr.seen++
		sr.held++
		sr.maxHeld = max(sr.maxHeld, sr.held)
		sr.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done(): // the client gave up
		}
		sr.mu.Lock()
		sr.held--
		sr.ended++
		sr.mu.Unlock()
	}))
	t.Cleanup(sr.Close)
	t.Cleanup(sr.release) // runs first: Close waits for the handlers
	return sr
}

func (sr *stalledReceiver) count() stallCount {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return stallCount{held: sr.held, maxHeld: sr.maxHeld, ended: sr.ended, seen: sr.seen}
}

// anyErrorRule fires on the first error event, one alert per service.
func anyErrorRule(url string) map[string]any {
	return map[string]any{
		"name":      "any error",
		"filter":    map[string]any{"min_severity": "error"},
		"condition": map[string]any{"aggregate": "count", "threshold": 0, "operator": "gt", "window_seconds": 60},
		"group_by":  []any{"service"},
		"notify":    []any{map[string]any{"type": "webhook", "url": url}},
	}
}

// TestWebhookTenantFairness: tenant A's receiver accepts and never answers
// while A fires twice as many alerts as the node has webhook workers;
// tenant B's webhook must still arrive while every one of A's requests is
// still held (so B did not wait for one of A's timeouts), and A never holds
// more than its share of deliveries at once.
//
// Before per-tenant slots, A's jobs took all the workers until the webhook
// timeout and B's notification waited for it (10 s by default; here a
// minute, longer than eventually's 20 s, so the test fails outright). The
// only time bound is eventually's 20 s for B's webhook, which arrives in
// well under a second (the figure is logged): the assertion is structural.
func TestWebhookTenantFairness(t *testing.T) {
	t.Parallel()
	const workers, share, alertsA = 8, 2, 16
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			n := startAlertNodeCfg(t, b.url(t), clock, alertOpts(clock), true, func(c *config.Config) {
				c.WebhookAllowPrivate = true
				c.WebhookWorkers, c.WebhookTenantConcurrency = workers, share
				c.WebhookTimeout = time.Minute // A's requests cannot end (and free a worker) during the test
			})
			stalled := newStalledReceiver(t)
			var (
				mu      sync.Mutex
				atB     *stallCount // A's requests when B's webhook arrived
				arrived = make(chan time.Time, 1)
			)
			rcB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if atB == nil {
					c := stalled.count()
					atB = &c
					arrived <- time.Now()
				}
				mu.Unlock()
			}))
			t.Cleanup(rcB.Close)

			_, keyA := n.tenant("stalled", 1000)
			_, keyB := n.tenant("bystander", 1000)
			n.createRule(keyA, anyErrorRule(stalled.URL))
			n.createRule(keyB, anyErrorRule(rcB.URL))
			for i := range alertsA {
				n.sendEvents(keyA, 1, map[string]any{"severity": "error", "service": fmt.Sprintf("svc-%d", i)})
			}
			n.tick()
			eventually(t, "A's receiver holding A's share", func() bool { return stalled.count().held >= share })
			if got := len(n.alerts(keyA, "?status=firing")); got != alertsA {
				t.Fatalf("A has %d firing alerts, want %d", got, alertsA)
			}

			// B's job is queued behind all of A's.
			n.sendEvents(keyB, 1, map[string]any{"severity": "error", "service": "checkout"})
			fired := time.Now()
			n.tick()
			var at time.Time
			select {
			case at = <-arrived:
			case <-time.After(20 * time.Second):
				t.Fatalf("B's webhook did not arrive while A's receiver stalls (A: %+v)", stalled.count())
			}
			mu.Lock()
			a := *atB
			mu.Unlock()
			if a.ended != 0 || a.held != share || a.seen != share {
				t.Fatalf("when B's webhook arrived A's receiver had %+v; want exactly its %d requests held, none ended", a, share)
			}
			if c := stalled.count(); c.maxHeld > share {
				t.Fatalf("A held %d deliveries at once, its share is %d", c.maxHeld, share)
			}
			// Each of A's jobs beyond its share was put off at least once (B's
			// was fetched after them; some may still be finishing that).
			var deferred float64
			eventually(t, "A's other jobs deferred", func() bool {
				deferred = metricValue(t, n, "pulsestream_notification_deferred_total", "reason", "tenant_concurrency")
				return deferred >= alertsA-share
			})

			// Once A's receiver answers, A's deferred jobs are delivered, each
			// in one attempt: a deferral is not an attempt.
			stalled.release()
			for _, a := range n.alerts(keyA, "") {
				id := a.(map[string]any)["id"].(string)
				eventually(t, "A's notifications delivered after its receiver recovered", func() bool {
					notes := n.notifications(keyA, id)
					return len(notes) == 1 && notes[0].(map[string]any)["status"] == "delivered"
				})
				if atts := n.notifications(keyA, id)[0].(map[string]any)["attempts"].([]any); len(atts) != 1 {
					t.Fatalf("a deferred notification has %d attempts, want 1: %v", len(atts), atts)
				}
			}
			if c := stalled.count(); c.maxHeld > share || c.seen != alertsA {
				t.Fatalf("A's receiver: %+v; want at most %d at once and each of the %d webhooks once", c, share, alertsA)
			}
			t.Logf("B's webhook arrived %s after B's alert fired, with A's %d requests held and %v deliveries deferred",
				at.Sub(fired).Round(time.Millisecond), share, deferred)
		})
	}
}

// metricValue reads one counter or gauge of the node's registry (the
// series with label name=value).
func metricValue(t *testing.T, n *node, metric, name, value string) float64 {
	t.Helper()
	families, err := n.App.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", metric, name, value)
	return 0
}

// internalDetail matches what a tenant must never see in last_error: an
// IPv4 address, an IPv6 address or a port (the resolver's, the node's), or
// the resolver's and dialer's own words.
var internalDetail = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|[0-9a-fA-F]*:[0-9a-fA-F:]+|lookup \S+ on|dial tcp`)

// TestWebhookErrorsShowNoInternalDetail: a webhook whose host does not
// resolve used to show the tenant "… lookup x on 10.255.255.53:53: no such
// host" (the node's DNS server); a refused one the address dialled. The
// tenant sees a stable reason now, on the notification and every attempt.
func TestWebhookErrorsShowNoInternalDetail(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close() // nothing listens on its port any more
		_, key := n.tenant("errors", 1000)
		rule := errorRule("http://nonexistent.invalid/hook?token=abc")
		rule["notify"] = []any{
			map[string]any{"type": "webhook", "url": "http://nonexistent.invalid/hook?token=abc"},
			map[string]any{"type": "webhook", "url": closed.URL + "/hook"},
		}
		n.createRule(key, rule)
		n.sendEvents(key, 6, errEvent)
		n.tick()
		id := n.alerts(key, "")[0].(map[string]any)["id"].(string)
		eventually(t, "an attempt at each webhook", func() bool {
			notes := n.notifications(key, id)
			return len(notes) == 2 && notes[0].(map[string]any)["last_error"] != nil && notes[1].(map[string]any)["last_error"] != nil
		})
		want := map[string]string{"http://nonexistent.invalid/hook?token=abc": "dns lookup failed", closed.URL + "/hook": "connection refused"}
		for _, note := range n.notifications(key, id) {
			note := note.(map[string]any)
			if got := note["last_error"]; got != want[note["url"].(string)] {
				t.Errorf("last_error of %v = %q, want %q", note["url"], got, want[note["url"].(string)])
			}
			for _, att := range note["attempts"].([]any) {
				if e := att.(map[string]any)["error"].(string); internalDetail.MatchString(e) {
					t.Errorf("an attempt shows the tenant internal detail: %q", e)
				}
			}
		}
	})
}
