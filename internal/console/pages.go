package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The read-mostly pages: rules, members and invitations, usage, audit log.

func (c *Console) rules(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Alert rules", "rules"
	var list struct {
		Rules []*pulse.Rule `json:"rules"`
	}
	if !c.fetch(w, r, v, "GET", "/api/v1/alert-rules", nil, nil, &list) {
		return
	}
	v.Data = list.Rules
	v.Notice = r.URL.Query().Get("notice")
	c.render(w, r, http.StatusOK, "rules", v)
}

type invitation struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Role      pulse.Role `json:"role"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// member is a row of the members table with what the person viewing the
// page may do to it: change the role or remove (admins and owners; owner
// rows only for owners; never their own role, which the API refuses too).
type member struct {
	UserID    string     `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      pulse.Role `json:"role"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
	Self      bool       `json:"-"`
	Manage    bool       `json:"-"`
}

type membersData struct {
	Members     []member
	Invitations []invitation
	Link        string // a new invitation's one-time link, shown once
	Roles       []pulse.Role
}

func (c *Console) members(w http.ResponseWriter, r *http.Request, v *view) {
	c.renderMembers(w, r, v, &membersData{}, http.StatusOK)
}

func (c *Console) renderMembers(w http.ResponseWriter, r *http.Request, v *view, d *membersData, status int) {
	v.Title, v.Nav, v.Data = "Members", "members", d
	for _, role := range pulse.Roles {
		if role != pulse.RoleOwner || v.Can(string(pulse.ActManageOwners)) {
			d.Roles = append(d.Roles, role)
		}
	}
	var ms struct {
		Members []member `json:"members"`
	}
	if !c.fetch(w, r, v, "GET", "/api/v1/members", nil, nil, &ms) {
		return
	}
	for i := range ms.Members {
		m := &ms.Members[i]
		m.Self = v.Me != nil && m.UserID == v.Me.User.ID
		m.Manage = !m.Self && v.Can(string(pulse.ActManageMembers)) &&
			(m.Role != pulse.RoleOwner || v.Can(string(pulse.ActManageOwners)))
	}
	d.Members = ms.Members
	if v.Can(string(pulse.ActManageMembers)) {
		var list struct {
			Invitations []invitation `json:"invitations"`
		}
		if !c.fetch(w, r, v, "GET", "/api/v1/invitations", nil, nil, &list) {
			return
		}
		d.Invitations = list.Invitations
	}
	c.render(w, r, status, "members", v)
}

func (c *Console) invite(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Members", "members"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	var out struct {
		Link string `json:"link"`
	}
	if !c.fetch(w, r, v, "POST", "/api/v1/invitations", nil, map[string]any{
		"email": r.PostForm.Get("email"), "role": r.PostForm.Get("role"),
	}, &out) {
		return
	}
	c.renderMembers(w, r, v, &membersData{Link: out.Link}, http.StatusCreated)
}

// setMemberRole changes a member's role (PUT /api/v1/members/{user_id}).
func (c *Console) setMemberRole(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Members", "members"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	if !c.fetch(w, r, v, "PUT", "/api/v1/members/"+url.PathEscape(r.PathValue("user")), nil,
		map[string]any{"role": r.PostForm.Get("role")}, nil) {
		return
	}
	http.Redirect(w, r, "/t/"+v.TenantID+"/members", http.StatusSeeOther)
}

// removeMember removes a member (DELETE /api/v1/members/{user_id}).
func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Members", "members"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	if !c.fetch(w, r, v, "DELETE", "/api/v1/members/"+url.PathEscape(r.PathValue("user")), nil, nil, nil) {
		return
	}
	http.Redirect(w, r, "/t/"+v.TenantID+"/members", http.StatusSeeOther)
}

type usageInterval struct {
	Start       time.Time        `json:"start"`
	Created     int64            `json:"created"`
	Duplicates  int64            `json:"duplicates"`
	Conflicts   int64            `json:"conflicts"`
	RateLimited int64            `json:"rate_limited"`
	Rejected    int64            `json:"rejected"`
	ByReason    map[string]int64 `json:"rejected_by_reason"`
}

type usageData struct {
	Interval  string
	Limit     int
	Remaining int
	Intervals []usageInterval
	Chart     *barChart
}

func (c *Console) usage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Usage", "usage"
	interval := r.URL.Query().Get("interval")
	q := url.Values{"interval": {"hour"}}
	if interval == "day" {
		q.Set("interval", "day")
		q.Set("start_time", c.clock.Now().UTC().Truncate(24*time.Hour).Add(-29*24*time.Hour).Format(time.RFC3339))
	}
	d := &usageData{Interval: q.Get("interval")}
	if !c.fetch(w, r, v, "GET", "/api/v1/usage", q, nil, &struct {
		Limit     *int             `json:"limit"`
		Remaining *int             `json:"remaining"`
		Intervals *[]usageInterval `json:"intervals"`
	}{&d.Limit, &d.Remaining, &d.Intervals}) {
		return
	}
	labels := make([]string, len(d.Intervals))
	values := make([]int64, len(d.Intervals))
	for i, in := range d.Intervals {
		labels[i] = in.Start.UTC().Format("2006-01-02 15:04")
		values[i] = in.Created
	}
	d.Chart = drawBars(labels, values, "bar-created")
	v.Data = d
	c.render(w, r, http.StatusOK, "usage", v)
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Audit log", "audit"
	q := url.Values{}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var page struct {
		Entries    []*pulse.AuditEntry `json:"entries"`
		NextCursor *string             `json:"next_cursor"`
	}
	if !c.fetch(w, r, v, "GET", "/api/v1/audit-log", q, nil, &page) {
		return
	}
	d := map[string]any{"Entries": page.Entries}
	if page.NextCursor != nil {
		d["Next"] = "/t/" + v.TenantID + "/audit?cursor=" + url.QueryEscape(*page.NextCursor)
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "audit", v)
}
