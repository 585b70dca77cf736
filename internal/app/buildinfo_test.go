package app

import (
	"runtime/debug"
	"testing"
)

func TestBuildFrom(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	cases := []struct {
		info    *debug.BuildInfo
		ldflags string
		want    Build
	}{
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("abc123", "false")}, "", Build{"v1.4.0", "abc123"}},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "true")}, "", Build{"(devel)", "abc123+modified"}},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", Build{"(devel)", "unknown"}},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "false")}, "v2.0.0-rc1", Build{"v2.0.0-rc1", "abc123"}},
		{nil, "", Build{"(devel)", "unknown"}},
	}
	for i, c := range cases {
		if got := buildFrom(c.info, c.ldflags); got != c.want {
			t.Errorf("case %d: %+v, want %+v", i, got, c.want)
		}
	}
	if b := ReadBuild(); b.Version == "" || b.Revision == "" {
		t.Errorf("ReadBuild() = %+v", b)
	}
}
