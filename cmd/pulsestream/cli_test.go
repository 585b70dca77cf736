package main

import (
	"bytes"
	"database/sql"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// runCLI runs the command line and returns its exit code and outputs.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, getenv, &out, &errOut)
	return code, out.String(), errOut.String()
}

// migrated returns the URL of a new, migrated SQLite database.
func migrated(t *testing.T) string {
	t.Helper()
	db := "sqlite://" + filepath.Join(t.TempDir(), "cli.db")
	if code, _, errOut := runCLI(t, noEnv, "migrate", "--database", db); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	return db
}

// TestHelpWalk walks the command tree: every command and group answers
// --help (and -h) with exit 0 on stdout, a group lists every command under
// it, and a command's help names each of its flags.
func TestHelpWalk(t *testing.T) {
	t.Parallel()
	var walk func(c *command, path []string)
	count := 0
	walk = func(c *command, path []string) {
		for _, helpArg := range []string{"--help", "-h"} {
			code, out, errOut := runCLI(t, noEnv, append(append([]string(nil), path...), helpArg)...)
			if code != 0 || errOut != "" {
				t.Errorf("%v %s: exit %d, stderr %q", path, helpArg, code, errOut)
				continue
			}
			for _, l := range c.synopses("") {
				if !strings.Contains(out, l[0]) {
					t.Errorf("%v %s does not list %q:\n%s", path, helpArg, l[0], out)
				}
			}
			if c.setup != nil {
				fs := flag.NewFlagSet("", flag.ContinueOnError)
				cfg := config.Default()
				if c.config != nil {
					c.config(fs, &cfg)
				}
				c.setup(fs)
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(out, "-"+f.Name+" ") && !strings.Contains(out, "-"+f.Name+"\n") {
						t.Errorf("%v %s does not name --%s", path, helpArg, f.Name)
					}
				})
			}
		}
		count++
		for _, s := range c.sub {
			walk(s, append(append([]string(nil), path...), s.name))
		}
	}
	walk(root(), nil)
	if count < 20 {
		t.Errorf("walked %d commands; the tree is smaller than expected", count)
	}
	// The cases by name.
	for _, args := range [][]string{{"tenant", "--help"}, {"apikey", "--help"}, {"help"}, {"tenant", "help"}} {
		code, out, _ := runCLI(t, noEnv, args...)
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if args[0] != "apikey" && !strings.Contains(out, "update TENANT_ID") {
			t.Errorf("%v does not list tenant update:\n%s", args, out)
		}
	}
}

