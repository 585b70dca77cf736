package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

type keysData struct {
	Keys   []*pulse.APIKey
	Secret string // a new key's secret: shown on this answer only
	Name   string
}

// keys lists the tenant's API keys; listing them is a key-management
// right (as in the API), so a viewer sees the page without the list or
// the forms.
func (c *Console) keys(w http.ResponseWriter, r *http.Request, v *view) {
	c.renderKeys(w, r, v, &keysData{}, http.StatusOK)
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, v *view, d *keysData, status int) {
	v.Title, v.Nav, v.Data = "API keys", "keys", d
	if v.Can(string(pulse.ActManageKeys)) {
		var list struct {
			Keys []*pulse.APIKey `json:"api_keys"`
		}
		if !c.fetch(w, r, v, "GET", "/api/v1/api-keys", nil, nil, &list) {
			return
		}
		d.Keys = list.Keys
	}
	c.render(w, r, status, "keys", v)
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "API keys", "keys"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	body := map[string]any{"name": r.PostForm.Get("name"), "scopes": r.PostForm["scope"]}
	if exp := r.PostForm.Get("expires_at"); exp != "" {
		if t, ok := parseFormTime(exp); ok {
			body["expires_at"] = t.Format(time.RFC3339)
		} else {
			body["expires_at"] = exp // the API names the bad value
		}
	}
	var out newKey
	if !c.fetch(w, r, v, "POST", "/api/v1/api-keys", nil, body, &out) {
		return
	}
	c.keySecret(w, r, v, &out)
}

// newKey is the API's answer with a new key's secret.
type newKey struct {
	Key    *pulse.APIKey `json:"api_key"`
	Secret string        `json:"key"`
}

// keySecret shows a new (or rotated) key's secret once.
func (c *Console) keySecret(w http.ResponseWriter, r *http.Request, v *view, out *newKey) {
	name := out.Key.Name
	if name == "" {
		name = out.Key.Prefix
	}
	c.renderKeys(w, r, v, &keysData{Secret: out.Secret, Name: name}, http.StatusCreated)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "API keys", "keys"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	var out newKey
	if !c.fetch(w, r, v, "POST", "/api/v1/api-keys/"+url.PathEscape(r.PathValue("id"))+"/rotate", nil, map[string]any{}, &out) {
		return
	}
	c.keySecret(w, r, v, &out)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "API keys", "keys"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	if !c.fetch(w, r, v, "DELETE", "/api/v1/api-keys/"+url.PathEscape(r.PathValue("id")), nil, nil, nil) {
		return
	}
	http.Redirect(w, r, "/t/"+v.TenantID+"/keys", http.StatusSeeOther)
}
