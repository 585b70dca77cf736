package console

import (
	"net/http"
	"strings"
)

// Sign-in, sign-out, first-run setup and accepting an invitation: forms
// that post to the console, which hands them to the JSON API's session
// endpoints (POST /api/v1/session, /api/v1/setup,
// /api/v1/invitations/accept) and passes their cookies on.

const maxFormBytes = 64 << 10

// form parses a posted form (at most maxFormBytes).
func form(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

// localPath keeps a redirect target on this site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

type signInForm struct {
	Email    string
	Next     string
	NeedTOTP bool
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Data: signInForm{Next: localPath(r.URL.Query().Get("next"))}})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		c.render(w, r, http.StatusBadRequest, "error", &view{Title: "Sign in", Error: &problem{Status: 400, Detail: "The form could not be read."}})
		return
	}
	f := signInForm{Email: r.PostForm.Get("email"), Next: localPath(r.PostForm.Get("next"))}
	res, err := c.call(r, "POST", "/api/v1/session", nil, map[string]string{
		"email": f.Email, "password": r.PostForm.Get("password"), "totp_code": r.PostForm.Get("totp_code"),
	}, "")
	if err != nil || !res.ok() {
		v := &view{Title: "Sign in", Data: &f}
		if res != nil {
			v.Error = res.problem()
			f.NeedTOTP = strings.Contains(string(res.body), "totp.") || r.PostForm.Get("totp_code") != ""
			copyCookies(w, res) // the device cookie of the slow-down
			c.render(w, r, res.status, "signin", v)
			return
		}
		c.fail(w, r, v, res, err)
		return
	}
	copyCookies(w, res)
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	res, err := c.call(r, "DELETE", "/api/v1/session", nil, nil, "")
	if err == nil {
		copyCookies(w, res)
	}
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

type accountForm struct {
	Email, Name, Token string
}

// setupPage is the first-run page: the printed setup URL carries its token
// in the fragment (#token=…), which never reaches the server or a log;
// console.js copies it into the form's token field.
func (c *Console) setupPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "setup", &view{Title: "Set up PulseStream", Data: &accountForm{}})
}

func (c *Console) setup(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		c.render(w, r, http.StatusBadRequest, "setup", &view{Title: "Set up PulseStream", Data: &accountForm{}, Error: &problem{Status: 400, Detail: "The form could not be read."}})
		return
	}
	f := &accountForm{Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"), Token: r.PostForm.Get("token")}
	res, err := c.call(r, "POST", "/api/v1/setup", nil, map[string]string{
		"token": f.Token, "email": f.Email, "name": f.Name, "password": r.PostForm.Get("password"),
	}, "")
	if err != nil || !res.ok() {
		c.failForm(w, r, "setup", &view{Title: "Set up PulseStream", Data: f}, res, err)
		return
	}
	copyCookies(w, res)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) invitePage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "invite", &view{Title: "Accept an invitation", Data: &accountForm{Token: r.PathValue("token")}})
}

func (c *Console) acceptInvite(w http.ResponseWriter, r *http.Request) {
	f := &accountForm{Token: r.PathValue("token")}
	if !form(w, r) {
		c.render(w, r, http.StatusBadRequest, "invite", &view{Title: "Accept an invitation", Data: f, Error: &problem{Status: 400, Detail: "The form could not be read."}})
		return
	}
	f.Name = r.PostForm.Get("name")
	res, err := c.call(r, "POST", "/api/v1/invitations/accept", nil, map[string]string{
		"token": f.Token, "name": f.Name, "password": r.PostForm.Get("password"),
	}, "")
	if err != nil || !res.ok() {
		c.failForm(w, r, "invite", &view{Title: "Accept an invitation", Data: f}, res, err)
		return
	}
	copyCookies(w, res)
	var out struct {
		SignedIn *bool `json:"signed_in"`
	}
	_ = res.decode(&out)
	if out.SignedIn != nil && !*out.SignedIn { // an existing account: sign in as usual
		c.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Notice: "The invitation is accepted: sign in with your account.", Data: signInForm{Next: "/"}})
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// failForm shows the API's refusal on the form's own page (so the person
// can correct it), with the API's status.
func (c *Console) failForm(w http.ResponseWriter, r *http.Request, page string, v *view, res *apiResult, err error) {
	if err != nil || res == nil {
		c.fail(w, r, v, res, err)
		return
	}
	v.Error = res.problem()
	c.render(w, r, res.status, page, v)
}
