package deploy

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Configs     []struct {
			Source string `yaml:"source"`
			Target string `yaml:"target"`
		} `yaml:"configs"`
	} `yaml:"services"`
	Configs map[string]struct {
		File    string `yaml:"file"`
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

// readYAML decodes the YAML file at path into v or fails t.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
}

// TestComposeFile checks deploy/compose without running Docker: the
// compose file and the configuration it mounts parse, every file it names
// exists, the nodes set only PULSESTREAM_* variables the binary knows, and
// Prometheus, Caddy and Grafana point at what the compose file provides.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	const dir = "compose"
	var c composeFile
	readYAML(t, filepath.Join(dir, "compose.yaml"), &c)

	// mounts[service][target] = host path (relative to the repository's deploy/compose).
	mounts := map[string]map[string]string{}
	var nodes []string
	for name, s := range c.Services {
		mounts[name] = map[string]string{}
		if s.Build != nil {
			ctx := filepath.Join(dir, s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: build: %v", name, err)
			}
			if s.Build.Dockerfile == "Dockerfile" && filepath.Clean(ctx) == ".." {
				nodes = append(nodes, name)
			}
		}
		for _, v := range s.Volumes {
			src, rest, _ := strings.Cut(v, ":")
			target, _, _ := strings.Cut(rest, ":")
			if !strings.HasPrefix(src, ".") {
				continue // a named volume
			}
			host := filepath.Join(dir, src)
			if _, err := os.Stat(host); err != nil {
				t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
			}
			mounts[name][target] = host
		}
		for _, cfg := range s.Configs {
			if _, ok := c.Configs[cfg.Source]; !ok {
				t.Errorf("service %s uses config %s, which compose.yaml does not define", name, cfg.Source)
			}
			mounts[name][cfg.Target] = "config:" + cfg.Source
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "PULSESTREAM_") {
				checkEnvName(t, "compose.yaml service "+name, k)
			}
		}
	}
	for name, cfg := range c.Configs {
		if cfg.File != "" {
			if _, err := os.Stat(filepath.Join(dir, cfg.File)); err != nil {
				t.Errorf("config %s: %v", name, err)
			}
		}
	}
	slices.Sort(nodes)
	if len(nodes) != 3 {
		t.Fatalf("want 3 PulseStream nodes built from the repository's Dockerfile, got %v", nodes)
	}
	for _, s := range []string{"postgres", "redis", "caddy", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("compose.yaml has no %s service", s)
		}
	}
	for _, n := range nodes {
		env := c.Services[n].Environment
		for _, want := range []string{"PULSESTREAM_DATABASE_URL", "PULSESTREAM_REDIS_URL", "PULSESTREAM_METRICS_TOKEN", "PULSESTREAM_ADMIN_TOKEN"} {
			if env[want] == "" {
				t.Errorf("node %s does not set %s", n, want)
			}
		}
		if !strings.HasPrefix(env["PULSESTREAM_DATABASE_URL"], "postgres://") || !strings.Contains(env["PULSESTREAM_DATABASE_URL"], "@postgres:") || !strings.HasPrefix(env["PULSESTREAM_REDIS_URL"], "redis://redis:") {
			t.Errorf("node %s must use the compose PostgreSQL and Redis: %v", n, env)
		}
	}

	// Every variable compose.yaml interpolates is in .env.example, whose
	// PULSESTREAM_* names are settings the binary knows.
	data, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_0-9]+)`).FindAllStringSubmatch(string(data), -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
			t.Errorf("compose.yaml uses ${%s}, which .env.example does not list", m[1])
		}
	}
	checkEnvFile(t, filepath.Join(dir, ".env.example"))

	// Prometheus scrapes every node with the metrics token and loads the rules.
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			Authorization struct {
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	promMounts := mounts["prometheus"]
	promConfig, ok := promMounts["/etc/prometheus/prometheus.yml"]
	if !ok {
		t.Fatal("prometheus does not mount /etc/prometheus/prometheus.yml")
	}
	readYAML(t, promConfig, &prom)
	for _, r := range prom.RuleFiles {
		if host := promMounts[r]; filepath.Base(host) != "alerts.yml" {
			t.Errorf("prometheus rule file %s is not deploy/prometheus/alerts.yml mounted (%q)", r, host)
		}
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName != "pulsestream" {
			continue
		}
		if promMounts[sc.Authorization.CredentialsFile] != "config:metrics_token" || !strings.Contains(c.Configs["metrics_token"].Content, "PULSESTREAM_METRICS_TOKEN") {
			t.Errorf("the pulsestream job's credentials_file %q is not the nodes' metrics token", sc.Authorization.CredentialsFile)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	slices.Sort(targets)
	var want []string
	for _, n := range nodes {
		want = append(want, n+":8000")
	}
	if !slices.Equal(targets, want) {
		t.Errorf("job pulsestream scrapes %v, want every node %v", targets, want)
	}

	// Caddy proxies to every node and checks /health.
	caddyfile, err := os.ReadFile(mounts["caddy"]["/etc/caddy/Caddyfile"])
	if err != nil {
		t.Fatalf("caddy's Caddyfile: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(string(caddyfile), w) {
			t.Errorf("Caddyfile does not proxy to %s", w)
		}
	}
	if !strings.Contains(string(caddyfile), "health_uri /health") {
		t.Error("Caddyfile does not health-check the nodes")
	}

	// Grafana provisions a Prometheus data source and the dashboard's folder.
	gm := mounts["grafana"]
	prov, ok := gm["/etc/grafana/provisioning"]
	if !ok {
		t.Fatal("grafana does not mount /etc/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct {
			Type, URL, User string
			SecureJSONData  map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(prov, "datasources", "datasources.yml"), &ds)
	types := map[string]string{}
	for _, d := range ds.Datasources {
		types[d.Type] = d.URL
		if d.Type == "grafana-postgresql-datasource" {
			// Grafana expands $VAR from its environment.
			pw := strings.TrimPrefix(d.SecureJSONData["password"], "$")
			if _, ok := c.Services["grafana"].Environment[pw]; !ok {
				t.Errorf("grafana's PostgreSQL password $%s is not in its environment", pw)
			}
		}
	}
	if !strings.Contains(types["prometheus"], "prometheus:9090") || !strings.HasPrefix(types["grafana-postgresql-datasource"], "postgres:5432") {
		t.Errorf("grafana data sources (Prometheus for the panels, PostgreSQL for the per-tenant table): %+v", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(prov, "dashboards", "pulsestream.yml"), &dp)
	found := false
	for target, host := range gm {
		if filepath.Base(host) == "pulsestream.json" && len(dp.Providers) == 1 && path.Dir(target) == dp.Providers[0].Options.Path {
			found = true
		}
	}
	if !found {
		t.Errorf("grafana does not mount deploy/grafana/pulsestream.json into the provisioned folder %+v (mounts %v)", dp.Providers, gm)
	}
}

// TestScrapeExample checks the generic scrape configuration example.
func TestScrapeExample(t *testing.T) {
	t.Parallel()
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			Authorization struct {
				Type            string `yaml:"type"`
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/scrape.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].JobName != "pulsestream" || prom.ScrapeConfigs[0].Authorization.CredentialsFile == "" {
		t.Errorf("want one job named pulsestream (the alert rules select job=\"pulsestream\") sending the metrics token: %+v", prom.ScrapeConfigs)
	}
	if !slices.Equal(prom.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v, want [alerts.yml]", prom.RuleFiles)
	}
}
