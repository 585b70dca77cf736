package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The console over plain HTTP: what a browser would get, read as text.
// The browser tests (browser_test.go) drive the same pages in Chromium.

// page fetches a console page without following redirects. headers are
// name, value pairs.
func (n *node) page(method, path string, form url.Values, headers ...string) *response {
	n.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, n.URL+path, body)
	if err != nil {
		n.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin") // what a browser sends with a form of the page
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

var (
	h1Tag     = regexp.MustCompile(`<h1[\s>]`)
	controlRe = regexp.MustCompile(`<(input|select|textarea)\b([^>]*)>`)
	idAttr    = regexp.MustCompile(`\bid="([^"]+)"`)
	typeAttr  = regexp.MustCompile(`\btype="([^"]+)"`)
	buttonRe  = regexp.MustCompile(`(?s)<button\b[^>]*>(.*?)</button>`)
)

// checkAccessible: one <h1>, a <label for> for every visible control, a
// text on every button, the console's CSP.
func checkAccessible(t *testing.T, name string, r *response) {
	t.Helper()
	body := string(r.Body)
	if n := len(h1Tag.FindAllString(body, -1)); n != 1 {
		t.Errorf("%s: %d <h1>, want exactly one", name, n)
	}
	for _, m := range controlRe.FindAllStringSubmatch(body, -1) {
		if typ := typeAttr.FindStringSubmatch(m[2]); typ != nil && typ[1] == "hidden" {
			continue
		}
		id := idAttr.FindStringSubmatch(m[2])
		if id == nil || !strings.Contains(body, `<label for="`+id[1]+`"`) {
			t.Errorf("%s: control without a visible label: %s", name, m[0])
		}
	}
	for _, m := range buttonRe.FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")) == "" {
			t.Errorf("%s: a button without text: %s", name, m[0])
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", name, csp)
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || strings.Contains(body, " onclick=") {
		t.Errorf("%s: an inline script", name)
	}
}

func TestConsolePages(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("console", 0)
		owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
		evil := n.ingest(key, event(map[string]any{"service": "web", "message": `<script>alert("pwned")</script>`,
			"tags": map[string]any{"env": `"><img src=x>`}, "payload": map[string]any{"html": "<b>bold</b>"}}))

		// Signed out: every page leads to the sign-in form.
		r := n.page("GET", "/t/"+tenantID+"/events", nil)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/sign-in") {
			t.Fatalf("signed out: %d %s", r.Status, r.Header.Get("Location"))
		}
		checkAccessible(t, "sign-in", n.page("GET", "/sign-in", nil))
		checkAccessible(t, "setup", n.page("GET", "/setup", nil))
		checkAccessible(t, "invite", n.page("GET", "/invite/abc", nil))

		pages := []string{"events", "events?service=web&range=24h", "events/" + evil, "tail", "alerts", "alerts?status=resolved",
			"keys", "signing-secrets", "rules", "rules/new", "members", "usage", "usage?interval=day", "audit"}
		for _, p := range pages {
			r := n.page("GET", "/t/"+tenantID+"/"+p, nil, "Cookie", owner)
			if r.Status != http.StatusOK {
				t.Errorf("%s: %d %s", p, r.Status, r.Body)
				continue
			}
			checkAccessible(t, p, r)
		}

		// Event content is text, never markup: in the list and the detail.
		for _, p := range []string{"events?range=24h", "events/" + evil} {
			body := string(n.page("GET", "/t/"+tenantID+"/"+p, nil, "Cookie", owner).Body)
			if strings.Contains(body, `<script>alert`) || strings.Contains(body, `<img src=x>`) || strings.Contains(body, "<b>bold</b>") {
				t.Errorf("%s: event content rendered as HTML", p)
			}
			if !strings.Contains(body, `&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`) {
				t.Errorf("%s: the message is not shown escaped", p)
			}
		}

		// The explorer filters through the API: another service's event is not listed.
		n.ingest(key, event(map[string]any{"service": "billing", "message": "billing-only"}))
		body := string(n.page("GET", "/t/"+tenantID+"/events?service=web&range=24h", nil, "Cookie", owner).Body)
		if strings.Contains(body, "billing-only") || !strings.Contains(body, "/events/"+evil) {
			t.Error("the explorer's service filter is not applied")
		}
		if !strings.Contains(body, "<svg") || !strings.Contains(body, `class="sev-info"`) {
			t.Error("no histogram by severity")
		}

		// The text search field: only events with the words are listed; the
		// histogram (structured filters only) is still drawn, and says so.
		n.ingest(key, event(map[string]any{"service": "web", "message": "payment declined by issuer"}))
		body = string(n.page("GET", "/t/"+tenantID+"/events?q=declined&range=24h", nil, "Cookie", owner).Body)
		if !strings.Contains(body, "payment declined by issuer") || strings.Contains(body, "billing-only") {
			t.Error("the explorer's text search (q) is not applied")
		}
		if !strings.Contains(body, `id="q"`) || !strings.Contains(body, "<svg") || !strings.Contains(body, "the words are matched") {
			t.Error("the text search field, the histogram or its note is missing")
		}

		// A bad filter is the API's 422, shown on the page.
		r = n.page("GET", "/t/"+tenantID+"/events?status_code=99", nil, "Cookie", owner)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "status_code") {
			t.Errorf("bad filter: %d", r.Status)
		}

		// Unknown API routes still answer the API's problem document.
		problem(t, n.do("GET", "/api/v1/nope", key, nil), http.StatusNotFound)
	})
}

