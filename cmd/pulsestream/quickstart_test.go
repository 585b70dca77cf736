package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for the pulsestream binary (the
// README's `go run ./cmd/pulsestream …`) without compiling it again.
func TestMain(m *testing.M) {
	if os.Getenv("PULSESTREAM_TEST_AS_CLI") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// quickstartScript returns the ```sh blocks under the README's Quickstart
// heading, joined.
func quickstartScript(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "\n## Quickstart\n")
	if start < 0 {
		t.Fatal("README has no ## Quickstart section")
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) == 0 {
		t.Fatal("the Quickstart has no ```sh block")
	}
	var script strings.Builder
	for _, b := range blocks {
		script.WriteString(b[1])
	}
	return script.String()
}

// TestREADMEQuickstart runs every command of the README's Quickstart, as
// written, with bash in an empty folder: `go run ./cmd/pulsestream` is this
// test binary, and the server listens on a free port instead of 8000.
// Each step's answer is checked, and one tenant exists at the end.
func TestREADMEQuickstart(t *testing.T) {
	for _, prog := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("PULSESTREAM_REQUIRE_EXTERNAL") == "1" {
				t.Fatalf("%s is required (PULSESTREAM_REQUIRE_EXTERNAL=1): %v", prog, err)
			}
			t.Skipf("%s not installed; skipping the README quickstart", prog)
		}
	}
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	script := strings.ReplaceAll(quickstartScript(t), "localhost:8000", fmt.Sprintf("127.0.0.1:%d", port))
	if strings.Count(script, "/admin/v1/tenants") != 1 {
		t.Errorf("the quickstart creates %d tenants; it must create one", strings.Count(script, "/admin/v1/tenants"))
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	goShim := "#!/bin/sh\n[ \"$1\" = run ] && [ \"$2\" = ./cmd/pulsestream ] || { echo \"go shim: $*\" >&2; exit 99; }\nshift 2\nPULSESTREAM_TEST_AS_CLI=1 exec " + self + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(goShim), 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	// At the end the server ($!, the one job the quickstart starts) is
	// stopped with SIGTERM and waited for: it must exit 0.
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script+"\necho; echo QUICKSTART-DONE\nkill -TERM $!\nwait $!\n")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), fmt.Sprintf("PULSESTREAM_ADDR=127.0.0.1:%d", port), "PULSESTREAM_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the script's server is in its group
	// Files, not pipes: the server the script leaves running holds them
	// open, and Wait must not wait for it.
	outFile, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	errFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(2 * time.Minute):
		runErr = fmt.Errorf("the quickstart did not finish in 2 minutes")
	}
	stdout, _ := os.ReadFile(outFile.Name())
	stderr, _ := os.ReadFile(errFile.Name())
	out, errOut := bytes.NewBuffer(stdout), bytes.NewBuffer(stderr)
	if runErr != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the script's group, its server included
		t.Fatalf("quickstart: %v\nstdout:\n%s\nstderr:\n%s", runErr, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`"api_key":"ps_[^"]+"`),                                          // 1. the tenant and its key
		regexp.MustCompile(`"name":"checkout-team"`),                                        // 1.
		regexp.MustCompile(`"external_id":"req-0001"`),                                      // 2. the event, created
		regexp.MustCompile(`"accepted":1,"duplicates":0,"rejected":1`),                      // 3. the batch
		regexp.MustCompile(`"index":1,"status":"rejected","errors":\[\{"field":"severity"`), // 3.
		regexp.MustCompile(`\{"events":\[\{[^\]]*"endpoint":"/pay"`),                        // 4. search finds the event
		regexp.MustCompile(`\{"interval":"hour","intervals":\[\{"start":`),                  // 5. usage (its counts lag up to a second: not asserted)
		regexp.MustCompile(`QUICKSTART-DONE`),
	} {
		if !want.MatchString(got) {
			t.Errorf("the quickstart output lacks %s\nstdout:\n%s\nstderr:\n%s", want, got, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "go shim:") {
		t.Errorf("the quickstart runs a go command the test does not know: %s", errOut.String())
	}
	// One tenant, the one created above.
	db := "sqlite://" + filepath.Join(work, "data", "pulsestream.db")
	code, list, listErr := runCLI(t, noEnv, "tenant", "list", "--database", db)
	if code != 0 || strings.Count(list, "checkout-team") != 1 || strings.Count(strings.TrimSpace(list), "\n") != 1 {
		t.Errorf("tenants after the quickstart (exit %d, %s):\n%s", code, listErr, list)
	}
}
