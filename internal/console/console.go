package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles and
// images only (no inline script, no CDN), and forms that post back to it.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// TenantHeader names the tenant a signed-in person acts in, as the JSON
// API reads it (httpapi.TenantHeader; the console does not import httpapi).
const TenantHeader = "X-PulseStream-Tenant"

// Config wires the console.
type Config struct {
	// API is the JSON API's router (without its outer middleware): every
	// page reads and changes state through it, in process, with the
	// person's own cookie, so the console has exactly the rights of the
	// person and no path to the store of its own.
	API    http.Handler
	Clock  pulse.Clock
	Logger *slog.Logger
}

// Console serves the web console's pages.
type Console struct {
	api    http.Handler
	clock  pulse.Clock
	logger *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
}

// New builds the console.
func New(cfg Config) *Console {
	if cfg.Clock == nil {
		cfg.Clock = pulse.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{api: cfg.API, clock: cfg.Clock, logger: cfg.Logger, mux: http.NewServeMux(), pages: parsePages()}
	sub, _ := fs.Sub(staticFS, "static")
	c.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	c.routes()
	return c
}

// Patterns are the mux patterns the console answers; the server mounts
// the console at each of them, beside the API's routes.
var Patterns = []string{"GET /{$}", "/sign-in", "POST /sign-out", "/setup", "/invite/{token}", "GET /static/", "/t/", "/operator/"}

func (c *Console) routes() {
	c.mux.HandleFunc("GET /{$}", c.home)
	c.mux.HandleFunc("GET /static/", c.serveStatic)
	c.mux.HandleFunc("GET /sign-in", c.signInPage)
	c.mux.HandleFunc("POST /sign-in", c.signIn)
	c.mux.HandleFunc("POST /sign-out", c.signOut)
	c.mux.HandleFunc("GET /setup", c.setupPage)
	c.mux.HandleFunc("POST /setup", c.setup)
	c.mux.HandleFunc("GET /invite/{token}", c.invitePage)
	c.mux.HandleFunc("POST /invite/{token}", c.acceptInvite)

	c.mux.HandleFunc("GET /t/{tenant}/events", c.tenant(c.explorer))
	c.mux.HandleFunc("GET /t/{tenant}/events/{id}", c.tenant(c.eventDetail))
	c.mux.HandleFunc("GET /t/{tenant}/tail", c.tenant(c.tailPage))
	c.mux.HandleFunc("GET /t/{tenant}/tail/stream", c.tenant(c.tailStream))
	c.mux.HandleFunc("GET /t/{tenant}/alerts", c.tenant(c.alerts))
	c.mux.HandleFunc("GET /t/{tenant}/alerts/{id}", c.tenant(c.alertDetail))
	c.mux.HandleFunc("POST /t/{tenant}/alerts/{id}/acknowledge", c.tenant(c.alertAction("POST", "/api/v1/alerts/", "/acknowledge", "Alert acknowledged.")))
	c.mux.HandleFunc("POST /t/{tenant}/notifications/{id}/retry", c.tenant(c.alertAction("POST", "/api/v1/notifications/", "/retry", "The delivery is queued again.")))
	c.mux.HandleFunc("POST /t/{tenant}/silences", c.tenant(c.silence))
	c.mux.HandleFunc("POST /t/{tenant}/silences/{id}/expire", c.tenant(c.alertAction("DELETE", "/api/v1/silences/", "", "Silence ended.")))
	c.mux.HandleFunc("GET /t/{tenant}/keys", c.tenant(c.keys))
	c.mux.HandleFunc("POST /t/{tenant}/keys", c.tenant(c.createKey))
	c.mux.HandleFunc("POST /t/{tenant}/keys/{id}/rotate", c.tenant(c.rotateKey))
	c.mux.HandleFunc("POST /t/{tenant}/keys/{id}/revoke", c.tenant(c.revokeKey))
	c.mux.HandleFunc("GET /t/{tenant}/signing-secrets", c.tenant(c.secrets))
	c.mux.HandleFunc("POST /t/{tenant}/signing-secrets", c.tenant(c.createSecret))
	c.mux.HandleFunc("POST /t/{tenant}/signing-secrets/{id}/revoke", c.tenant(c.revokeSecret))
	c.mux.HandleFunc("GET /t/{tenant}/rules", c.tenant(c.rules))
	c.mux.HandleFunc("GET /t/{tenant}/rules/new", c.tenant(c.newRule))
	c.mux.HandleFunc("POST /t/{tenant}/rules", c.tenant(c.saveRule))
	c.mux.HandleFunc("GET /t/{tenant}/rules/{id}/edit", c.tenant(c.editRule))
	c.mux.HandleFunc("POST /t/{tenant}/rules/{id}", c.tenant(c.saveRule))
	c.mux.HandleFunc("GET /t/{tenant}/members", c.tenant(c.members))
	c.mux.HandleFunc("POST /t/{tenant}/invitations", c.tenant(c.invite))
	c.mux.HandleFunc("POST /t/{tenant}/members/{user}/role", c.tenant(c.setMemberRole))
	c.mux.HandleFunc("POST /t/{tenant}/members/{user}/remove", c.tenant(c.removeMember))
	c.mux.HandleFunc("GET /t/{tenant}/usage", c.tenant(c.usage))
	c.mux.HandleFunc("GET /t/{tenant}/audit", c.tenant(c.audit))
	c.mux.HandleFunc("GET /operator/tenants", c.operator(c.tenants))
	c.mux.HandleFunc("POST /operator/tenants", c.operator(c.createTenant))
	c.mux.HandleFunc("POST /operator/tenants/{id}", c.operator(c.updateTenant))
	c.mux.HandleFunc("GET /operator/users", c.operator(c.users))
	c.mux.HandleFunc("POST /operator/users/{id}", c.operator(c.setUserDisabled))
	c.mux.HandleFunc("GET /t/", c.switchTenant) // the tenant switcher's form: /t/?tenant=<id>
}

// ServeHTTP serves a console page with the console's security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer") // tokens in /invite/ and /setup URLs stay here
	c.mux.ServeHTTP(w, r)
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	c.static.ServeHTTP(w, r)
}

