package config

import (
	"flag"
	"sort"
)

// KnownEnv returns every PULSESTREAM_* variable that sets a server setting
// (one per `serve` flag, see EnvName), sorted. Deployment files are checked
// against it, and the server can warn about a variable that is not in it.
func KnownEnv() []string {
	c := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ServeFlags(fs, &c)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, EnvName(f.Name)) })
	sort.Strings(names)
	return names
}
