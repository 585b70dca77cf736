package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// filterFields are the search filters of GET /api/v1/events that the
// explorer and the tail offer as form fields, in the API's spelling.
var filterFields = []string{"event_type", "severity", "min_severity", "service", "endpoint", "status_code",
	"status_code_min", "status_code_max", "user_id", "external_id"}

// rangePresets are the explorer's time ranges.
var rangePresets = []struct {
	Value, Label string
	D            time.Duration
}{
	{"15m", "Last 15 minutes", 15 * time.Minute},
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"custom", "Custom (start and end below)", 0},
}

// event is an event as the API returns it.
type event struct {
	ID         string            `json:"id"`
	ExternalID string            `json:"external_id"`
	EventType  string            `json:"event_type"`
	Severity   string            `json:"severity"`
	Service    string            `json:"service"`
	Endpoint   string            `json:"endpoint"`
	StatusCode int               `json:"status_code"`
	UserID     string            `json:"user_id"`
	Message    string            `json:"message"`
	Tags       map[string]string `json:"tags"`
	Timestamp  time.Time         `json:"timestamp"`
	ReceivedAt time.Time         `json:"received_at"`
	Payload    json.RawMessage   `json:"payload"`
}

// explorerData is the explorer page.
type explorerData struct {
	Form       url.Values // what the person typed, to refill the form
	Range      string
	Presets    any
	Severities []pulse.Severity
	Tags       []string // the tag fields (two, at least one empty)
	Events     []event
	NextURL    string
	APIPath    string // the query as an API call
	Curl       string
	Histogram  *histogramSVG
	// TextNotCounted: a q= text search is set, which the histogram does
	// not apply.
	TextNotCounted bool
	Start, End     time.Time
}

// apiQuery turns the explorer's form into the API's query: the filters
// that are set, the tags, and the time range (a preset or custom).
func apiQuery(form url.Values, now time.Time) (q url.Values, rng string, start, end time.Time) {
	q = url.Values{}
	for _, f := range filterFields {
		if v := strings.TrimSpace(form.Get(f)); v != "" {
			q.Set(f, v)
		}
	}
	for _, t := range form["tag"] {
		if t = strings.TrimSpace(t); t != "" {
			q.Add("tag", t)
		}
	}
	rng = form.Get("range")
	if rng == "" {
		rng = "1h"
	}
	// The end is the next whole second, so that events of this very
	// second are in the range (the end is exclusive).
	end = now.UTC().Add(time.Second).Truncate(time.Second)
	switch rng {
	case "custom":
		start, _ = parseFormTime(form.Get("start_time"))
		if e, ok := parseFormTime(form.Get("end_time")); ok {
			end = e
		}
		if start.IsZero() {
			start = end.Add(-time.Hour)
		}
	default:
		d := time.Hour
		for _, p := range rangePresets {
			if p.Value == rng && p.D > 0 {
				d = p.D
			}
		}
		start = end.Add(-d)
	}
	q.Set("start_time", start.Format(time.RFC3339))
	q.Set("end_time", end.Format(time.RFC3339))
	return q, rng, start, end
}

// parseFormTime reads an RFC 3339 time or a datetime-local value (UTC).
func parseFormTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (c *Console) explorer(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Events", "events"
	form := r.URL.Query()
	q, rng, start, end := apiQuery(form, c.clock.Now())
	d := &explorerData{Form: form, Range: rng, Presets: rangePresets, Severities: pulse.Severities, Start: start, End: end}
	d.Tags = append(slices.DeleteFunc(slices.Clone(form["tag"]), func(s string) bool { return strings.TrimSpace(s) == "" }), "")
	if len(d.Tags) < 2 {
		d.Tags = append(d.Tags, "")
	}
	v.Data = d

	// The histogram counts the structured filters only: q= (full text) is
	// answered by a bounded scan of the search, not by the histogram.
	hq := cloneValues(q)
	if text := strings.TrimSpace(form.Get("q")); text != "" {
		q.Set("q", text)
		d.TextNotCounted = true
	}
	search := cloneValues(q)
	if cur := form.Get("cursor"); cur != "" {
		search.Set("cursor", cur)
	}
	d.APIPath = "/api/v1/events?" + q.Encode()
	d.Curl = fmt.Sprintf("curl -H 'Authorization: Bearer $PULSESTREAM_KEY' '%s%s'", origin(r), d.APIPath)
	res, err := c.call(r, "GET", "/api/v1/events", search, nil, v.TenantID)
	if err != nil || !res.ok() {
		c.failForm(w, r, "explorer", v, res, err)
		return
	}
	var page struct {
		Events     []event `json:"events"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := res.decode(&page); err != nil {
		c.fail(w, r, v, nil, err)
		return
	}
	d.Events = page.Events
	if page.NextCursor != nil {
		next := cloneValues(form)
		next.Set("cursor", *page.NextCursor)
		if rng != "custom" { // keep the same range while paging
			next.Set("range", "custom")
			next.Set("start_time", start.Format(time.RFC3339))
			next.Set("end_time", end.Format(time.RFC3339))
		}
		d.NextURL = "/t/" + v.TenantID + "/events?" + next.Encode()
	}

	hq.Set("group_by", "severity")
	res, err = c.call(r, "GET", "/api/v1/events/histogram", hq, nil, v.TenantID)
	if err == nil && res.ok() {
		var h pulse.Histogram
		if err := res.decode(&h); err == nil {
			d.Histogram = drawHistogram(&h)
		}
	}
	c.render(w, r, http.StatusOK, "explorer", v)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// origin is how the browser reached this server, for the curl command.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type eventData struct {
	Event   event
	Payload string // pretty-printed
	APIPath string
	Curl    string
}

func (c *Console) eventDetail(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Event", "events"
	id := r.PathValue("id")
	path := "/api/v1/events/" + url.PathEscape(id)
	d := &eventData{APIPath: path, Curl: fmt.Sprintf("curl -H 'Authorization: Bearer $PULSESTREAM_KEY' '%s%s'", origin(r), path)}
	if !c.fetch(w, r, v, "GET", path, nil, nil, &d.Event) {
		return
	}
	if len(d.Event.Payload) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, d.Event.Payload, "", "  ") == nil {
			d.Payload = buf.String()
		} else {
			d.Payload = string(d.Event.Payload)
		}
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "event", v)
}

// tailPage is the live tail: console.js opens an EventSource on the
// page's stream URL and adds rows as events arrive.
func (c *Console) tailPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Live tail", "tail"
	form := r.URL.Query()
	q, _, _, _ := apiQuery(form, c.clock.Now())
	q.Del("start_time")
	q.Del("end_time")
	v.Data = map[string]any{"Form": form, "Severities": pulse.Severities, "Stream": "/t/" + v.TenantID + "/tail/stream?" + q.Encode()}
	c.render(w, r, http.StatusOK, "tail", v)
}

// tailStream hands the browser's EventSource (which cannot set headers)
// to GET /api/v1/events/tail with the tenant header: the same stream,
// caps and permission check as for programs.
func (c *Console) tailStream(w http.ResponseWriter, r *http.Request, v *view) {
	req, err := apiRequest(r, "GET", "/api/v1/events/tail", r.URL.Query(), nil, v.TenantID)
	if err != nil {
		c.fail(w, r, v, nil, err)
		return
	}
	w.Header().Del("Content-Security-Policy")
	c.api.ServeHTTP(w, req)
}
