package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
)

// receiver is a webhook endpoint that records what it gets and answers
// with the statuses it is told, one per request (then 200).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []webhook
}

type webhook struct {
	ID, Timestamp, Signature string
	Body                     []byte
	Status                   int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.got = append(rc.got, webhook{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
			Signature: r.Header.Get("webhook-signature"), Body: body, Status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []webhook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook(nil), rc.got...)
}

// verify checks a Standard Webhooks signature the way a receiver would.
func verify(t *testing.T, secret string, h webhook) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q is not whsec_<base64>", secret)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.ID + "." + h.Timestamp + "."))
	mac.Write(h.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if h.Signature != want {
		t.Fatalf("webhook-signature = %q, want %q", h.Signature, want)
	}
}

// alertOpts make webhook retries quick so that tests wait milliseconds.
func alertOpts(clock *fakeClock) app.Options {
	return app.Options{Clock: clock, WebhookBackoff: func(int) time.Duration { return 20 * time.Millisecond }, QueuePollInterval: 50 * time.Millisecond}
}

// startAlertNode is startNode with alerting options; the caller closes
// the app when closeAtEnd is false (to restart it mid-test).
func startAlertNode(t *testing.T, dbURL string, clock *fakeClock, opts app.Options, allowPrivate, closeAtEnd bool) *node {
	t.Helper()
	return startAlertNodeCfg(t, dbURL, clock, opts, closeAtEnd, func(c *config.Config) { c.WebhookAllowPrivate = allowPrivate })
}

// startAlertNodeCfg is startAlertNode with a config of the test's own.
func startAlertNodeCfg(t *testing.T, dbURL string, clock *fakeClock, opts app.Options, closeAtEnd bool, mutate func(*config.Config)) *node {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.AdminToken = adminToken
	cfg.MaintenanceInterval = time.Hour
	cfg.PGMaxConns = 4 // many nodes share the test server's connections
	mutate(&cfg)
	a, err := app.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	if closeAtEnd {
		t.Cleanup(func() { _ = a.Close() })
	}
	return &node{t: t, URL: srv.URL, DB: dbURL, App: a, Clock: clock}
}

// eachAlertBackend runs fn per backend on a node that may reach local webhooks.
func eachAlertBackend(t *testing.T, fn func(t *testing.T, n *node)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			fn(t, startAlertNode(t, b.url(t), clock, alertOpts(clock), true, true))
		})
	}
}

// tick runs one evaluation on n, which must be the evaluator.
func (n *node) tick() {
	n.t.Helper()
	leader, err := n.App.Evaluator().Tick(context.Background())
	if err != nil {
		n.t.Fatalf("evaluator tick: %v", err)
	}
	if !leader {
		n.t.Fatal("the node is not the evaluator")
	}
}

func (n *node) createRule(key string, rule map[string]any) map[string]any {
	n.t.Helper()
	r := n.do("POST", "/api/v1/alert-rules", key, rule)
	expectStatus(n.t, r, http.StatusCreated)
	return r.JSON(n.t)
}

func (n *node) sendEvents(key string, count int, over map[string]any) {
	n.t.Helper()
	for range count {
		expectStatus(n.t, n.do("POST", "/api/v1/events", key, event(over)), http.StatusCreated)
	}
}

func (n *node) alerts(key, query string) []any {
	n.t.Helper()
	r := n.do("GET", "/api/v1/alerts"+query, key, nil)
	expectStatus(n.t, r, http.StatusOK)
	return r.JSON(n.t)["alerts"].([]any)
}

func (n *node) notifications(key, alertID string) []any {
	n.t.Helper()
	r := n.do("GET", "/api/v1/alerts/"+alertID+"/notifications", key, nil)
	expectStatus(n.t, r, http.StatusOK)
	return r.JSON(n.t)["notifications"].([]any)
}