// apiResult is the JSON API's answer to an in-process call.
type apiResult struct {
	status int
	header http.Header
	body   []byte
}

func (a *apiResult) ok() bool { return a.status >= 200 && a.status < 300 }

// decode reads the answer's JSON into v.
func (a *apiResult) decode(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("decode API answer (status %d): %w", a.status, err)
	}
	return nil
}

// problem is the API's error document, shown on the page.
type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (a *apiResult) problem() *problem {
	p := &problem{Status: a.status}
	_ = json.Unmarshal(a.body, p)
	if p.Detail == "" {
		p.Detail = http.StatusText(a.status)
	}
	p.Status = a.status
	return p
}

// recorder collects the API's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// apiRequest is the in-process API request for the page request r: the
// same cookie, origin headers (so the API's cross-origin check sees what
// the browser sent), client address and context; never an API key.
func apiRequest(r *http.Request, method, path string, q url.Values, body any, tenantID string) (*http.Request, error) {
	req := r.Clone(r.Context())
	req.Method = method
	req.URL = &url.URL{Path: path, RawQuery: q.Encode()}
	req.RequestURI = ""
	req.Header = http.Header{}
	for _, k := range []string{"Cookie", "Origin", "Sec-Fetch-Site", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id"} {
		if v, ok := r.Header[k]; ok {
			req.Header[k] = v
		}
	}
	req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		req.Header.Set("Content-Type", "application/json")
	}
	if tenantID != "" {
		req.Header.Set(TenantHeader, tenantID)
	}
	return req, nil
}

// call asks the JSON API, in process, as the person of r.
func (c *Console) call(r *http.Request, method, path string, q url.Values, body any, tenantID string) (*apiResult, error) {
	req, err := apiRequest(r, method, path, q, body, tenantID)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &apiResult{status: rec.status, header: rec.header, body: rec.body.Bytes()}, nil
}

// fetch calls the API for the page of v and decodes its JSON answer into
// out (nil: no body wanted). On a refusal or a failure it renders the
// error page with the API's status and returns false.
func (c *Console) fetch(w http.ResponseWriter, r *http.Request, v *view, method, path string, q url.Values, body, out any) bool {
	res, err := c.call(r, method, path, q, body, v.TenantID)
	if err != nil || !res.ok() {
		c.fail(w, r, v, res, err)
		return false
	}
	if out != nil {
		if err := res.decode(out); err != nil {
			c.fail(w, r, v, nil, err)
			return false
		}
	}
	return true
}

