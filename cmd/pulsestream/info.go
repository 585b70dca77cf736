package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// version may be set at build time with -ldflags "-X main.version=...";
// otherwise it comes from the module's build information.
var version = ""

// build is what the binary knows of its own origin.
type build struct{ version, revision string }

// readBuild reads the module version and VCS revision from the build
// information (`go build` in a git checkout records the revision unless
// -buildvcs=false; `go install module@version` records the version).
func readBuild() build {
	b := build{version: version, revision: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if b.version == "" {
			b.version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified {
			b.revision += "+modified"
		}
	}
	if b.version == "" {
		b.version = "(devel)"
	}
	return b
}

func versionSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, _ config.Config, pos []string) error {
		if err := wantArgs("version", pos, 0); err != nil {
			return err
		}
		b := readBuild()
		fmt.Fprintf(e.stdout, "pulsestream %s (revision %s)\n", b.version, b.revision)
		return nil
	}
}

// secretFlags are masked by config print.
var secretFlags = map[string]bool{"admin-token": true, "secret-key": true, "metrics-token": true}

// configPrintSetup prints the effective serve configuration as a TOML file
// (usable as --config), secrets masked, database and Redis passwords hidden.
func configPrintSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("config print", pos, 0); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "# effective configuration: flags, then PULSESTREAM_* variables, then the --config file, then defaults")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == "config" {
				return
			}
			v := f.Value.(flag.Getter).Get()
			switch {
			case secretFlags[f.Name]:
				s := ""
				if f.Value.String() != "" {
					s = "***"
				}
				v = s
			case f.Name == "database" || f.Name == "redis":
				v = redactURL(f.Value.String())
			}
			switch x := v.(type) {
			case string:
				fmt.Fprintf(e.stdout, "%s = %s\n", f.Name, strconv.Quote(x))
			case time.Duration:
				fmt.Fprintf(e.stdout, "%s = %s\n", f.Name, strconv.Quote(x.String()))
			default:
				fmt.Fprintf(e.stdout, "%s = %v\n", f.Name, x)
			}
		})
		return nil
	}
}
