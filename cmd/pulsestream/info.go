package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
)

func versionSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, _ config.Config, pos []string) error {
		if err := wantArgs("version", pos, 0); err != nil {
			return err
		}
		b := app.ReadBuild()
		fmt.Fprintf(e.stdout, "pulsestream %s (revision %s)\n", b.Version, b.Revision)
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