// copyCookies passes the API's Set-Cookie headers (sign-in, sign-out) on.
func copyCookies(w http.ResponseWriter, res *apiResult) {
	for _, c := range res.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
}

// me is who is signed in, as GET /api/v1/session says.
type me struct {
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
	Memberships []struct {
		TenantID string     `json:"tenant_id"`
		Role     pulse.Role `json:"role"`
	} `json:"memberships"`
	Operator bool `json:"operator"`
}

// whoAmI returns the signed-in person, or nil (and the API's answer) when
// the request has no valid session.
func (c *Console) whoAmI(w http.ResponseWriter, r *http.Request) (*me, *apiResult) {
	res, err := c.call(r, "GET", "/api/v1/session", nil, nil, "")
	if err != nil || !res.ok() {
		if res != nil {
			copyCookies(w, res) // an ended session clears the cookie
		}
		return nil, res
	}
	var m me
	if err := res.decode(&m); err != nil {
		return nil, res
	}
	return &m, res
}

// role is what the person may do in the tenant: their membership's role,
// owner for an operator (as the API decides too), "" for none.
func (m *me) role(tenantID string) pulse.Role {
	for _, ms := range m.Memberships {
		if ms.TenantID == tenantID {
			return ms.Role
		}
	}
	if m.Operator {
		return pulse.RoleOwner
	}
	return ""
}

// view is what every page template gets.
type view struct {
	Title    string
	Me       *me
	TenantID string
	Role     pulse.Role
	Tenants  []string
	Nav      string
	Error    *problem
	Notice   string
	Data     any
}

// Can reports whether the person may do a in the page's tenant: controls
// for what they may not do are not offered (the API refuses them anyway).
func (v *view) Can(a string) bool { return v.Role.Can(pulse.Action(a)) }

// tenantHandler is a page of one tenant; v is filled with the person and
// their role there.
type tenantHandler func(w http.ResponseWriter, r *http.Request, v *view)

// tenant resolves the signed-in person and the tenant of the path: no
// session → the sign-in page; no role there → 403.
func (c *Console) tenant(h tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, _ := c.whoAmI(w, r)
		if m == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.render(w, r, http.StatusUnauthorized, "error", &view{Title: "Signed out", Error: &problem{Status: 401, Detail: "Your session has ended: sign in again."}})
			return
		}
		tid := r.PathValue("tenant")
		v := &view{Me: m, TenantID: tid, Role: m.role(tid)}
		for _, ms := range m.Memberships {
			v.Tenants = append(v.Tenants, ms.TenantID)
		}
		if v.Role == "" || !pulse.ValidID(tid) {
			v.Title = "No access"
			v.Error = &problem{Status: http.StatusForbidden, Detail: "You are not a member of this tenant."}
			c.render(w, r, http.StatusForbidden, "error", v)
			return
		}
		h(w, r, v)
	}
}

// fail renders the API's refusal (or an internal error) on the page, with
// the API's status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, res *apiResult, err error) {
	if err != nil || res == nil {
		c.logger.Error("console: API call failed", "path", r.URL.Path, "err", err)
		v.Error = &problem{Status: http.StatusInternalServerError, Detail: "Something went wrong on the server."}
	} else {
		v.Error = res.problem()
	}
	if v.Title == "" {
		v.Title = "Error"
	}
	c.render(w, r, v.Error.Status, "error", v)
}

// render writes page name with v.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no page " + name) // a programming error, caught by the tests
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.logger.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	pages := map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

var funcs = template.FuncMap{
	"time": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	"join":  strings.Join,
	"deref": func(b *bool) bool { return b != nil && *b },
}

// home sends a person to their first tenant's explorer, an operator
// without tenants to the operator pages, anyone else to sign in.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	m, _ := c.whoAmI(w, r)
	switch {
	case m == nil:
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
	case len(m.Memberships) > 0:
		http.Redirect(w, r, "/t/"+m.Memberships[0].TenantID+"/events", http.StatusSeeOther)
	default:
		c.render(w, r, http.StatusOK, "welcome", &view{Title: "Welcome", Me: m})
	}
}

func (c *Console) switchTenant(w http.ResponseWriter, r *http.Request) {
	tid := r.URL.Query().Get("tenant")
	if !pulse.ValidID(tid) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/t/"+tid+"/events", http.StatusSeeOther)
}
