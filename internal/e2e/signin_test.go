package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

const memberPassword = "correct horse battery staple"

// cheapHasher makes test users' password hashes quickly; Verify reads the
// parameters from the hash, so the server checks them at this cost too.
var cheapHasher = password.NewHasher(password.TestParams, 4)

// member creates a user with memberPassword and role in tenantID (none
// when role is "") straight in the store and returns their email.
func (n *node) member(tenantID, email string, role pulse.Role) string {
	n.t.Helper()
	ctx := context.Background()
	h, err := cheapHasher.Hash(ctx, memberPassword)
	if err != nil {
		n.t.Fatal(err)
	}
	now := n.Clock.Now()
	u := &pulse.User{ID: pulse.NewID(), Email: email, Name: email, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	if err := n.App.Store.CreateUser(ctx, u); err != nil {
		n.t.Fatal(err)
	}
	if role != "" {
		if err := n.App.Store.PutMembership(ctx, &pulse.Membership{UserID: u.ID, TenantID: tenantID, Role: role, CreatedAt: now}); err != nil {
			n.t.Fatal(err)
		}
	}
	return email
}

// signIn signs email in through the API and returns the session cookie
// ("name=value", for a Cookie header).
func (n *node) signIn(email string) string {
	n.t.Helper()
	r := n.do("POST", "/api/v1/session", "", map[string]any{"email": email, "password": memberPassword})
	expectStatus(n.t, r, http.StatusOK)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "pulsestream_session" {
			return c.Name + "=" + c.Value
		}
	}
	n.t.Fatalf("no session cookie in %v", r.Header["Set-Cookie"])
	return ""
}

// The API route → the action it needs, written out here independently of
// the server's own table: the specification the role table checks.
var routeActions = map[string]pulse.Action{
	"POST /api/v1/events":                              pulse.ActIngest,
	"POST /api/v1/events/batch":                        pulse.ActIngest,
	"POST /v1/logs":                                    pulse.ActIngest,
	"POST /api/v1/ingest/elasticsearch/_bulk":          pulse.ActIngest,
	"POST /api/v1/ingest/elasticsearch/{index}/_bulk":  pulse.ActIngest,
	"GET /api/v1/ingest/elasticsearch":                 pulse.ActIngest,
	"GET /api/v1/ingest/elasticsearch/_cluster/health": pulse.ActIngest,
	"GET /api/v1/events":                               pulse.ActRead,
	"GET /api/v1/events/{id}":                          pulse.ActRead,
	"GET /api/v1/events/histogram":                     pulse.ActRead,
	"GET /api/v1/usage":                                pulse.ActRead,
	"POST /api/v1/alert-rules":                         pulse.ActManageRules,
	"GET /api/v1/alert-rules":                          pulse.ActRead,
	"GET /api/v1/alert-rules/{id}":                     pulse.ActRead,
	"PUT /api/v1/alert-rules/{id}":                     pulse.ActManageRules,
	"PATCH /api/v1/alert-rules/{id}":                   pulse.ActManageRules,
	"DELETE /api/v1/alert-rules/{id}":                  pulse.ActManageRules,
	"POST /api/v1/alert-rules/{id}/test":               pulse.ActManageRules,
	"POST /api/v1/alert-rules/preview":                 pulse.ActManageRules,
	"GET /api/v1/alerts":                               pulse.ActRead,
	"GET /api/v1/alerts/{id}":                          pulse.ActRead,
	"POST /api/v1/alerts/{id}/acknowledge":             pulse.ActAcknowledge,
	"GET /api/v1/alerts/{id}/notifications":            pulse.ActRead,
	"GET /api/v1/notifications/{id}":                   pulse.ActRead,
	"POST /api/v1/notifications/{id}/retry":            pulse.ActManageRules,
	"POST /api/v1/silences":                            pulse.ActSilence,
	"GET /api/v1/silences":                             pulse.ActRead,
	"DELETE /api/v1/silences/{id}":                     pulse.ActSilence,
	"GET /api/v1/api-keys":                             pulse.ActManageKeys,
	"POST /api/v1/api-keys":                            pulse.ActManageKeys,
	"DELETE /api/v1/api-keys/{id}":                     pulse.ActDeleteKeys,
	"POST /api/v1/api-keys/{id}/rotate":                pulse.ActManageKeys,
	"GET /api/v1/signing-secrets":                      pulse.ActManageKeys,
	"POST /api/v1/signing-secrets":                     pulse.ActManageKeys,
	"DELETE /api/v1/signing-secrets/{id}":              pulse.ActManageKeys,
	"GET /api/v1/audit-log":                            pulse.ActReadAudit,
	"GET /api/v1/users/{user_id}/events/export":        pulse.ActDataSubject,
	"DELETE /api/v1/users/{user_id}/events":            pulse.ActDataSubject,
	"POST /api/v1/invitations":                         pulse.ActManageMembers,
	"GET /api/v1/invitations":                          pulse.ActManageMembers,
	"DELETE /api/v1/invitations/{id}":                  pulse.ActManageMembers,
	"GET /api/v1/members":                              pulse.ActRead,
	"PUT /api/v1/members/{user_id}":                    pulse.ActManageMembers,
	"DELETE /api/v1/members/{user_id}":                 pulse.ActManageMembers,
}