// A CLI error is printed once, names the cause and the help to read.
func TestCLIErrorPrintedOnce(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, noEnv, "tenant", "list", "--bogus")
	if code == 0 || strings.Count(errOut, "-bogus") != 1 || !strings.Contains(errOut, `"pulsestream tenant list --help"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, noEnv, "tenant", "frobnicate")
	if code == 0 || strings.Count(errOut, "frobnicate") != 1 || !strings.Contains(errOut, "create, list, update") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// A CLI command other than serve/migrate refuses a SQLite database that
// does not exist, and creates nothing.
func TestCLIRefusesMissingDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "typo", "pulse.db")
	for _, args := range [][]string{{"tenant", "list"}, {"tenant", "create", "x"}, {"audit-log"}, {"apikey", "list", "t"}, {"backup", filepath.Join(t.TempDir(), "b.db")}} {
		code, out, errOut := runCLI(t, noEnv, append(args, "--database", "sqlite://"+path)...)
		if code != 1 || out != "" || !strings.Contains(errOut, path+" does not exist") || !strings.Contains(errOut, "--database") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("the folder of the missing database was created: %v", err)
	}
}

// sqlite: without a path, or without //, is an error; nothing is created.
func TestSQLiteURLsWithoutPath(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"sqlite:":          "names no file",
		"sqlite://":        "names no file",
		"sqlite:rel/x.db":  "write sqlite://PATH",
		"sqlite:/abs/x.db": "write sqlite://PATH",
	} {
		for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"tenant", "list"}} {
			code, _, errOut := runCLI(t, noEnv, append(cmd, "--database", url)...)
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("%v --database %s: exit %d, %q", cmd, url, code, errOut)
			}
		}
	}
	for _, name := range []string{"sqlite:", "sqlite:-queue"} {
		if _, err := os.Stat(name); err == nil {
			t.Errorf("a file %q was created in the working folder", name)
		}
	}
}

// --disabled takes true or false, nothing else.
func TestTenantUpdateDisabledIsStrict(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	_, out, _ := runCLI(t, noEnv, "tenant", "create", "strict", "--database", db)
	id := regexp.MustCompile(`tenant_id: (\S+)`).FindStringSubmatch(out)[1]
	code, _, errOut := runCLI(t, noEnv, "tenant", "update", id, "--disabled", "maybe", "--database", db)
	if code == 0 || !strings.Contains(errOut, `"maybe" is not true or false`) {
		t.Errorf("--disabled maybe: exit %d, %q", code, errOut)
	}
	code, out, _ = runCLI(t, noEnv, "tenant", "update", id, "--disabled", "true", "--database", db)
	if code != 0 || !strings.Contains(out, "disabled=true") {
		t.Errorf("--disabled true: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, noEnv, "tenant", "update", id, "--disabled=false", "--database", db)
	if code != 0 || !strings.Contains(out, "disabled=false") {
		t.Errorf("--disabled=false: exit %d, %q", code, out)
	}
}

// A port in use names the flag and the variable that change it.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	db := "sqlite://" + filepath.Join(t.TempDir(), "x.db")
	code, _, errOut := runCLI(t, noEnv, "serve", "--addr", ln.Addr().String(), "--database", db, "--admin-token", "port-test-admin-token")
	if code != 1 || !strings.Contains(errOut, "already in use") || !strings.Contains(errOut, "--addr") || !strings.Contains(errOut, "PULSESTREAM_ADDR") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// unwritableDir returns a folder the test process cannot write in: a 0500
// folder, or (as root, who may write anywhere) /sys, which refuses even root.
func unwritableDir(t *testing.T) string {
	if os.Geteuid() == 0 {
		return "/sys"
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A database folder that cannot be written says "permission denied" and
// the path, not "no such file or directory".
func TestServeUnwritableFolder(t *testing.T) {
	t.Parallel()
	dir := unwritableDir(t)
	for _, path := range []string{filepath.Join(dir, "pulse.db"), filepath.Join(dir, "sub", "pulse.db")} {
		code, _, errOut := runCLI(t, noEnv, "serve", "--addr", "127.0.0.1:0", "--database", "sqlite://"+path)
		if code != 1 || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, filepath.Dir(path)) || strings.Contains(errOut, "no such file") {
			t.Errorf("%s: exit %d, %q", path, code, errOut)
		}
		code, _, errOut = runCLI(t, noEnv, "migrate", "--database", "sqlite://"+path)
		if code != 1 || !strings.Contains(errOut, "permission denied") {
			t.Errorf("migrate %s: exit %d, %q", path, code, errOut)
		}
	}
}

// backup into a missing or unwritable folder names the real cause.
func TestBackupDestinationErrors(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	code, _, errOut := runCLI(t, noEnv, "backup", "/missing/dir/x.db", "--database", db)
	if code != 1 || !strings.Contains(errOut, "folder /missing/dir does not exist") || strings.Contains(errOut, "unavailable") {
		t.Errorf("missing folder: exit %d, %q", code, errOut)
	}
	dir := unwritableDir(t)
	code, _, errOut = runCLI(t, noEnv, "backup", filepath.Join(dir, "x.db"), "--database", db)
	if code != 1 || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, dir) || strings.Contains(errOut, "unavailable") {
		t.Errorf("unwritable folder: exit %d, %q", code, errOut)
	}
}

// An unknown PULSESTREAM_ variable is warned about, with the closest
// known one; test and example variables are not.
func TestUnknownEnvWarning(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	warnUnknownEnv([]string{"PULSESTREAM_DATABSE_URL=postgres://x", "PULSESTREAM_ADDR=:1", "PULSESTREAM_TEST_REDIS_URL=x", "HOME=/root"}, &buf)
	if got := buf.String(); strings.Count(got, "warning:") != 1 || !strings.Contains(got, "PULSESTREAM_DATABSE_URL") || !strings.Contains(got, "did you mean PULSESTREAM_DATABASE_URL?") {
		t.Errorf("warnings: %q", got)
	}
}

// migrate applies the notification queue's (River's) migrations too.
func TestMigrateAppliesQueueMigrations(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	queue, err := sql.Open("sqlite3", "file:"+strings.TrimPrefix(db, "sqlite://")+"-queue?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	var n int
	if err := queue.QueryRow(`SELECT count(*) FROM river_migration`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("River's migrations are not applied by migrate: %d rows, %v", n, err)
	}
	if os.Getenv("PULSESTREAM_TEST_POSTGRES_URL") == "" {
		return
	}
	pg := testkit.PostgresSchema(t, "migrate")
	if code, _, errOut := runCLI(t, noEnv, "migrate", "--database", pg); code != 0 {
		t.Fatalf("migrate on PostgreSQL: %s", errOut)
	}
	conn, err := pgx.Connect(t.Context(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM river_migration`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("River's migrations are not applied by migrate on PostgreSQL: %d rows, %v", n, err)
	}
}

// version reports the module version and the VCS revision.
func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, noEnv, "version")
	if code != 0 || !regexp.MustCompile(`^pulsestream \S+ \(revision \S+\)\n$`).MatchString(out) {
		t.Errorf("exit %d, %q", code, out)
	}
}

// config print shows the effective configuration with secrets masked.
func TestConfigPrintMasksSecrets(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pulsestream.yaml")
	if err := os.WriteFile(file, []byte("admin-token: from-the-file-secret\nmax_batch_events: 77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PULSESTREAM_METRICS_TOKEN": "scrape-secret", "PULSESTREAM_DATABASE_URL": "postgres://u:pgsecret@db/x"}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "config", "print", "--config", file, "--addr", ":9090")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`addr = ":9090"`, `admin-token = "***"`, `metrics-token = "***"`, `database = "postgres://u:***@db/x"`, "max-batch-events = 77", `secret-key = ""`, `key-cache-ttl = "2s"`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"from-the-file-secret", "scrape-secret", "pgsecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("config print shows a secret %q", secret)
		}
	}
}
