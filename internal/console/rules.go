package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulsestream/pulsestream/internal/alert"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The rule form: create (POST /api/v1/alert-rules) and edit (PATCH, so a
// webhook keeps its signing secret unless its URL changes). The API
// validates; its 422 is shown on the form with what was typed.

type ruleForm struct {
	ID          string
	Name        string
	Description string
	Service     string
	EventType   string
	MinSeverity string
	Aggregate   string
	Operator    string
	Threshold   string
	Window      string
	For         string
	GroupBy     string
	WebhookURL  string
	Enabled     bool
	Severities  []pulse.Severity
	// Preview is the answer of POST /api/v1/alert-rules/preview, shown
	// under the form after "Test against the last hour".
	Preview *alert.Preview
}

func newRuleForm() *ruleForm {
	return &ruleForm{Aggregate: pulse.AggregateCount, Operator: pulse.OperatorGT, Threshold: "10", Window: "300", For: "0",
		Enabled: true, Severities: pulse.Severities}
}

func ruleFormOf(r *pulse.Rule) *ruleForm {
	f := newRuleForm()
	f.ID, f.Name, f.Description = r.ID, r.Name, r.Description
	f.Service, f.EventType, f.MinSeverity = r.Filter.Service, r.Filter.EventType, string(r.Filter.MinSeverity)
	f.Aggregate, f.Operator = r.Condition.Aggregate, r.Condition.Operator
	f.Threshold = strconv.FormatFloat(r.Condition.Threshold, 'f', -1, 64)
	f.Window, f.For = strconv.Itoa(r.Condition.WindowSeconds), strconv.Itoa(r.ForSeconds)
	f.GroupBy = strings.Join(r.GroupBy, ", ")
	if len(r.Notify) > 0 {
		f.WebhookURL = r.Notify[0].URL
	}
	f.Enabled = r.Enabled == nil || *r.Enabled
	return f
}

// readRuleForm reads the posted form; body is the API's rule document.
func readRuleForm(r *http.Request) (*ruleForm, map[string]any) {
	p := r.PostForm
	f := newRuleForm()
	f.Name, f.Description = p.Get("name"), p.Get("description")
	f.Service, f.EventType, f.MinSeverity = p.Get("service"), p.Get("event_type"), p.Get("min_severity")
	f.Aggregate, f.Operator, f.Threshold = p.Get("aggregate"), p.Get("operator"), p.Get("threshold")
	f.Window, f.For, f.GroupBy, f.WebhookURL = p.Get("window_seconds"), p.Get("for_seconds"), p.Get("group_by"), p.Get("webhook_url")
	f.Enabled = p.Get("enabled") == "on"
	filter := map[string]any{}
	if f.Service != "" {
		filter["service"] = f.Service
	}
	if f.EventType != "" {
		filter["event_type"] = f.EventType
	}
	if f.MinSeverity != "" {
		filter["min_severity"] = f.MinSeverity
	}
	// Numbers the person typed go to the API as they are, so that its
	// validation names a bad one.
	num := func(s string) any {
		if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return v
		}
		return s
	}
	groupBy := []string{}
	for _, g := range strings.Split(f.GroupBy, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groupBy = append(groupBy, g)
		}
	}
	body := map[string]any{
		"name": f.Name, "description": f.Description, "filter": filter,
		"condition":   map[string]any{"aggregate": f.Aggregate, "operator": f.Operator, "threshold": num(f.Threshold), "window_seconds": num(f.Window)},
		"for_seconds": num(f.For), "group_by": groupBy, "enabled": f.Enabled,
	}
	if f.WebhookURL != "" {
		body["notify"] = []any{map[string]any{"type": "webhook", "url": f.WebhookURL}}
	} else {
		body["notify"] = []any{}
	}
	return f, body
}

func (c *Console) newRule(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav, v.Data = "New alert rule", "rules", newRuleForm()
	c.render(w, r, http.StatusOK, "rule", v)
}

func (c *Console) editRule(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Edit alert rule", "rules"
	var rule pulse.Rule
	if !c.fetch(w, r, v, "GET", "/api/v1/alert-rules/"+url.PathEscape(r.PathValue("id")), nil, nil, &rule) {
		return
	}
	v.Data = ruleFormOf(&rule)
	c.render(w, r, http.StatusOK, "rule", v)
}

func (c *Console) saveRule(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "New alert rule", "rules"
	if !form(w, r) {
		c.fail(w, r, v, &apiResult{status: http.StatusBadRequest}, nil)
		return
	}
	f, body := readRuleForm(r)
	if r.PostForm.Get("preview") != "" {
		c.previewRule(w, r, v, f, body)
		return
	}
	method, path := "POST", "/api/v1/alert-rules"
	if id := r.PathValue("id"); id != "" {
		v.Title, f.ID = "Edit alert rule", id
		method, path = "PATCH", "/api/v1/alert-rules/"+url.PathEscape(id)
		// Unchanged webhook: leave notify alone so its secret stays.
		res, err := c.call(r, "GET", path, nil, nil, v.TenantID)
		if err == nil && res.ok() {
			var old pulse.Rule
			if res.decode(&old) == nil && len(old.Notify) == 1 && old.Notify[0].URL == f.WebhookURL {
				delete(body, "notify")
			}
		}
	}
	res, err := c.call(r, method, path, nil, body, v.TenantID)
	if err != nil || !res.ok() {
		v.Data = f
		c.failForm(w, r, "rule", v, res, err)
		return
	}
	http.Redirect(w, r, "/t/"+v.TenantID+"/rules?notice="+url.QueryEscape("Rule “"+f.Name+"” saved."), http.StatusSeeOther)
}

// previewRule answers the form's "Test against the last hour" button: the
// form goes to POST /api/v1/alert-rules/preview (which validates like
// saving, so a refusal shows the same field errors) and the page comes
// back with what was typed and the result under it. Nothing is saved.
func (c *Console) previewRule(w http.ResponseWriter, r *http.Request, v *view, f *ruleForm, body map[string]any) {
	if id := r.PathValue("id"); id != "" {
		v.Title, f.ID = "Edit alert rule", id
	}
	v.Data = f
	res, err := c.call(r, "POST", "/api/v1/alert-rules/preview", nil, body, v.TenantID)
	if err != nil || !res.ok() {
		c.failForm(w, r, "rule", v, res, err)
		return
	}
	var p alert.Preview
	if err := res.decode(&p); err != nil {
		c.fail(w, r, v, nil, err)
		return
	}
	f.Preview = &p
	c.render(w, r, http.StatusOK, "rule", v)
}