// eventually polls cond (deliveries run on the queue in real time).
// eventually polls cond for up to 20 s; detail, when given, says what was
// last seen, for the failure message.
func eventually(t *testing.T, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, d := range detail {
				msg += "; " + d()
			}
			t.Fatalf("timed out waiting for %s%s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func errorRule(url string) map[string]any {
	return map[string]any{
		"name":             "checkout errors",
		"filter":           map[string]any{"service": "checkout", "min_severity": "error"},
		"condition":        map[string]any{"aggregate": "count", "threshold": 5, "operator": "gt", "window_seconds": 60},
		"cooldown_seconds": 30,
		"notify":           []any{map[string]any{"type": "webhook", "url": url}},
	}
}

var errEvent = map[string]any{"severity": "error"}

func TestAlertLifecycle(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t)
		_, key := n.tenant("alerts", 1000)
		rule := n.createRule(key, errorRule(rc.URL))
		secret := rule["notify"].([]any)[0].(map[string]any)["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("generated secret = %q", secret)
		}
		got := n.do("GET", "/api/v1/alert-rules/"+rule["id"].(string), key, nil)
		if strings.Contains(string(got.Body), secret) {
			t.Fatal("GET shows the secret again")
		}
		// At rest the secret is sealed (AES-GCM), never the plain text.
		stored, err := n.App.Store.ListEnabledRules(context.Background())
		if err != nil || len(stored) != 1 {
			t.Fatalf("stored rules: %v %v", stored, err)
		}
		if at := stored[0].Notify[0].Secret; at == secret || !strings.HasPrefix(at, "sealed:v1:") {
			t.Fatalf("webhook secret stored as %q, want it sealed", at)
		}

		n.sendEvents(key, 5, errEvent)
		n.sendEvents(key, 3, nil) // info: not matched
		n.tick()
		if a := n.alerts(key, ""); len(a) != 0 {
			t.Fatalf("5 events fired: %v", a)
		}
		n.sendEvents(key, 1, errEvent)
		n.tick()
		alerts := n.alerts(key, "?status=firing")
		if len(alerts) != 1 {
			t.Fatalf("after the 6th event: %d firing alerts, want 1", len(alerts))
		}
		a := alerts[0].(map[string]any)
		if a["value"] != 6.0 || a["threshold"] != 5.0 || len(a["sample_event_ids"].([]any)) != 6 {
			t.Fatalf("alert = %v", a)
		}
		eventually(t, "the firing webhook", func() bool { return len(rc.requests()) == 1 })
		h := rc.requests()[0]
		verify(t, secret, h)
		var p map[string]any
		if err := json.Unmarshal(h.Body, &p); err != nil || p["type"] != "alert.firing" || p["data"].(map[string]any)["alert_id"] != a["id"] {
			t.Fatalf("webhook body = %s", h.Body)
		}

		n.sendEvents(key, 4, errEvent)
		n.tick()
		n.Clock.Advance(10 * time.Second)
		n.tick()
		if a := n.alerts(key, ""); len(a) != 1 {
			t.Fatalf("more events: %d alerts, want still 1", len(a))
		}

		n.Clock.Advance(60 * time.Second) // the window is empty: cooldown starts
		n.tick()
		if a := n.alerts(key, "?status=firing"); len(a) != 1 {
			t.Fatal("resolved before the cooldown")
		}
		n.Clock.Advance(31 * time.Second)
		n.tick()
		if a := n.alerts(key, "?status=resolved"); len(a) != 1 {
			t.Fatalf("not resolved after the cooldown: %v", n.alerts(key, ""))
		}
		eventually(t, "the resolved webhook", func() bool { return len(rc.requests()) == 2 })
		h = rc.requests()[1]
		verify(t, secret, h)
		if !strings.Contains(string(h.Body), `"alert.resolved"`) {
			t.Fatalf("second webhook = %s", h.Body)
		}
		n.tick()
		time.Sleep(100 * time.Millisecond) // nothing more may arrive
		if len(rc.requests()) != 2 {
			t.Fatalf("%d webhooks, want 2", len(rc.requests()))
		}

		id := a["id"].(string)
		full := n.do("GET", "/api/v1/alerts/"+id, key, nil).JSON(t)
		hist := full["history"].([]any)
		if len(hist) != 2 || hist[0].(map[string]any)["status"] != "firing" || hist[1].(map[string]any)["status"] != "resolved" {
			t.Fatalf("history = %v", hist)
		}
		ack := n.do("POST", "/api/v1/alerts/"+id+"/acknowledge", key, nil)
		expectStatus(t, ack, http.StatusOK)
		if ack.JSON(t)["acknowledged_at"] == nil {
			t.Fatal("acknowledge did not set acknowledged_at")
		}
		notes := n.notifications(key, id)
		if len(notes) != 2 || notes[0].(map[string]any)["status"] != "delivered" || notes[1].(map[string]any)["kind"] != "resolved" {
			t.Fatalf("notifications = %v", notes)
		}
	})
}

