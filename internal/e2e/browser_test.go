package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser tests: the console in headless Chromium, driven by chromedp.
// Controls are found by their visible labels, buttons by their text.
// Waits are for elements, with generous bounds for a loaded machine —
// never a timing assertion. Screenshots go to the test's artifact folder
// (go test -artifacts) and, with PULSESTREAM_UPDATE_SCREENSHOTS=1, to
// docs/img for the README.

// chromium finds the browser, or skips (fails when
// PULSESTREAM_REQUIRE_EXTERNAL=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PULSESTREAM_REQUIRE_EXTERNAL") == "1" {
		t.Fatal("no Chromium found (chromium, chromium-browser, google-chrome) and PULSESTREAM_REQUIRE_EXTERNAL=1: install it (apt-get install -y chromium)")
	}
	t.Skip("no Chromium found (chromium, chromium-browser, google-chrome): browser tests skipped; install it with apt-get install -y chromium")
	return ""
}

// browser starts a fresh headless Chromium (its own profile) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	// Not t.TempDir: Chromium's helper processes may still be writing to
	// the profile for a moment after it exits, which fails TempDir's check.
	profile, err := os.MkdirTemp("", "pulsestream-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// A bound for a hung browser, not a timing assertion.
	ctx, cancelTimeout := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// xq quotes s for an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return `'` + s + `'`
}

// field is the control whose <label> reads label.
func field(label string) string {
	return `//*[@id=//label[normalize-space(.)=` + xq(label) + `]/@for]`
}

// button is the button that reads text.
func button(text string) string { return `//button[normalize-space(.)=` + xq(text) + `]` }

// text is any element whose own text contains s.
func text(s string) string { return `//body//*[contains(text(), ` + xq(s) + `)]` }

func fill(label, value string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.WaitVisible(field(label), chromedp.BySearch),
		chromedp.Clear(field(label), chromedp.BySearch),
		chromedp.SendKeys(field(label), value, chromedp.BySearch),
	}
}

func choose(label, value string) chromedp.Action {
	return chromedp.SetValue(field(label), value, chromedp.BySearch)
}

func click(text string) chromedp.Action {
	return chromedp.Click(button(text), chromedp.BySearch)
}

func see(s string) chromedp.Action { return chromedp.WaitVisible(text(s), chromedp.BySearch) }

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	// A bound per step for a page that never shows what is awaited (the
	// page's text is then in the failure), not a timing assertion.
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var body string
		_ = chromedp.Run(ctx, chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\npage text: %s", what, err, body)
	}
}

