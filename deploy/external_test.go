package deploy

import (
	"os"
	"os/exec"
	"testing"
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