func TestConsoleRolesAndCSRF(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), nil)
	tenantID, _ := n.tenant("console", 0)
	otherID, _ := n.tenant("other", 0)
	owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
	viewer := n.signIn(n.member(tenantID, "viewer@example.com", pulse.RoleViewer))
	keys := "/t/" + tenantID + "/keys"
	create := url.Values{"name": {"ci"}, "scope": {"ingest"}}

	// A viewer is not offered the form, and posting it by hand is refused.
	r := n.page("GET", keys, nil, "Cookie", viewer)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), "Create key") {
		t.Errorf("viewer's keys page: %d, offers creating a key: %v", r.Status, strings.Contains(string(r.Body), "Create key"))
	}
	if r := n.page("POST", keys, create, "Cookie", viewer); r.Status != http.StatusForbidden {
		t.Errorf("viewer posting the form: %d, want 403", r.Status)
	}
	if r := n.page("GET", "/t/"+tenantID+"/alerts", nil, "Cookie", viewer); strings.Contains(string(r.Body), ">Acknowledge<") {
		t.Error("a viewer is offered acknowledging")
	}

	// The owner creates a key; the secret is on that answer only.
	r = n.page("POST", keys, create, "Cookie", owner)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `id="new-key"`) {
		t.Fatalf("owner creating a key: %d %s", r.Status, r.Body)
	}
	secret := regexp.MustCompile(`id="new-key" readonly value="([^"]+)"`).FindStringSubmatch(string(r.Body))
	if secret == nil || strings.Contains(string(n.page("GET", keys, nil, "Cookie", owner).Body), secret[1]) {
		t.Error("the new key is not shown once")
	}
	if r := n.do("POST", "/api/v1/events", secret[1], event(nil)); r.Status != http.StatusCreated {
		t.Errorf("the console's new key does not ingest: %d", r.Status)
	}

	// A signing secret, shown once.
	r = n.page("POST", "/t/"+tenantID+"/signing-secrets", url.Values{"name": {"sender"}}, "Cookie", owner)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `id="new-secret"`) {
		t.Errorf("signing secret: %d", r.Status)
	}
	if r := n.page("POST", "/t/"+tenantID+"/signing-secrets", url.Values{"name": {"x"}}, "Cookie", viewer); r.Status != http.StatusForbidden {
		t.Errorf("viewer creating a signing secret: %d", r.Status)
	}

	// Another site's form, with the owner's cookie: refused, nothing created.
	r = n.page("POST", keys, url.Values{"name": {"evil"}, "scope": {"admin"}}, "Cookie", owner, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if r.Status != http.StatusForbidden {
		t.Errorf("cross-site form: %d, want 403", r.Status)
	}
	if strings.Contains(string(n.page("GET", keys, nil, "Cookie", owner).Body), "evil") {
		t.Error("the cross-site form created a key")
	}

	// A tenant the person is not a member of.
	if r := n.page("GET", "/t/"+otherID+"/events", nil, "Cookie", owner); r.Status != http.StatusForbidden {
		t.Errorf("another tenant's explorer: %d, want 403", r.Status)
	}

	// Sign-in through the form sets the session cookie and leads home.
	r = n.page("POST", "/sign-in", url.Values{"email": {"owner@example.com"}, "password": {memberPassword}, "next": {"//evil.example"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" || !strings.Contains(strings.Join(r.Header["Set-Cookie"], ";"), "pulsestream_session=") {
		t.Errorf("sign-in form: %d %q %v", r.Status, r.Header.Get("Location"), r.Header["Set-Cookie"])
	}
	if r := n.page("POST", "/sign-in", url.Values{"email": {"owner@example.com"}, "password": {"wrong"}}); r.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", r.Status)
	}
}

// TestConsoleOperator: an operator's session may use the admin API (the
// console's tenant pages) and invite a tenant's owner; others may not.
func TestConsoleOperator(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), nil)
	tenantID, _ := n.tenant("console", 0)
	owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
	tok, err := n.App.Auth().StartSetup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := n.page("POST", "/setup", url.Values{"token": {tok}, "email": {"op@example.com"}, "name": {"Op"}, "password": {memberPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("setup form: %d %s", r.Status, r.Body)
	}
	op := ""
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "pulsestream_session" {
			op = c.Name + "=" + c.Value
		}
	}
	if r := n.page("GET", "/operator/tenants", nil, "Cookie", owner); r.Status != http.StatusForbidden {
		t.Errorf("a non-operator's tenant page: %d", r.Status)
	}
	problem(t, n.do("GET", "/admin/v1/tenants", "", nil, "Cookie", owner), http.StatusForbidden)
	r = n.page("POST", "/operator/tenants", url.Values{"name": {"Acme"}}, "Cookie", op)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), "Acme") {
		t.Fatalf("create a tenant: %d %s", r.Status, r.Body)
	}
	checkAccessible(t, "tenants", r)
	id := regexp.MustCompile(`/t/([0-9a-f-]{36})/members`).FindStringSubmatch(string(r.Body))
	r = n.page("POST", "/t/"+id[1]+"/invitations", url.Values{"email": {"boss@example.com"}, "role": {"owner"}}, "Cookie", op)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), "/invite/") {
		t.Fatalf("invite the owner: %d %s", r.Status, r.Body)
	}

	// Limits and disabling, through PATCH /admin/v1/tenants/{id}.
	r = n.page("POST", "/operator/tenants/"+id[1], url.Values{"rate_limit_per_minute": {"42"}, "retention_days": {"7"}, "disabled": {"on"}}, "Cookie", op)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("tenant limits: %d %s", r.Status, r.Body)
	}
	got := n.do("GET", "/admin/v1/tenants/"+id[1], adminToken, nil).JSON(t)
	if got["rate_limit_per_minute"] != 42.0 || got["retention_days"] != 7.0 || got["disabled"] != true {
		t.Errorf("after the form: %v", got)
	}
	if r := n.page("POST", "/operator/tenants/"+id[1], url.Values{"retention_days": {"-1"}}, "Cookie", op); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a bad retention: %d", r.Status)
	}

	// Users: listed, and one disabled from the page.
	users := n.page("GET", "/operator/users", nil, "Cookie", op)
	checkAccessible(t, "users", users)
	if !strings.Contains(string(users.Body), "owner@example.com") {
		t.Fatal("the users page lacks a user")
	}
	uid := regexp.MustCompile(`/operator/users/([0-9a-f-]{36})"`).FindStringSubmatch(string(users.Body))
	if r := n.page("POST", "/operator/users/"+uid[1], url.Values{"disabled": {"true"}}, "Cookie", op); r.Status != http.StatusSeeOther {
		t.Fatalf("disable a user: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(string(n.page("GET", "/operator/users", nil, "Cookie", op).Body), "disabled") {
		t.Error("the user is not shown disabled")
	}
}

