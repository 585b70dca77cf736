package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The operator's pages: tenants (list, create). They call the admin API
// with the operator's session, which the API accepts from operator users
// only.

type tenantsData struct {
	Tenants []*pulse.Tenant
	Created *pulse.Tenant
	Key     string // the new tenant's first API key, shown once
}

// operator resolves the signed-in operator (others: 403).
func (c *Console) operator(h func(w http.ResponseWriter, r *http.Request, v *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, _ := c.whoAmI(w, r)
		if m == nil {
			http.Redirect(w, r, "/sign-in?next=/operator/tenants", http.StatusSeeOther)
			return
		}
		v := &view{Me: m, Nav: "operator"}
		for _, ms := range m.Memberships {
			v.Tenants = append(v.Tenants, ms.TenantID)
		}
		if !m.Operator {
			v.Title, v.Error = "No access", &problem{Status: http.StatusForbidden, Detail: "Only an operator may manage tenants."}
			c.render(w, r, http.StatusForbidden, "error", v)
			return
		}
		h(w, r, v)
	}
}

func (c *Console) tenants(w http.ResponseWriter, r *http.Request, v *view) {
	c.renderTenants(w, r, v, &tenantsData{}, http.StatusOK)
}

func (c *Console) renderTenants(w http.ResponseWriter, r *http.Request, v *view, d *tenantsData, status int) {
	v.Title, v.Data = "Tenants", d
	var list struct {
		Tenants []*pulse.Tenant `json:"tenants"`
	}
	if !c.fetch(w, r, v, "GET", "/admin/v1/tenants", nil, nil, &list) {
		return
	}
	d.Tenants = list.Tenants
	c.render(w, r, status, "tenants", v)
}

func (c *Console) createTenant(w http.ResponseWriter, r *http.Request, v *view) {
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	v.Title = "Tenants"
	d := &tenantsData{}
	out := &struct {
		Tenant **pulse.Tenant `json:"tenant"`
		Key    *string        `json:"api_key"`
	}{&d.Created, &d.Key}
	if !c.fetch(w, r, v, "POST", "/admin/v1/tenants", nil, map[string]any{"name": r.PostForm.Get("name")}, out) {
		return
	}
	c.renderTenants(w, r, v, d, http.StatusCreated)
}

// updateTenant changes a tenant's limits or disables it (PATCH).
func (c *Console) updateTenant(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "Tenants"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	body := map[string]any{"disabled": r.PostForm.Get("disabled") == "on"}
	for _, f := range []string{"rate_limit_per_minute", "retention_days"} {
		if s := strings.TrimSpace(r.PostForm.Get(f)); s != "" {
			if n, err := strconv.Atoi(s); err == nil {
				body[f] = n
			} else {
				body[f] = s // the API names the bad value
			}
		}
	}
	if !c.fetch(w, r, v, "PATCH", "/admin/v1/tenants/"+url.PathEscape(r.PathValue("id")), nil, body, nil) {
		return
	}
	http.Redirect(w, r, "/operator/tenants", http.StatusSeeOther)
}

// users lists every user (GET /admin/v1/users) with a button to disable
// or enable each.
func (c *Console) users(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "Users"
	var list struct {
		Users []struct {
			ID          string    `json:"id"`
			Email       string    `json:"email"`
			Name        string    `json:"name"`
			Operator    bool      `json:"operator"`
			Disabled    bool      `json:"disabled"`
			TOTPEnabled bool      `json:"totp_enabled"`
			CreatedAt   time.Time `json:"created_at"`
		} `json:"users"`
	}
	if !c.fetch(w, r, v, "GET", "/admin/v1/users", nil, nil, &list) {
		return
	}
	v.Data = list.Users
	c.render(w, r, http.StatusOK, "users", v)
}

func (c *Console) setUserDisabled(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "Users"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	if !c.fetch(w, r, v, "PATCH", "/admin/v1/users/"+url.PathEscape(r.PathValue("id")), nil,
		map[string]any{"disabled": r.PostForm.Get("disabled") == "true"}, nil) {
		return
	}
	http.Redirect(w, r, "/operator/users", http.StatusSeeOther)
}