// Routes that act on a session, not in a tenant.
var sessionRoutes = map[string]bool{
	"POST /api/v1/session": true, "GET /api/v1/session": true, "DELETE /api/v1/session": true,
	"POST /api/v1/session/revoke-all": true, "POST /api/v1/session/password": true,
	"POST /api/v1/session/totp": true, "POST /api/v1/session/totp/confirm": true, "POST /api/v1/session/totp/disable": true,
	"POST /api/v1/invitations/accept": true, "POST /api/v1/setup": true,
}

// roleMay is what each role may do: the words, as a table.
var roleMay = map[pulse.Role][]pulse.Action{
	pulse.RoleOwner: {pulse.ActRead, pulse.ActIngest, pulse.ActAcknowledge, pulse.ActSilence, pulse.ActManageRules,
		pulse.ActManageKeys, pulse.ActDeleteKeys, pulse.ActManageMembers, pulse.ActManageOwners, pulse.ActReadAudit,
		pulse.ActDataSubject},
	pulse.RoleAdmin: {pulse.ActRead, pulse.ActIngest, pulse.ActAcknowledge, pulse.ActSilence, pulse.ActManageRules,
		pulse.ActManageKeys, pulse.ActManageMembers, pulse.ActReadAudit},
	pulse.RoleMember: {pulse.ActRead, pulse.ActAcknowledge, pulse.ActSilence},
	pulse.RoleViewer: {pulse.ActRead},
}

// TestRoleRouteTable signs in one person per role and calls every tenant
// API route with their session: 403 exactly where the role may not.
func TestRoleRouteTable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, _ := n.tenant("roles", 0)
		for _, route := range n.App.Server().Routes() {
			method, path, _ := strings.Cut(route, " ")
			if !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/v1/") {
				continue
			}
			if _, ok := routeActions[route]; !ok && !sessionRoutes[route] && streamRoutes[route] == "" {
				t.Errorf("route %s is in neither routeActions nor sessionRoutes: say who may call it", route)
			}
			_ = method
		}
		for _, role := range pulse.Roles {
			cookie := n.signIn(n.member(tenantID, string(role)+"@example.com", role))
			may := map[pulse.Action]bool{}
			for _, a := range roleMay[role] {
				may[a] = true
			}
			for route, action := range routeActions {
				method, path, _ := strings.Cut(route, " ")
				path = strings.NewReplacer("{id}", "01900000-0000-7000-8000-000000000000", "{user_id}", "01900000-0000-7000-8000-000000000000", "{index}", "logs").Replace(path)
				var body any
				if method != "GET" && method != "DELETE" {
					body = map[string]any{}
				}
				r := n.do(method, path, "", body, "Cookie", cookie, "X-PulseStream-Tenant", tenantID)
				switch {
				case may[action] && (r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized):
					t.Errorf("%s %s: %d, want allowed; %s", role, route, r.Status, r.Body)
				case !may[action] && r.Status != http.StatusForbidden:
					t.Errorf("%s %s: %d, want 403; %s", role, route, r.Status, r.Body)
				}
			}
		}
	})
}

func TestSessionOnTheAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("sessions", 0)
		otherID, _ := n.tenant("other", 0)
		email := n.member(tenantID, "ana@example.com", pulse.RoleMember)

		// Cookie flags.
		r := n.do("POST", "/api/v1/session", "", map[string]any{"email": email, "password": memberPassword})
		expectStatus(t, r, http.StatusOK)
		var session *http.Cookie
		for _, c := range (&http.Response{Header: r.Header}).Cookies() {
			if c.Name == "pulsestream_session" {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
			t.Fatalf("session cookie %+v (no TLS: not Secure)", session)
		}
		cookie := "pulsestream_session=" + session.Value
		me := n.do("GET", "/api/v1/session", "", nil, "Cookie", cookie).JSON(t)
		if me["user"].(map[string]any)["email"] != email || me["operator"] != false || len(me["memberships"].([]any)) != 1 {
			t.Fatalf("who am I: %v", me)
		}

		// The API with the session: the tenant header is required; another
		// tenant is refused.
		expectStatus(t, n.do("GET", "/api/v1/events", "", nil, "Cookie", cookie, "X-PulseStream-Tenant", tenantID), http.StatusOK)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "Cookie", cookie), http.StatusBadRequest)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "Cookie", cookie, "X-PulseStream-Tenant", otherID), http.StatusForbidden)

		// CSRF: a state-changing request with the cookie from another
		// origin is refused; from the same origin it passes; an API-key
		// request is not affected.
		silence := map[string]any{"matchers": map[string]any{"service": "checkout"}, "ends_at": ts(n.Clock.Now().Add(time.Hour))}
		problem(t, n.do("POST", "/api/v1/silences", "", silence, "Cookie", cookie, "X-PulseStream-Tenant", tenantID,
			"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), http.StatusForbidden)
		problem(t, n.do("POST", "/api/v1/silences", "", silence, "Cookie", cookie, "X-PulseStream-Tenant", tenantID,
			"Origin", "https://evil.example"), http.StatusForbidden)
		host := strings.TrimPrefix(n.URL, "http://")
		r = n.do("POST", "/api/v1/silences", "", silence, "Cookie", cookie, "X-PulseStream-Tenant", tenantID,
			"Sec-Fetch-Site", "same-origin", "Origin", "http://"+host)
		if r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized {
			t.Fatalf("same-origin request refused: %d %s", r.Status, r.Body)
		}
		r = n.do("POST", "/api/v1/silences", key, silence, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if r.Status == http.StatusForbidden {
			t.Fatalf("API-key request refused as cross-origin: %s", r.Body)
		}
		problem(t, n.do("POST", "/api/v1/session", "", map[string]any{"email": email, "password": memberPassword},
			"Sec-Fetch-Site", "cross-site"), http.StatusForbidden)

		// Audited as the person.
		entries := n.do("GET", "/api/v1/audit-log", key, nil).JSON(t)["entries"].([]any)
		found := false
		for _, e := range entries {
			e := e.(map[string]any)
			found = found || e["action"] == "silence.create" && strings.HasPrefix(e["actor"].(string), "user:")
		}
		if !found {
			t.Errorf("no silence.create by a user in %v", entries)
		}

		// Idle timeout with the fake clock.
		n.Clock.Advance(12*time.Hour + time.Minute)
		problem(t, n.do("GET", "/api/v1/session", "", nil, "Cookie", cookie), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/events", "", nil, "Cookie", cookie, "X-PulseStream-Tenant", tenantID), http.StatusUnauthorized)

		// Sign out; sign out everywhere.
		c1, c2 := n.signIn(email), n.signIn(email)
		expectStatus(t, n.do("DELETE", "/api/v1/session", "", nil, "Cookie", c1), http.StatusNoContent)
		problem(t, n.do("GET", "/api/v1/session", "", nil, "Cookie", c1), http.StatusUnauthorized)
		expectStatus(t, n.do("GET", "/api/v1/session", "", nil, "Cookie", c2), http.StatusOK)
		c3 := n.signIn(email)
		expectStatus(t, n.do("POST", "/api/v1/session/revoke-all", "", nil, "Cookie", c3), http.StatusNoContent)
		problem(t, n.do("GET", "/api/v1/session", "", nil, "Cookie", c2), http.StatusUnauthorized)
		problem(t, n.do("GET", "/api/v1/session", "", nil, "Cookie", c3), http.StatusUnauthorized)
	})
}

// TestInvitationAndSetupOverHTTP: the first operator sets up, invites an
// owner; the owner accepts the link and is signed in.
func TestInvitationAndSetupOverHTTP(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, _ := n.tenant("invites", 0)
		tok, err := n.App.Auth().StartSetup(context.Background())
		if err != nil || tok == "" {
			t.Fatalf("setup token %q %v", tok, err)
		}
		r := n.do("POST", "/api/v1/setup", "", map[string]any{"token": tok, "email": "op@example.com", "name": "Op", "password": memberPassword})
		expectStatus(t, r, http.StatusCreated)
		if r.JSON(t)["operator"] != true {
			t.Fatalf("setup: %s", r.Body)
		}
		op := ""
		for _, c := range (&http.Response{Header: r.Header}).Cookies() {
			if c.Name == "pulsestream_session" {
				op = c.Name + "=" + c.Value
			}
		}
		problem(t, n.do("POST", "/api/v1/setup", "", map[string]any{"token": tok, "email": "x@example.com", "name": "X", "password": memberPassword}), http.StatusUnauthorized)

		r = n.do("POST", "/api/v1/invitations", "", map[string]any{"email": "owner@example.com", "role": "owner"}, "Cookie", op, "X-PulseStream-Tenant", tenantID)
		expectStatus(t, r, http.StatusCreated)
		inv := r.JSON(t)
		token := inv["token"].(string)
		if !strings.HasSuffix(inv["link"].(string), "/invite/"+token) {
			t.Fatalf("link %v", inv["link"])
		}
		list := n.do("GET", "/api/v1/invitations", "", nil, "Cookie", op, "X-PulseStream-Tenant", tenantID)
		if strings.Contains(string(list.Body), token) {
			t.Fatal("the token is listed")
		}
		r = n.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": token, "name": "Owner", "password": memberPassword})
		expectStatus(t, r, http.StatusOK)
		if m := r.JSON(t)["memberships"].([]any); len(m) != 1 || m[0].(map[string]any)["role"] != "owner" {
			t.Fatalf("accepted: %s", r.Body)
		}
		problem(t, n.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": token, "name": "Owner", "password": memberPassword}), http.StatusConflict)
	})
}