func TestAlertWebhookRetries(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t, 500, 500, 200)
		_, key := n.tenant("retries", 1000)
		n.createRule(key, errorRule(rc.URL))
		n.sendEvents(key, 6, errEvent)
		n.tick()
		id := n.alerts(key, "")[0].(map[string]any)["id"].(string)
		eventually(t, "delivery", func() bool {
			notes := n.notifications(key, id)
			return len(notes) == 1 && notes[0].(map[string]any)["status"] == "delivered"
		})
		note := n.notifications(key, id)[0].(map[string]any)
		attempts := note["attempts"].([]any)
		if len(attempts) != 3 {
			t.Fatalf("attempts = %v, want 3", attempts)
		}
		for i, want := range []string{"retry", "retry", "delivered"} {
			if o := attempts[i].(map[string]any)["outcome"]; o != want {
				t.Errorf("attempt %d outcome = %v, want %s", i+1, o, want)
			}
		}
		reqs := rc.requests()
		if len(reqs) != 3 || reqs[0].ID != reqs[2].ID || reqs[0].ID != note["id"] {
			t.Fatalf("receiver got %d requests (ids must all be the notification's)", len(reqs))
		}
	})
}

func TestAlertWebhookNoRetryOn4xx(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t, 400)
		_, key := n.tenant("4xx", 1000)
		n.createRule(key, errorRule(rc.URL))
		n.sendEvents(key, 6, errEvent)
		n.tick()
		id := n.alerts(key, "")[0].(map[string]any)["id"].(string)
		eventually(t, "failure", func() bool {
			notes := n.notifications(key, id)
			return len(notes) == 1 && notes[0].(map[string]any)["status"] == "failed"
		})
		note := n.notifications(key, id)[0].(map[string]any)
		if len(note["attempts"].([]any)) != 1 {
			t.Fatalf("a 400 was retried: %v", note["attempts"])
		}
		// A failed notification can be sent again by hand.
		r := n.do("POST", "/api/v1/notifications/"+note["id"].(string)+"/retry", key, nil)
		expectStatus(t, r, http.StatusAccepted)
		n.tick()
		eventually(t, "manual re-send", func() bool {
			return n.notifications(key, id)[0].(map[string]any)["status"] == "delivered"
		})
		problem(t, n.do("POST", "/api/v1/notifications/"+note["id"].(string)+"/retry", key, nil), http.StatusConflict)
	})
}

func TestAlertRestartMidRetry(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			url := b.url(t)
			clock := newFakeClock()
			opts := alertOpts(clock)
			opts.WebhookBackoff = func(int) time.Duration { return 2 * time.Second }
			n := startAlertNode(t, url, clock, opts, true, false)
			rc := newReceiver(t, 500)
			_, key := n.tenant("restart", 1000)
			n.createRule(key, errorRule(rc.URL))
			n.sendEvents(key, 6, errEvent)
			n.tick()
			id := n.alerts(key, "")[0].(map[string]any)["id"].(string)
			eventually(t, "the first attempt", func() bool {
				notes := n.notifications(key, id)
				return len(notes) == 1 && len(notes[0].(map[string]any)["attempts"].([]any)) == 1
			})
			if err := n.App.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}

			n2 := startAlertNode(t, url, clock, alertOpts(clock), true, true)
			n2.tick()
			eventually(t, "delivery after the restart", func() bool {
				return n2.notifications(key, id)[0].(map[string]any)["status"] == "delivered"
			})
			time.Sleep(200 * time.Millisecond)
			reqs := rc.requests()
			delivered := 0
			for _, r := range reqs {
				if r.Status == 200 {
					delivered++
				}
			}
			if len(reqs) != 2 || delivered != 1 || reqs[0].ID != reqs[1].ID {
				t.Fatalf("receiver got %d requests, %d delivered; want 2 and 1 with one webhook-id", len(reqs), delivered)
			}
			if len(n2.alerts(key, "")) != 1 {
				t.Fatal("the restart opened a second alert")
			}
		})
	}
}