// screenshot writes the page to the test's artifact folder and, when
// PULSESTREAM_UPDATE_SCREENSHOTS=1, to docs/img/name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot(&png)) // the window: what a person sees first
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PULSESTREAM_UPDATE_SCREENSHOTS") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserConsole walks the scenarios in one browser: the
// operator's first run, a tenant and its owner, a key, the explorer, the
// live tail, an alert acknowledged and silenced, and a viewer refused.
func TestBrowserConsole(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	clock := newFakeClock()
	n := startAlertNode(t, "sqlite://"+t.TempDir()+"/p.db", clock, alertOpts(clock), true, true)
	rc := newReceiver(t)

	// The operator's first run: the printed link carries the token in its fragment.
	tok, err := n.App.Auth().StartSetup(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("setup token: %q %v", tok, err)
	}
	run(t, ctx, "first-run setup",
		chromedp.Navigate(n.URL+"/setup#"+tok),
		fill("Email", "op@example.com"), fill("Name", "Olga Operator"), fill("Password", memberPassword),
		click("Create the operator account"),
		see("create a tenant"))

	// The operator creates a tenant and invites its owner.
	var link string
	run(t, ctx, "create a tenant",
		chromedp.Navigate(n.URL+"/operator/tenants"),
		fill("Tenant name", "Acme"), click("Create tenant"),
		see("Invite the tenant's owner"))
	run(t, ctx, "invite the owner",
		chromedp.Click(`//a[normalize-space(.)="Invite the tenant's owner"]`, chromedp.BySearch),
		fill("Email", "owner@example.com"), choose("Role", "owner"), click("Invite"),
		chromedp.WaitVisible(field("Invitation link"), chromedp.BySearch),
		chromedp.Value(field("Invitation link"), &link, chromedp.BySearch))
	run(t, ctx, "the operator signs out", click("Sign out"), see("Sign in"))
	if !strings.Contains(link, "/invite/") {
		t.Fatalf("invitation link %q", link)
	}

	// The owner accepts (signed in at once) and creates a key.
	var key, location string
	run(t, ctx, "accept the invitation and create a key",
		chromedp.Navigate(link),
		fill("Name", "Omar Owner"), fill("Password", memberPassword), click("Accept the invitation"),
		chromedp.WaitVisible(`//h1[normalize-space(.)="Events"]`, chromedp.BySearch),
		chromedp.Location(&location),
		chromedp.Click(`//nav//a[normalize-space(.)="API keys"]`, chromedp.BySearch),
		fill("Key name", "shipper"),
		chromedp.Click(field("Search and read (read)"), chromedp.BySearch),
		chromedp.Click(field("Manage rules, keys and silences (admin)"), chromedp.BySearch),
		click("Create key"),
		chromedp.WaitVisible(field("New API key"), chromedp.BySearch),
		chromedp.Value(field("New API key"), &key, chromedp.BySearch))
	tenantID := regexp.MustCompile(`/t/([0-9a-f-]{36})/`).FindStringSubmatch(location)
	if tenantID == nil || len(key) < 20 {
		t.Fatalf("tenant from %q, key %q", location, key)
	}
	tenant := "/t/" + tenantID[1]

	// Events sent with that key, found in the explorer by service, severity and tag.
	for _, e := range []map[string]any{
		{"service": "checkout", "severity": "error", "tags": map[string]any{"env": "prod"}, "message": "card declined: the wanted one", "status_code": 502},
		{"service": "search", "severity": "error", "tags": map[string]any{"env": "prod"}, "message": "other service"},
		{"service": "checkout", "severity": "info", "tags": map[string]any{"env": "prod"}, "message": "other severity"},
		{"service": "checkout", "severity": "error", "tags": map[string]any{"env": "staging"}, "message": "other tag"},
		{"service": "checkout", "severity": "warning", "message": "slow upstream", "tags": map[string]any{"env": "prod"}},
	} {
		n.ingest(key, event(e))
	}
	var listed string
	run(t, ctx, "explorer filtered by service, severity and tag",
		chromedp.Navigate(n.URL+tenant+"/events"),
		fill("Service", "checkout"), choose("Severity", "error"), fill("Tag (key:value)", "env:prod"), click("Search"),
		// The answer to the search (the unfiltered page lists the event too).
		chromedp.WaitVisible(field("Service")+`[@value="checkout"]`, chromedp.BySearch),
		see("card declined: the wanted one"),
		chromedp.Text("table.events tbody", &listed, chromedp.ByQuery))
	for _, other := range []string{"other service", "other severity", "other tag"} {
		if strings.Contains(listed, other) {
			t.Errorf("the filtered explorer lists %q:\n%s", other, listed)
		}
	}
	// An hour of traffic, so that the screenshot's histogram has a shape.
	var hour []map[string]any
	sevs := []string{"info", "info", "info", "debug", "warning", "info", "error", "info", "critical", "info"}
	for i := range 60 {
		hour = append(hour, event(map[string]any{"service": []string{"checkout", "search", "auth"}[i%3], "severity": sevs[(i*7)%len(sevs)],
			"message": fmt.Sprintf("request %d", i), "timestamp": ts(clock.Now().Add(-time.Duration(i*i%3500+60) * time.Second))}))
	}
	resp, _ := n.batch(key, hour)
	expectStatus(t, resp, 200)
	clock.Advance(time.Minute) // the tenant's quota (100 a minute) refills
	run(t, ctx, "the explorer for the screenshot", chromedp.Navigate(n.URL+tenant+"/events?range=1h"), see("slow upstream"))
	screenshot(t, ctx, "console-explorer.png")
	run(t, ctx, "event detail", chromedp.Click(`//table//a`, chromedp.BySearch), see("Payload"), see("As an API call"))

	// The live tail shows an event sent after the page opened.
	run(t, ctx, "open the live tail", chromedp.Navigate(n.URL+tenant+"/tail"), see("Live ·"))
	n.ingest(key, event(map[string]any{"service": "checkout", "message": "tailed after opening"}))
	run(t, ctx, "the tailed event appears", see("tailed after opening"))
	run(t, ctx, "pause the tail", click("Pause"), see("Paused ·"), click("Resume"))

	// A rule fires; the alert is acknowledged and silenced from the page.
	n.createRule(key, errorRule(rc.URL))
	n.sendEvents(key, 6, errEvent)
	n.tick()
	run(t, ctx, "the alert is listed",
		chromedp.Navigate(n.URL+tenant+"/alerts"), see("checkout errors"),
		click("Acknowledge"), see("Alert acknowledged."))
	run(t, ctx, "silence it",
		choose("Silence for", "4h"), click("Silence"), see("Silenced until"))
	run(t, ctx, "the alert's page", chromedp.Click(`//td/a[normalize-space(.)="checkout errors"]`, chromedp.BySearch), see("History"))
	screenshot(t, ctx, "console-alerts.png")
	alerts := n.alerts(key, "?status=firing")
	if len(alerts) != 1 || alerts[0].(map[string]any)["acknowledged_at"] == nil {
		t.Errorf("after the page's buttons: %v", alerts)
	}
	if r := n.do("GET", "/api/v1/silences", key, nil); !strings.Contains(string(r.Body), `"ends_at"`) {
		t.Errorf("no silence was created: %s", r.Body)
	}

	// A viewer: no "Create key" button, and the form posted by hand is refused.
	var viewerLink string
	run(t, ctx, "invite a viewer",
		chromedp.Navigate(n.URL+tenant+"/members"),
		fill("Email", "viewer@example.com"), choose("Role", "viewer"), click("Invite"),
		chromedp.WaitVisible(field("Invitation link"), chromedp.BySearch),
		chromedp.Value(field("Invitation link"), &viewerLink, chromedp.BySearch),
		click("Sign out"), see("Sign in"))
	var buttons []string
	var status int
	run(t, ctx, "the viewer's keys page",
		chromedp.Navigate(viewerLink),
		fill("Name", "Vera Viewer"), fill("Password", memberPassword), click("Accept the invitation"),
		chromedp.WaitVisible(`//h1[normalize-space(.)="Events"]`, chromedp.BySearch),
		chromedp.Navigate(n.URL+tenant+"/keys"), see("may not see or manage API keys"),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("button")).map(b => b.textContent.trim())`, &buttons),
		chromedp.Evaluate(fmt.Sprintf(`fetch(%q, {method: "POST", body: new URLSearchParams({name: "sneaky", scope: "ingest"})}).then(r => r.status)`, tenant+"/keys"),
			&status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	for _, b := range buttons {
		if b == "Create key" {
			t.Error("the viewer is offered Create key")
		}
	}
	if status != 403 {
		t.Errorf("the viewer posting the key form: %d, want 403", status)
	}
}