// TestConsoleRuleForm: create and edit a rule with the form; the API's
// validation shows on the form. (An edit that keeps the webhook URL sends
// no notify, so PATCH keeps the webhook and its signing secret.)
func TestConsoleRuleForm(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), func(c *config.Config) { c.WebhookAllowPrivate = true })
	tenantID, key := n.tenant("console", 0)
	owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
	rules := "/t/" + tenantID + "/rules"
	checkAccessible(t, "new rule", n.page("GET", rules+"/new", nil, "Cookie", owner))
	form := url.Values{"name": {"checkout errors"}, "service": {"checkout"}, "min_severity": {"error"}, "aggregate": {"count"},
		"operator": {"gt"}, "threshold": {"lots"}, "window_seconds": {"60"}, "for_seconds": {"0"}, "group_by": {"endpoint"},
		"webhook_url": {"http://127.0.0.1:9/hook"}, "enabled": {"on"}}
	r := n.page("POST", rules, form, "Cookie", owner)
	if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `value="checkout errors"`) {
		t.Fatalf("a bad threshold: %d, want the form again with the API's refusal: %s", r.Status, r.Body)
	}
	form.Set("threshold", "5")
	if r := n.page("POST", rules, form, "Cookie", owner); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	list := n.do("GET", "/api/v1/alert-rules", key, nil).JSON(t)["rules"].([]any)
	if len(list) != 1 {
		t.Fatalf("rules: %v", list)
	}
	rule := list[0].(map[string]any)
	id := rule["id"].(string)
	edit := n.page("GET", rules+"/"+id+"/edit", nil, "Cookie", owner)
	checkAccessible(t, "edit rule", edit)
	form.Set("threshold", "7")
	if r := n.page("POST", rules+"/"+id, form, "Cookie", owner); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	got := n.do("GET", "/api/v1/alert-rules/"+id, key, nil).JSON(t)
	if got["condition"].(map[string]any)["threshold"] != 7.0 || got["notify"].([]any)[0].(map[string]any)["url"] != "http://127.0.0.1:9/hook" {
		t.Errorf("after the edit: %v", got)
	}
}

