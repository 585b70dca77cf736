package console

import (
	"net/http"
	"net/url"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Signing secrets (for signed ingestion requests): list, create — the
// secret is shown once —, revoke. Managing them is a key-management right.

type secretsData struct {
	Secrets []*pulse.SigningSecret
	Secret  string // a new secret, shown on this answer only
}

func (c *Console) secrets(w http.ResponseWriter, r *http.Request, v *view) {
	c.renderSecrets(w, r, v, &secretsData{}, http.StatusOK)
}

func (c *Console) renderSecrets(w http.ResponseWriter, r *http.Request, v *view, d *secretsData, status int) {
	v.Title, v.Nav, v.Data = "Signing secrets", "keys", d
	if v.Can(string(pulse.ActManageKeys)) {
		var list struct {
			Secrets []*pulse.SigningSecret `json:"signing_secrets"`
		}
		if !c.fetch(w, r, v, "GET", "/api/v1/signing-secrets", nil, nil, &list) {
			return
		}
		d.Secrets = list.Secrets
	}
	c.render(w, r, status, "secrets", v)
}

func (c *Console) createSecret(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Signing secrets", "keys"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if !c.fetch(w, r, v, "POST", "/api/v1/signing-secrets", nil, map[string]any{"name": r.PostForm.Get("name")}, &out) {
		return
	}
	c.renderSecrets(w, r, v, &secretsData{Secret: out.Secret}, http.StatusCreated)
}

func (c *Console) revokeSecret(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Signing secrets", "keys"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	if !c.fetch(w, r, v, "DELETE", "/api/v1/signing-secrets/"+url.PathEscape(r.PathValue("id")), nil, nil, nil) {
		return
	}
	http.Redirect(w, r, "/t/"+v.TenantID+"/signing-secrets", http.StatusSeeOther)
}