func TestAlertGroupBy(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t)
		_, key := n.tenant("groups", 1000)
		rule := errorRule(rc.URL)
		rule["filter"] = map[string]any{"min_severity": "error"}
		rule["group_by"] = []any{"service", "tag:region"}
		n.createRule(key, rule)
		n.sendEvents(key, 6, map[string]any{"severity": "error", "service": "checkout", "tags": map[string]any{"region": "eu"}})
		n.sendEvents(key, 7, map[string]any{"severity": "error", "service": "search", "tags": map[string]any{"region": "eu"}})
		n.sendEvents(key, 3, map[string]any{"severity": "error", "service": "auth", "tags": map[string]any{"region": "eu"}})
		n.tick()
		alerts := n.alerts(key, "")
		if len(alerts) != 2 {
			t.Fatalf("%d alerts, want one per service over the threshold", len(alerts))
		}
		seen := map[string]bool{}
		for _, a := range alerts {
			g := a.(map[string]any)["group"].(map[string]any)
			seen[g["service"].(string)] = g["tag:region"] == "eu"
		}
		if !seen["checkout"] || !seen["search"] {
			t.Fatalf("groups = %v", alerts)
		}
		eventually(t, "two webhooks", func() bool { return len(rc.requests()) == 2 })
	})
}

func TestAlertDistinctUsers(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("users", 1000)
		rule := errorRule("https://hooks.example.com/x")
		rule["condition"] = map[string]any{"aggregate": "count_distinct:user_id", "threshold": 2, "window_seconds": 60}
		n.createRule(key, rule)
		for i := range 6 {
			n.sendEvents(key, 1, map[string]any{"severity": "error", "user_id": fmt.Sprintf("u%d", i%2)})
		}
		n.tick()
		if len(n.alerts(key, "")) != 0 {
			t.Fatal("2 distinct users fired a > 2 rule")
		}
		n.sendEvents(key, 1, map[string]any{"severity": "error", "user_id": "u9"})
		n.tick()
		if a := n.alerts(key, ""); len(a) != 1 || a[0].(map[string]any)["value"] != 3.0 {
			t.Fatalf("alerts = %v", a)
		}
	})
}

func TestAlertSilence(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t)
		_, key := n.tenant("silence", 1000)
		rule := n.createRule(key, errorRule(rc.URL))
		r := n.do("POST", "/api/v1/silences", key, map[string]any{
			"rule_id": rule["id"], "ends_at": n.Clock.Now().Add(time.Hour).Format(time.RFC3339), "comment": "deploy"})
		expectStatus(t, r, http.StatusCreated)
		n.sendEvents(key, 6, errEvent)
		n.tick()
		alerts := n.alerts(key, "")
		if len(alerts) != 1 || alerts[0].(map[string]any)["silenced"] != true {
			t.Fatalf("alerts = %v", alerts)
		}
		id := alerts[0].(map[string]any)["id"].(string)
		n.Clock.Advance(61 * time.Second)
		n.tick()
		n.Clock.Advance(31 * time.Second)
		n.tick()
		if a := n.alerts(key, "?status=resolved"); len(a) != 1 {
			t.Fatal("a silenced alert must still change state")
		}
		if notes := n.notifications(key, id); len(notes) != 0 {
			t.Fatalf("silenced alert notified: %v", notes)
		}
		time.Sleep(100 * time.Millisecond)
		if len(rc.requests()) != 0 {
			t.Fatal("the receiver got a webhook")
		}
		sils := n.do("GET", "/api/v1/silences", key, nil).JSON(t)["silences"].([]any)
		if len(sils) != 1 {
			t.Fatalf("silences = %v", sils)
		}
		expectStatus(t, n.do("DELETE", "/api/v1/silences/"+sils[0].(map[string]any)["id"].(string), key, nil), http.StatusNoContent)
	})
}