// TestConsoleRulePreview: the rule form's "Test against the last hour"
// button shows each group's value under the form (escaped), saves
// nothing, and shows the same field errors as saving on a bad value.
func TestConsoleRulePreview(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", clock, nil)
	tenantID, key := n.tenant("console", 0)
	owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
	now := clock.Now()
	for i := range 3 {
		n.ingest(key, event(map[string]any{"service": "checkout", "severity": "error", "timestamp": ts(now.Add(-time.Duration(i+1) * time.Minute))}))
	}
	n.ingest(key, event(map[string]any{"service": "<b>search</b>", "severity": "error", "timestamp": ts(now.Add(-time.Minute))}))
	rules := "/t/" + tenantID + "/rules"
	form := url.Values{"name": {"errors"}, "min_severity": {"error"}, "aggregate": {"count"}, "operator": {"gt"},
		"threshold": {"2"}, "window_seconds": {"600"}, "for_seconds": {"0"}, "group_by": {"service"}, "enabled": {"on"}, "preview": {"1"}}
	r := n.page("POST", rules, form, "Cookie", owner)
	if r.Status != http.StatusOK {
		t.Fatalf("preview: %d %s", r.Status, r.Body)
	}
	checkAccessible(t, "rule preview", r)
	body := string(r.Body)
	for _, want := range []string{`<h2 id="preview-title">Test against the last hour</h2>`, "4 stored events read", "1 of 2 groups would fire",
		`<span class="tag">service:checkout</span> </td>
    <td>3</td>`, "&lt;b&gt;search&lt;/b&gt;", `value="errors"`, `<button type="submit" name="preview" value="1">Test against the last hour</button>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<b>search</b>") {
		t.Error("an event's service is rendered as HTML")
	}

	// A bad value: the same field error as saving, and the form again.
	form.Set("threshold", "lots")
	previewBad := n.page("POST", rules, form, "Cookie", owner)
	form.Del("preview")
	saveBad := n.page("POST", rules, form, "Cookie", owner)
	errList := regexp.MustCompile(`(?s)<div class="error" role="alert">.*?</div>`)
	if previewBad.Status != saveBad.Status || previewBad.Status != http.StatusUnprocessableEntity ||
		errList.FindString(string(previewBad.Body)) == "" || errList.FindString(string(previewBad.Body)) != errList.FindString(string(saveBad.Body)) {
		t.Errorf("preview of a bad threshold: %d %s\nsaving it: %d %s", previewBad.Status, errList.FindString(string(previewBad.Body)),
			saveBad.Status, errList.FindString(string(saveBad.Body)))
	}
	if !strings.Contains(string(previewBad.Body), "condition.threshold") || !strings.Contains(string(previewBad.Body), `value="lots"`) {
		t.Errorf("the refusal does not name the field on the form: %s", previewBad.Body)
	}
	if list := n.do("GET", "/api/v1/alert-rules", key, nil).JSON(t)["rules"].([]any); len(list) != 0 {
		t.Errorf("a preview saved a rule: %v", list)
	}
}
