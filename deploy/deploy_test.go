// Package deploy holds the operator's kit: Prometheus alert rules and a
// Grafana dashboard. Its test checks that both parse and only name metrics
// PulseStream exports.
package deploy

import (
	"encoding/json"
	"io/fs"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var metricName = regexp.MustCompile(`\bpulsestream_[a-z_]+\b`)

// noTenantLabel finds a tenant label in a query: /metrics has none, so
// that scraping it does not list tenants (per-tenant figures: /api/v1/usage).
var noTenantLabel = regexp.MustCompile(`\btenant(_id)?\b\s*(=|!=|=~|!~|\)|,)|\(\s*tenant(_id)?\b`)

// exported returns every metric name the Go code registers (a string
// literal "pulsestream_…" in internal/ or cmd/), so a renamed metric
// breaks this test instead of an alert silently never firing.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	lit := regexp.MustCompile(`"(pulsestream_[a-z_]+)"`)
	for _, root := range []string{"../internal", "../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(data), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %d exported metric names: %v", len(names), names)
	}
	return names
}

// checkExpr fails for a metric in expr that the code does not export.
func checkExpr(t *testing.T, where, expr string, names map[string]bool) {
	t.Helper()
	found := 0
	for _, m := range metricName.FindAllString(expr, -1) {
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(m, suffix) && names[strings.TrimSuffix(m, suffix)] {
				base = strings.TrimSuffix(m, suffix)
			}
		}
		if !names[base] {
			t.Errorf("%s: metric %s is not exported by PulseStream", where, m)
		}
		found++
	}
	if noTenantLabel.MatchString(expr) {
		t.Errorf("%s: groups or filters by a tenant label, which /metrics does not expose: %s", where, expr)
	}
	if found == 0 && !regexp.MustCompile(`\bup\b`).MatchString(expr) {
		t.Errorf("%s: expression names no PulseStream metric: %s", where, expr)
	}
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	const file = "prometheus/alerts.yml"
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
			t.Fatalf("promtool check rules: %v\n%s", err, out)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s does not parse: %v", file, err)
	}
	// runbook_url is absolute: the base documented in the file's header, then the section.
	m := regexp.MustCompile(`(?m)^#\s+RUNBOOK_BASE = (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s does not document its RUNBOOK_BASE", file)
	}
	base := string(m[1])
	if u, err := neturl.Parse(base); err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" {
		t.Fatalf("RUNBOOK_BASE %q is not an absolute https URL without a fragment", base)
	}
	if !strings.Contains(string(data), "sed -i 's|"+base+"|") {
		t.Errorf("%s does not say how to replace RUNBOOK_BASE", file)
	}
	runbook, err := os.ReadFile("../docs/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(runbook), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[anchor(h)] = true
		}
	}
	names := exported(t)
	seen := map[string]bool{}
	n := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			n++
			where := g.Name + "/" + r.Alert
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("%s: missing or repeated alert name", where)
			}
			seen[r.Alert] = true
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, sev)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", where)
			}
			url := r.Annotations["runbook_url"]
			if a, ok := strings.CutPrefix(url, base+"#"); !ok || !anchors[a] {
				t.Errorf("%s: runbook_url %q is not RUNBOOK_BASE#<a section of docs/RUNBOOK.md>", where, url)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
				t.Errorf("%s: unbalanced expression %q", where, r.Expr)
			}
			checkExpr(t, where, r.Expr, names)
		}
	}
	if n < 8 {
		t.Errorf("only %d alert rules", n)
	}
}

// anchor is GitHub's heading anchor: lower case, spaces to dashes,
// punctuation dropped.
func anchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("grafana/pulsestream.json")
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr   string `json:"expr"`
		RawSQL string `json:"rawSql"`
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
			Targets []target `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) < 6 {
		t.Fatalf("dashboard lacks a title, uid or panels: %q %q %d", dash.Title, dash.UID, len(dash.Panels))
	}
	names := exported(t)
	ids := map[int]bool{}
	rows := map[string][]string{} // row title → the queries of its panels
	row := ""
	for _, p := range dash.Panels {
		if ids[p.ID] || p.Title == "" {
			t.Errorf("panel %d %q: repeated id or no title", p.ID, p.Title)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			row = p.Title
			rows[row] = nil
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q: no query", p.ID, p.Title)
		}
		for _, tg := range p.Targets {
			if p.Datasource.Type == "grafana-postgresql-datasource" {
				checkUsageSQL(t, p.Title, tg.RawSQL)
				rows[row] = append(rows[row], tg.RawSQL)
				continue
			}
			checkExpr(t, "panel "+p.Title, tg.Expr, names)
			rows[row] = append(rows[row], tg.Expr)
		}
	}
	// Each row shows what an operator looks for in it.
	for title, want := range map[string][]string{
		"Group commit":  {"pulsestream_commit_group_events_bucket", "pulsestream_commit_group_requests", "pulsestream_commit_seconds_bucket", "pulsestream_commit_queue_waiting", "pulsestream_commit_queue_full_total"},
		"Alerting":      {"pulsestream_alert_evaluation_lag_seconds", "pulsestream_alert_groups{", "sum by (outcome) (rate(pulsestream_notification_attempts_total", "pulsestream_notification_queue_depth"},
		"Rate limiting": {"sum by (reason) (rate(pulsestream_http_requests_throttled_total", `reason="auth_failures"`, "pulsestream_rate_limited_events_total", "usage_counts"},
	} {
		queries, ok := rows[title]
		if !ok {
			t.Errorf("dashboard has no %q row", title)
			continue
		}
		all := strings.Join(queries, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("row %q: no query with %s", title, w)
			}
		}
	}
}

// checkUsageSQL checks the per-tenant top-k table: /metrics has no tenant
// label, so it reads the usage counters in PostgreSQL, bounded, in the
// dashboard's time range.
func checkUsageSQL(t *testing.T, panel, sql string) {
	t.Helper()
	for _, want := range []string{"FROM usage_counts", "metric = 'rate_limited'", "$__timeFilter(u.hour)", "ORDER BY", "LIMIT 10"} {
		if !strings.Contains(sql, want) {
			t.Errorf("panel %s: SQL lacks %q: %s", panel, want, sql)
		}
	}
}
