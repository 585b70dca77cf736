package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFilePrecedence: flag over environment over file over default, for
// TOML and YAML alike, --config or PULSESTREAM_CONFIG naming the file.
func TestFilePrecedence(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"pulsestream.toml": "addr = \":7001\"\ndatabase = \"postgres://file/db\"\nmax-batch-events = 50\nkey_cache_ttl = \"1s\"\npprof = true\ndecode-tenant-share = 0.25\n",
		"pulsestream.yaml": "addr: \":7001\"\ndatabase: postgres://file/db\nmax-batch-events: 50\nkey_cache_ttl: 1s\npprof: true\ndecode-tenant-share: 0.25\n",
	}
	for name, body := range files {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, viaEnv := range []bool{false, true} {
			env := map[string]string{"PULSESTREAM_DATABASE_URL": "postgres://env/db", "PULSESTREAM_ADDR": ":7002"}
			args := []string{"--addr", ":7003"}
			if viaEnv {
				env[FileEnv] = path
			} else {
				args = append(args, "--config", path)
			}
			c := Default()
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			ServeFlags(fs, &c)
			if err := Parse(fs, args, func(k string) string { return env[k] }); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if c.Addr != ":7003" {
				t.Errorf("%s: the flag must win over env and file: addr %q", name, c.Addr)
			}
			if c.DatabaseURL != "postgres://env/db" {
				t.Errorf("%s: env must win over the file: database %q", name, c.DatabaseURL)
			}
			if c.MaxBatchEvents != 50 || c.KeyCacheTTL != time.Second || !c.Pprof || c.DecodeTenantShare != 0.25 {
				t.Errorf("%s: file values not applied: %d %v %v %v", name, c.MaxBatchEvents, c.KeyCacheTTL, c.Pprof, c.DecodeTenantShare)
			}
			if c.MaxBodyBytes != Default().MaxBodyBytes {
				t.Errorf("%s: a key absent everywhere must keep its default", name)
			}
		}
	}
}

// A file's mistakes are named: unknown keys (with the closest known one),
// tables, values of the wrong type, unknown extensions, missing files.
func TestFileErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ name, body, want string }{
		"typo":      {"a.toml", "databse = \"x\"\n", `unknown key "databse" (did you mean "database"?)`},
		"table":     {"b.yaml", "addr:\n  host: x\n", `key "addr" must be a string, number or boolean`},
		"bad value": {"c.yaml", "max-batch-events: many\n", "--config key max-batch-events"},
		"bad bool":  {"d.toml", "pprof = \"maybe\"\n", "--config key pprof"},
		"extension": {"e.json", "{}", "must end in .toml, .yaml or .yml"},
		"syntax":    {"f.toml", "addr = \n", "f.toml"},
	}
	for label, tc := range cases {
		path := filepath.Join(t.TempDir(), tc.name)
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		ServeFlags(fs, &c)
		err := Parse(fs, []string{"--config", path}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", label, err, tc.want)
		}
	}
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	if err := Parse(fs, []string{"--config", "/nonexistent/p.toml"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "/nonexistent/p.toml") {
		t.Errorf("missing file: %v", err)
	}
}

// A CLI command reads only the keys it has; the file may hold serve's.
func TestFileForDatabaseCommands(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte("addr = \":1\"\ndatabase = \"sqlite://from/file.db\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	fs := flag.NewFlagSet("tenant list", flag.ContinueOnError)
	DatabaseFlags(fs, &c)
	if err := Parse(fs, []string{"--config", path}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "sqlite://from/file.db" || c.Addr != Default().Addr {
		t.Errorf("database %q addr %q", c.DatabaseURL, c.Addr)
	}
}

func TestKnownEnvAndClosest(t *testing.T) {
	t.Parallel()
	known := KnownEnv()
	for _, want := range []string{"PULSESTREAM_DATABASE_URL", "PULSESTREAM_REDIS_URL", "PULSESTREAM_ADDR", "PULSESTREAM_CONFIG", "PULSESTREAM_SECRET_KEY"} {
		if !strings.Contains(strings.Join(known, " "), want) {
			t.Errorf("KnownEnv lacks %s", want)
		}
	}
	w := UnknownEnv([]string{"PULSESTREAM_DATABSE_URL=x", "PULSESTREAM_REDIS_URL=y", "PULSESTREAM_SOAK=1", "PULSESTREAM_TEST_LOG=1", "PULSESTREAM_LOG_LEVLE=debug"})
	if len(w) != 2 || !strings.Contains(w[0], "did you mean PULSESTREAM_DATABASE_URL?") || !strings.Contains(w[1], "did you mean PULSESTREAM_LOG_LEVEL?") {
		t.Errorf("warnings: %q", w)
	}
}

func TestSQLiteURLs(t *testing.T) {
	t.Parallel()
	for url, ok := range map[string]bool{
		"sqlite://./data/x.db": true, "sqlite://data/x.db": true, "sqlite:///abs/x.db": true,
		"sqlite:": false, "sqlite://": false, "sqlite:rel/x.db": false, "sqlite:/abs.db": false,
	} {
		c := Default()
		c.DatabaseURL = url
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("%s: %v", url, err)
		}
	}
}

// Boolean options take true or false, nothing else, from every source.
func TestBooleansStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		ok   bool
		want bool
	}{
		{[]string{"--pprof"}, nil, true, true},
		{[]string{"--pprof=true"}, nil, true, true},
		{[]string{"--pprof=false"}, nil, true, false},
		{[]string{"--pprof=maybe"}, nil, false, false},
		{[]string{"--pprof=1"}, nil, false, false},
		{nil, map[string]string{"PULSESTREAM_PPROF": "yes"}, false, false},
		{nil, map[string]string{"PULSESTREAM_PPROF": "TRUE"}, false, false},
		{nil, map[string]string{"PULSESTREAM_PPROF": "true"}, true, true},
	} {
		c := Default()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		ServeFlags(fs, &c)
		err := Parse(fs, tc.args, func(k string) string { return tc.env[k] })
		if (err == nil) != tc.ok || (err == nil && c.Pprof != tc.want) {
			t.Errorf("%v %v: pprof %v, %v", tc.args, tc.env, c.Pprof, err)
		}
		if err != nil && !strings.Contains(err.Error(), "is not true or false") {
			t.Errorf("%v %v: %v does not say what is wanted", tc.args, tc.env, err)
		}
	}
}
