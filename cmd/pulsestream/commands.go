package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pulsestream/pulsestream/internal/config"
)

// env is what a command runs with.
type env struct {
	ctx            context.Context
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// runFunc runs a parsed command: cfg holds its configuration flags (after
// flags, environment and --config), pos its positional arguments.
type runFunc func(e *env, cfg config.Config, pos []string) error

// command is one node of the CLI tree: a group (sub), a leaf (setup), or
// both (bench and bench storage).
type command struct {
	name    string
	args    string // positional arguments in the synopsis, e.g. "NAME"
	summary string
	// config registers the configuration flags the command reads on fs,
	// writing into cfg: the database's (config.DatabaseFlags) or all of
	// serve's (config.ServeFlags). nil: none.
	config func(fs *flag.FlagSet, cfg *config.Config)
	// setup registers the command's own flags and returns what runs it.
	setup func(fs *flag.FlagSet) runFunc
	sub   []*command
	// noEnv: the command's flags are not read from PULSESTREAM_* variables
	// (bench: its --database is the bench's, not the server's).
	noEnv bool
}

// root is the whole command tree.
func root() *command {
	return &command{name: "pulsestream", summary: "event ingestion, search and alerting", sub: []*command{
		{name: "serve", summary: "run the HTTP server (applies migrations at start)", config: config.ServeFlags, setup: serveSetup},
		{name: "migrate", summary: "apply every migration a server would (store and notification queue); creates a SQLite database", config: config.DatabaseFlags, setup: migrateSetup},
		{name: "migrate-store", summary: "move a SQLite database's events from rows into the parts store (servers stopped; resumable, verified)", config: config.DatabaseFlags, setup: migrateStoreSetup},
		{name: "tenant", summary: "create, list and update tenants", sub: []*command{
			{name: "create", args: "NAME", summary: "create a tenant and its first API key (names are unique)", config: config.DatabaseFlags, setup: tenantCreateSetup},
			{name: "list", summary: "list the tenants", config: config.DatabaseFlags, setup: tenantListSetup},
			{name: "update", args: "TENANT_ID", summary: "change a tenant's limits or disable it", config: config.DatabaseFlags, setup: tenantUpdateSetup},
		}},
		{name: "apikey", summary: "create, list, revoke and rotate a tenant's API keys", sub: []*command{
			{name: "create", args: "TENANT_ID", summary: "create an API key (shown once)", config: config.DatabaseFlags, setup: apikeySetup("create")},
			{name: "list", args: "TENANT_ID", summary: "list a tenant's API keys", config: config.DatabaseFlags, setup: apikeySetup("list")},
			{name: "revoke", args: "TENANT_ID KEY_ID", summary: "revoke an API key (refused by every node within 5 s)", config: config.DatabaseFlags, setup: apikeySetup("revoke")},
			{name: "rotate", args: "TENANT_ID KEY_ID", summary: "replace an API key; the old one works for --grace", config: config.DatabaseFlags, setup: apikeySetup("rotate")},
		}},
		{name: "user", summary: "create, list and disable the people who sign in (USER: id or email)", sub: []*command{
			{name: "create", args: "EMAIL", summary: "create a user; the password is asked twice on the terminal or read with --password-stdin", config: config.DatabaseFlags, setup: userCreateSetup},
			{name: "list", summary: "list the users", config: config.DatabaseFlags, setup: userListSetup},
			{name: "set-password", args: "USER", summary: "set a user's password; ends their sessions", config: config.DatabaseFlags, setup: userSetPasswordSetup},
			{name: "disable", args: "USER", summary: "disable a user; ends their sessions", config: config.DatabaseFlags, setup: userDisableSetup},
		}},
		{name: "member", summary: "add, change and remove a tenant's members (a tenant keeps one owner)", sub: []*command{
			{name: "add", args: "TENANT_ID USER", summary: "add a member or change their role", config: config.DatabaseFlags, setup: memberAddSetup},
			{name: "remove", args: "TENANT_ID USER", summary: "remove a member (signed out at once when it was their last tenant)", config: config.DatabaseFlags, setup: memberRemoveSetup},
			{name: "list", args: "TENANT_ID", summary: "list a tenant's members", config: config.DatabaseFlags, setup: memberListSetup},
		}},
		{name: "audit-log", args: "[TENANT_ID]", summary: "show the newest audit entries", config: config.DatabaseFlags, setup: auditLogSetup},
		{name: "backup", args: "FILE", summary: "consistent online copy of the SQLite database (servers may run)", config: config.DatabaseFlags, setup: backupSetup},
		{name: "restore", args: "FILE", summary: "replace the SQLite database with a backup (servers stopped)", config: config.DatabaseFlags, setup: restoreSetup},
		{name: "bench", summary: "load-test a server over HTTP (started as a child unless --target)", setup: benchSetup(false), noEnv: true, sub: []*command{
			{name: "storage", summary: "load-test the storage layer alone", setup: benchSetup(true), noEnv: true},
		}},
		{name: "config", summary: "inspect the configuration", sub: []*command{
			{name: "print", summary: "print the effective serve configuration (flags, environment, --config, defaults), secrets masked", config: config.ServeFlags, setup: configPrintSetup},
		}},
		{name: "healthcheck", summary: "exit 0 if this host's server answers /health (a container HEALTHCHECK without a shell)", setup: healthcheckSetup},
		{name: "version", summary: "print the module version and VCS revision", setup: versionSetup},
	}}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// exec runs c with args; path is how the user reached it ("pulsestream tenant").
func (c *command) exec(e *env, path string, args []string) error {
	if len(args) > 0 {
		for _, s := range c.sub {
			if s.name == args[0] {
				return s.exec(e, path+" "+s.name, args[1:])
			}
		}
	}
	if c.setup == nil {
		switch {
		case len(args) > 0 && isHelp(args[0]):
			c.help(e.stdout, path, nil)
			return nil
		case len(args) == 0:
			c.help(e.stderr, path, nil)
			return errUsage
		}
		return fmt.Errorf("unknown command %q for %q (one of: %s); run %q", args[0], path, strings.Join(c.subNames(), ", "), path+" --help")
	}
	fs := c.flags(path)
	cfg := config.Default()
	if c.config != nil {
		c.config(fs, &cfg)
	}
	run := c.setup(fs)
	flags, pos := interleaved(fs, args)
	getenv := e.getenv
	if c.noEnv {
		getenv = func(string) string { return "" }
	}
	if err := config.Parse(fs, flags, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(e.stdout, path, fs)
			return nil
		}
		return fmt.Errorf("%w (run %q)", err, path+" --help")
	}
	if c.config != nil {
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	return run(e, cfg, pos)
}

// flags is the command's flag set: errors are returned, never printed by
// the flag package (run prints them once), and help is ours.
func (c *command) flags(path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// synopses lists every command under c, groups flattened into their
// commands ("tenant update TENANT_ID"), with its summary.
func (c *command) synopses(prefix string) [][2]string {
	var out [][2]string
	for _, s := range c.sub {
		name := strings.TrimSpace(prefix + " " + s.name)
		if s.setup != nil {
			out = append(out, [2]string{strings.TrimSpace(name + " " + s.args), s.summary})
		}
		out = append(out, s.synopses(name)...)
	}
	return out
}

func (c *command) subNames() []string {
	var names []string
	for _, s := range c.sub {
		names = append(names, s.name)
	}
	return names
}

// help writes the synopsis, the subcommands and the flags (fs may be nil).
func (c *command) help(w io.Writer, path string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s — %s\n\nUsage:\n", path, c.summary)
	if c.setup != nil {
		fmt.Fprintf(w, "  %s", path)
		if c.args != "" {
			fmt.Fprintf(w, " %s", c.args)
		}
		fmt.Fprintln(w, " [flags]")
	}
	if len(c.sub) > 0 {
		fmt.Fprintf(w, "  %s COMMAND [arguments] [flags]\n\nCommands:\n", path)
		lines := c.synopses("")
		width := 0
		for _, l := range lines {
			width = max(width, len(l[0]))
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
		}
		fmt.Fprintf(w, "\nRun %q for a command's flags.\n", path+" COMMAND --help")
	}
	if fs == nil && c.setup != nil {
		fs = c.flags(path)
		cfg := config.Default()
		if c.config != nil {
			c.config(fs, &cfg)
		}
		c.setup(fs)
	}
	if fs == nil {
		return
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags (flags may follow the arguments):")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if c.config != nil {
		fmt.Fprintln(w, "\nEvery flag above also reads PULSESTREAM_<FLAG> (--database: PULSESTREAM_DATABASE_URL) and the --config file; precedence: flag, environment, file, default.")
	}
}

// interleaved lets flags come after positional arguments
// ("tenant create NAME --rate-limit 5"), as users type them.
func interleaved(fs *flag.FlagSet, args []string) ([]string, []string) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") {
				if f := fs.Lookup(name); f != nil && i+1 < len(args) {
					if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
						flags = append(flags, args[i+1])
						i++
					}
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return flags, pos
}

// wantArgs checks the number of positional arguments.
func wantArgs(path string, pos []string, n ...int) error {
	if slices.Contains(n, len(pos)) {
		return nil
	}
	return fmt.Errorf("%s: %d arguments given (%q); run %q", path, len(pos), pos, path+" --help")
}

// sqliteExists refuses a SQLite database that does not exist: a CLI
// command other than serve and migrate must not create an empty one where
// a typo in --database points.
func sqliteExists(databaseURL string) error {
	path, ok := strings.CutPrefix(databaseURL, "sqlite://")
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("database %s does not exist: check --database (PULSESTREAM_DATABASE_URL), or create it with `pulsestream serve` or `pulsestream migrate --database %s`", path, databaseURL)
	} else if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	return nil
}