func TestAlertTenantIsolation(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		_, keyA := n.tenant("a", 1000)
		_, keyB := n.tenant("b", 1000)
		rule := n.createRule(keyA, errorRule("https://hooks.example.com/a"))
		ruleID := rule["id"].(string)
		n.sendEvents(keyB, 10, errEvent) // B's events never count for A's rule
		n.tick()
		if len(n.alerts(keyA, "")) != 0 {
			t.Fatal("tenant B's events fired tenant A's rule")
		}
		n.sendEvents(keyA, 6, errEvent)
		n.tick()
		alertID := n.alerts(keyA, "")[0].(map[string]any)["id"].(string)

		problem(t, n.do("GET", "/api/v1/alert-rules/"+ruleID, keyB, nil), http.StatusNotFound)
		problem(t, n.do("PUT", "/api/v1/alert-rules/"+ruleID, keyB, errorRule("https://x.example.com")), http.StatusNotFound)
		problem(t, n.do("DELETE", "/api/v1/alert-rules/"+ruleID, keyB, nil), http.StatusNotFound)
		problem(t, n.do("GET", "/api/v1/alerts/"+alertID, keyB, nil), http.StatusNotFound)
		problem(t, n.do("GET", "/api/v1/alerts/"+alertID+"/notifications", keyB, nil), http.StatusNotFound)
		problem(t, n.do("POST", "/api/v1/alerts/"+alertID+"/acknowledge", keyB, nil), http.StatusNotFound)
		if rules := n.do("GET", "/api/v1/alert-rules", keyB, nil).JSON(t)["rules"].([]any); len(rules) != 0 {
			t.Fatalf("B lists A's rules: %v", rules)
		}
		if len(n.alerts(keyB, "")) != 0 {
			t.Fatal("B lists A's alerts")
		}
		r := n.do("POST", "/api/v1/silences", keyB, map[string]any{"rule_id": ruleID, "ends_at": n.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
		problem(t, r, http.StatusUnprocessableEntity)

		// Deleting the rule resolves its alert.
		expectStatus(t, n.do("DELETE", "/api/v1/alert-rules/"+ruleID, keyA, nil), http.StatusNoContent)
		n.tick()
		if len(n.alerts(keyA, "?status=resolved")) != 1 {
			t.Fatal("deleting the rule did not resolve its alert")
		}
	})
}

func TestAlertDisableResolves(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("disable", 1000)
		rule := n.createRule(key, errorRule("https://hooks.example.com/a"))
		n.sendEvents(key, 6, errEvent)
		n.tick()
		r := n.do("PATCH", "/api/v1/alert-rules/"+rule["id"].(string), key, map[string]any{"enabled": false})
		expectStatus(t, r, http.StatusOK)
		if got := r.JSON(t); got["enabled"] != false || got["name"] != "checkout errors" {
			t.Fatalf("patched rule = %v", got)
		}
		n.tick()
		if len(n.alerts(key, "?status=resolved")) != 1 {
			t.Fatal("disabling the rule did not resolve its alert")
		}
	})
}

func TestAlertSSRFRefused(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			n := startAlertNode(t, b.url(t), clock, alertOpts(clock), false, true)
			rc := newReceiver(t)
			_, key := n.tenant("ssrf", 1000)
			n.createRule(key, errorRule(rc.URL)) // 127.0.0.1
			n.sendEvents(key, 6, errEvent)
			n.tick()
			id := n.alerts(key, "")[0].(map[string]any)["id"].(string)
			eventually(t, "refusal", func() bool {
				notes := n.notifications(key, id)
				return len(notes) == 1 && notes[0].(map[string]any)["status"] == "failed"
			})
			note := n.notifications(key, id)[0].(map[string]any)
			if len(note["attempts"].([]any)) != 1 || note["last_error"] != "address not allowed (not a public address)" {
				t.Fatalf("notification = %v", note)
			}
			if len(rc.requests()) != 0 {
				t.Fatal("the private receiver was called")
			}
		})
	}
}

func TestAlertRuleTestEndpoint(t *testing.T) {
	t.Parallel()
	eachAlertBackend(t, func(t *testing.T, n *node) {
		rc := newReceiver(t)
		_, key := n.tenant("test-send", 1000)
		rule := n.createRule(key, errorRule(rc.URL))
		r := n.do("POST", "/api/v1/alert-rules/"+rule["id"].(string)+"/test", key, nil)
		expectStatus(t, r, http.StatusAccepted)
		n.tick()
		eventually(t, "the test webhook", func() bool { return len(rc.requests()) == 1 })
		verify(t, rule["notify"].([]any)[0].(map[string]any)["secret"].(string), rc.requests()[0])
	})
}