// The sign-in routes in the walk of TestAuditEveryMutatingRoute (which
// calls routes with the tenant's API key).
func init() {
	const personal = "acts on the caller's own session or user, audited server-wide with the user as actor " +
		"(session.sign_in, session.sign_in_failed, session.revoke_all, user.password_change, user.totp_*); " +
		"see internal/people's tests"
	for _, route := range []string{"POST /api/v1/session", "DELETE /api/v1/session", "POST /api/v1/session/revoke-all",
		"POST /api/v1/session/password", "POST /api/v1/session/totp", "POST /api/v1/session/totp/confirm",
		"POST /api/v1/session/totp/disable"} {
		auditFixtures[route] = auditFixture{exempt: personal}
	}
	auditFixtures["POST /api/v1/setup"] = auditFixture{exempt: "first run: creates the operator (user.create by \"setup\"); TestFirstRunSetup"}
	auditFixtures["POST /api/v1/invitations/accept"] = auditFixture{exempt: "a person without a key accepts (invitation.accept by the new user); TestInvitationExpiryAndSingleUse"}
	auditFixtures["POST /api/v1/invitations"] = auditFixture{build: func(w *auditWalk) auditCall {
		return auditCall{method: "POST", path: "/api/v1/invitations", key: w.key,
			body:   map[string]any{"email": "walk@example.com", "role": "viewer"},
			status: http.StatusCreated, action: "invitation.create"}
	}}
	auditFixtures["DELETE /api/v1/invitations/{id}"] = auditFixture{build: func(w *auditWalk) auditCall {
		m := w.json(w.n.do("POST", "/api/v1/invitations", w.key, map[string]any{"email": "gone@example.com", "role": "member"}), http.StatusCreated)
		id := m["invitation"].(map[string]any)["id"].(string)
		return auditCall{method: "DELETE", path: "/api/v1/invitations/" + id, key: w.key,
			status: http.StatusNoContent, action: "invitation.revoke", target: "invitation/" + id}
	}}
}

