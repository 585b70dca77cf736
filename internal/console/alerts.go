package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// silenceDurations are the silence form's choices.
var silenceDurations = []struct{ Value, Label string }{
	{"1h", "1 hour"}, {"4h", "4 hours"}, {"24h", "1 day"}, {"168h", "1 week"},
}

type alertsData struct {
	Status    string
	Alerts    []*pulse.Alert
	Silences  []*pulse.Silence
	Durations any
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Alerts", "alerts"
	status := r.URL.Query().Get("status")
	if status != pulse.AlertResolved {
		status = pulse.AlertFiring
	}
	d := &alertsData{Status: status, Durations: silenceDurations}
	v.Data = d
	var list struct {
		Alerts []*pulse.Alert `json:"alerts"`
	}
	if !c.fetch(w, r, v, "GET", "/api/v1/alerts", url.Values{"status": {status}}, nil, &list) {
		return
	}
	d.Alerts = list.Alerts
	var sil struct {
		Silences []*pulse.Silence `json:"silences"`
	}
	if !c.fetch(w, r, v, "GET", "/api/v1/silences", nil, nil, &sil) {
		return
	}
	now := c.clock.Now()
	for _, s := range sil.Silences {
		if s.EndsAt.After(now) {
			d.Silences = append(d.Silences, s)
		}
	}
	v.Notice = r.URL.Query().Get("notice")
	c.render(w, r, http.StatusOK, "alerts", v)
}

type alertData struct {
	Alert         *pulse.Alert
	Notifications []*pulse.Notification
	Durations     any
}

func (c *Console) alertDetail(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Alert", "alerts"
	id := url.PathEscape(r.PathValue("id"))
	d := &alertData{Durations: silenceDurations}
	if !c.fetch(w, r, v, "GET", "/api/v1/alerts/"+id, nil, nil, &d.Alert) {
		return
	}
	if res, err := c.call(r, "GET", "/api/v1/alerts/"+id+"/notifications", nil, nil, v.TenantID); err == nil && res.ok() {
		var n struct {
			Notifications []*pulse.Notification `json:"notifications"`
		}
		if res.decode(&n) == nil {
			d.Notifications = n.Notifications
		}
	}
	v.Data = d
	v.Notice = r.URL.Query().Get("notice")
	c.render(w, r, http.StatusOK, "alert", v)
}

// back returns to the page the form was on (alerts list or an alert).
func back(r *http.Request, tenantID, notice string) string {
	to := "/t/" + tenantID + "/alerts"
	if id := r.PostForm.Get("return_to_alert"); pulse.ValidID(id) {
		to += "/" + id
	}
	return to + "?notice=" + url.QueryEscape(notice)
}

// alertAction is a button of the alerts pages: one API call on the item
// named by the path's {id}, then back to the page with notice.
func (c *Console) alertAction(method, prefix, suffix, notice string) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		v.Title, v.Nav = "Alerts", "alerts"
		if !form(w, r) {
			c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
			return
		}
		if !c.fetch(w, r, v, method, prefix+url.PathEscape(r.PathValue("id"))+suffix, nil, nil, nil) {
			return
		}
		http.Redirect(w, r, back(r, v.TenantID, notice), http.StatusSeeOther)
	}
}

// silence mutes an alert's rule and group for the chosen time.
func (c *Console) silence(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Alerts", "alerts"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	alertID := r.PostForm.Get("alert_id")
	var a pulse.Alert
	if !c.fetch(w, r, v, "GET", "/api/v1/alerts/"+url.PathEscape(alertID), nil, nil, &a) {
		return
	}
	d, err := time.ParseDuration(r.PostForm.Get("duration"))
	if err != nil || d <= 0 || d > 30*24*time.Hour {
		d = time.Hour
	}
	until := c.clock.Now().UTC().Add(d)
	body := map[string]any{"rule_id": a.RuleID, "ends_at": until, "comment": r.PostForm.Get("comment")}
	if len(a.Group) > 0 {
		body["matchers"] = a.Group
	}
	if !c.fetch(w, r, v, "POST", "/api/v1/silences", nil, body, nil) {
		return
	}
	http.Redirect(w, r, back(r, v.TenantID, "Silenced until "+until.Format("2006-01-02 15:04 UTC")+"."), http.StatusSeeOther)
}
