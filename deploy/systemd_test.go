package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit runs systemd-analyze verify on deploy/systemd/pulsestream.service
// (a copy whose ExecStart is the static build and whose EnvironmentFile is
// the example beside it), failing on any complaint, not only on errors:
// systemd ignores a misspelt key or value with a warning and exit 0.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("systemd/pulsestream.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=pulsestream", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_",
		"SystemCallFilter=@system-service", "EnvironmentFile=/etc/pulsestream/pulsestream.env",
		"ExecStart=/usr/local/bin/pulsestream serve",
	} {
		if !strings.Contains(unit, "\n"+want) { // at the start of a line: not commented out
			t.Errorf("pulsestream.service lacks %q", strings.TrimSpace(want))
		}
	}
	env, err := filepath.Abs("systemd/pulsestream.env")
	if err != nil {
		t.Fatal(err)
	}
	checkEnvFile(t, env)

	analyze := lookPath(t, "systemd-analyze", "verify the systemd unit")
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/pulsestream", "ExecStart="+staticBinary(t), 1)
	unit = strings.Replace(unit, "EnvironmentFile=/etc/pulsestream/pulsestream.env", "EnvironmentFile="+env, 1)
	path := filepath.Join(t.TempDir(), "pulsestream.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The hardening, scored by systemd itself: exposure at most 2.0 of 10
	// ("OK"; the unit scores 1.5 with systemd 252), so that dropping an
	// option unnoticed fails here.
	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0 (or the check failed): %v\n%s", err, out)
	}
}

// checkEnvFile fails for a variable in an environment file (active or
// commented out) that is not a PULSESTREAM_* setting the binary knows.
func checkEnvFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		name, _, ok := strings.Cut(line, "=")
		if ok && strings.HasPrefix(name, "PULSESTREAM_") {
			checkEnvName(t, path, name)
		}
	}
}