// lockedBuffer collects a node's log lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSessionSecretsNeverLogged signs in, uses and ends a session, fails
// sign-ins and opens an invitation link on a node logging at debug level:
// no session id, device cookie, password or invitation token appears.
func TestSessionSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + t.TempDir() + "/pulsestream.db"
	cfg.AdminToken = adminToken
	cfg.MaintenanceInterval = time.Hour
	a, err := app.New(context.Background(), cfg, app.Options{Clock: newFakeClock(),
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); _ = a.Close() })
	n := &node{t: t, URL: srv.URL, App: a, Clock: newFakeClock()}

	tenantID, _ := n.tenant("logged", 0)
	email := n.member(tenantID, "ana@example.com", pulse.RoleOwner)
	r := n.do("POST", "/api/v1/session", "", map[string]any{"email": email, "password": memberPassword})
	expectStatus(t, r, http.StatusOK)
	var secrets []string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		secrets = append(secrets, c.Value)
	}
	if len(secrets) != 2 {
		t.Fatalf("cookies %v", r.Header["Set-Cookie"])
	}
	cookie := "pulsestream_session=" + secrets[0]
	expectStatus(t, n.do("GET", "/api/v1/events", "", nil, "Cookie", cookie, "X-PulseStream-Tenant", tenantID), http.StatusOK)
	inv := n.do("POST", "/api/v1/invitations", "", map[string]any{"email": "bob@example.com", "role": "viewer"},
		"Cookie", cookie, "X-PulseStream-Tenant", tenantID).JSON(t)
	token := inv["token"].(string)
	n.do("GET", "/invite/"+token, "", nil)
	problem(t, n.do("POST", "/api/v1/session", "", map[string]any{"email": email, "password": "a wrong password, logged?"}), http.StatusUnauthorized)
	expectStatus(t, n.do("DELETE", "/api/v1/session", "", nil, "Cookie", cookie), http.StatusNoContent)

	out := logs.String()
	if !strings.Contains(out, "/api/v1/session") {
		t.Fatalf("the node logged no requests: %q", out)
	}
	for _, s := range append(secrets, token, memberPassword, "a wrong password", pulse.HashSecret(secrets[0])) {
		if strings.Contains(out, s) {
			t.Errorf("the log holds a secret %q", s)
		}
	}
}

// TestFirstRunSetupURLPrinted: serve prints the setup link while no
// operator exists; its token makes the first operator once.
func TestFirstRunSetupURLPrinted(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + t.TempDir() + "/pulsestream.db"
	cfg.AdminToken = adminToken
	a, err := app.New(context.Background(), cfg, app.Options{Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, then shut down at once: the link is printed before serving
	if err := a.Serve(ctx, ln); err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(out.String(), "http://"+ln.Addr().String()+"/setup#")
	if !ok {
		t.Fatalf("no setup link printed: %q", out.String())
	}
	token := strings.Fields(after)[0]
	res, err := a.Auth().Setup(context.Background(), people.SetupRequest{Token: token, Email: "op@example.com", Name: "Op", Password: memberPassword})
	if err != nil || !res.User.Operator {
		t.Fatalf("setup with the printed token: %v", err)
	}
}
