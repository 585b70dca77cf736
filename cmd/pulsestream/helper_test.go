package main

import (
	"bufio"
	"os"
	osexec "os/exec"
	"testing"
)

// holdOpen runs this test binary as a helper process that holds the SQLite
// database at path open, and returns a function that makes it exit.
func holdOpen(t *testing.T, path string) (release func()) {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^TestRestoreRefusesDatabaseInUse$")
	cmd.Env = append(os.Environ(), "PULSESTREAM_TEST_HOLD_DB="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "open\n" {
		t.Fatalf("helper process: %q", line)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		stdin.Close()
		_ = cmd.Wait()
	}
	t.Cleanup(release)
	return release
}
