package app

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version may be set at build time with -ldflags "-X
// github.com/pulsestream/pulsestream/internal/app.Version=v1.2.3";
// otherwise it is the module version from the build information.
var Version = ""

// Build is what the binary knows of its own origin.
type Build struct {
	Version  string // module version, "(devel)" for a build from a checkout
	Revision string // VCS revision ("+modified" with uncommitted changes), or "unknown"
}

// ReadBuild reads the module version and VCS revision from the build
// information: `go build` in a git checkout records the revision (unless
// -buildvcs=false), `go install module@version` the version.
func ReadBuild() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return buildFrom(info, Version)
}

// buildFrom reads info (nil: none); version, if set, wins over the module's.
func buildFrom(info *debug.BuildInfo, version string) Build {
	b := Build{Version: version, Revision: "unknown"}
	if info != nil {
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && b.Revision != "unknown" {
			b.Revision += "+modified"
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// registerBuildInfo exports pulsestream_build_info{version,revision,goversion} 1.
func registerBuildInfo(reg prometheus.Registerer) {
	b := ReadBuild()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "pulsestream_build_info",
		Help:        "Always 1; the labels say which build runs: module version, VCS revision, Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	reg.MustRegister(g)
}
