package deploy

import (
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/pulsestream/pulsestream/internal/config"
)

// requireExternal is set in CI: a test that needs a program or a
// privilege this machine lacks fails there instead of skipping.
const requireExternal = "PULSESTREAM_REQUIRE_EXTERNAL"

// unavailable skips t (or, with PULSESTREAM_REQUIRE_EXTERNAL=1, fails it)
// because of why.
func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(requireExternal) == "1" {
		t.Fatalf("%s (%s=1, so this is a failure)", why, requireExternal)
	}
	t.Skipf("skipped: %s (set %s=1 to make this a failure)", why, requireExternal)
}

// lookPath finds program or skips/fails t.
func lookPath(t *testing.T, program, purpose string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		unavailable(t, program+" not found; it is needed to "+purpose)
	}
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// checkEnvName fails for a PULSESTREAM_* variable the binary does not read.
func checkEnvName(t *testing.T, where, name string) {
	t.Helper()
	if !slices.Contains(config.KnownEnv(), name) {
		t.Errorf("%s: %s is not a setting PulseStream knows (config.KnownEnv)", where, name)
	}
}