func TestAlertRuleValidation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("validation", 1000)
		base := func(mut func(m map[string]any)) map[string]any {
			m := errorRule("https://hooks.example.com/x")
			mut(m)
			return m
		}
		cases := []struct {
			name, field string
			body        map[string]any
		}{
			{"no name", "name", base(func(m map[string]any) { delete(m, "name") })},
			{"bad aggregate", "condition.aggregate", base(func(m map[string]any) {
				m["condition"] = map[string]any{"aggregate": "sum", "threshold": 1, "window_seconds": 60}
			})},
			{"no window", "condition.window_seconds", base(func(m map[string]any) {
				m["condition"] = map[string]any{"aggregate": "count", "threshold": 1}
			})},
			{"bad operator", "condition.operator", base(func(m map[string]any) {
				m["condition"] = map[string]any{"aggregate": "count", "threshold": 1, "window_seconds": 60, "operator": "lt"}
			})},
			{"negative threshold", "condition.threshold", base(func(m map[string]any) {
				m["condition"] = map[string]any{"aggregate": "count", "threshold": -1, "window_seconds": 60}
			})},
			{"bad group", "group_by[0]", base(func(m map[string]any) { m["group_by"] = []any{"user_id"} })},
			{"bad severity", "filter.min_severity", base(func(m map[string]any) { m["filter"] = map[string]any{"min_severity": "loud"} })},
			{"bad url", "notify[0].url", base(func(m map[string]any) { m["notify"] = []any{map[string]any{"url": "ftp://x"}} })},
			{"bad secret", "notify[0].secret", base(func(m map[string]any) {
				m["notify"] = []any{map[string]any{"url": "https://x.example.com", "secret": "hunter2"}}
			})},
			{"negative cooldown", "cooldown_seconds", base(func(m map[string]any) { m["cooldown_seconds"] = -1 })},
			{"unknown field", "colour", base(func(m map[string]any) { m["colour"] = "red" })},
		}
		for _, tc := range cases {
			p := problem(t, n.do("POST", "/api/v1/alert-rules", key, tc.body), http.StatusUnprocessableEntity)
			found := false
			for _, e := range p["errors"].([]any) {
				found = found || e.(map[string]any)["field"] == tc.field
			}
			if !found {
				t.Errorf("%s: errors %v do not name %s", tc.name, p["errors"], tc.field)
			}
		}
	})
}

// Two nodes on one database evaluate concurrently: only the lease holder
// evaluates, so the threshold crossing opens one alert and sends one webhook.
func TestAlertTwoNodesOneEvaluator(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.url(t)
			clock := newFakeClock()
			a := startAlertNode(t, db, clock, alertOpts(clock), true, true)
			c := startAlertNode(t, db, clock, alertOpts(clock), true, true)
			rc := newReceiver(t)
			_, key := a.tenant("two-nodes", 1000)
			a.createRule(key, errorRule(rc.URL))
			c.sendEvents(key, 6, errEvent)
			var leaders atomic.Int32
			for range 5 {
				var wg sync.WaitGroup
				for _, n := range []*node{a, c} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						leader, err := n.App.Evaluator().Tick(context.Background())
						if err != nil {
							t.Errorf("tick: %v", err)
						}
						if leader {
							leaders.Add(1)
						}
					}()
				}
				wg.Wait()
				clock.Advance(time.Second)
			}
			if got := leaders.Load(); got != 5 {
				t.Fatalf("%d evaluator rounds in 5 ticks of two nodes, want exactly one evaluator per round", got)
			}
			if got := len(a.alerts(key, "?status=firing")); got != 1 {
				t.Fatalf("%d firing alerts, want 1", got)
			}
			eventually(t, "the firing webhook", func() bool { return len(rc.requests()) >= 1 })
			time.Sleep(300 * time.Millisecond) // give a wrongly queued second delivery the time to arrive
			if got := len(rc.requests()); got != 1 {
				t.Fatalf("%d webhooks delivered, want 1", got)
			}
		})
	}
}
