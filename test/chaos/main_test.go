package chaos

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var longFlag = flag.Bool("chaos.long", false, "long settings: more kills, longer outages and overload (also PULSESTREAM_CHAOS_LONG=1)")

// binPath is the pulsestream binary TestMain builds once for every test.
var binPath string

// long reports whether the scenarios run with their long settings.
func long() bool { return *longFlag || os.Getenv("PULSESTREAM_CHAOS_LONG") != "" }

// pick returns fast, or slow with -chaos.long.
func pick[T any](fast, slow T) T {
	if long() {
		return slow
	}
	return fast
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pulsestream-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "pulsestream")
	// The child runs without the race detector (the test process has it)
	// unless PULSESTREAM_CHAOS_RACE asks for it.
	args := []string{"build", "-o", binPath}
	if os.Getenv("PULSESTREAM_CHAOS_RACE") != "" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/pulsestream/pulsestream/cmd/pulsestream")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: go build pulsestream:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "chaos: built %s in %v\n", binPath, time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: write report:", err)
		return 1
	}
	return code
}

// The report collects each scenario's figures; TestMain writes it as JSON to
// $PULSESTREAM_CHAOS_REPORT when that is set.
var report = struct {
	sync.Mutex
	scenarios map[string]any
}{scenarios: map[string]any{}}

func record(name string, figures any) {
	report.Lock()
	report.scenarios[name] = figures
	report.Unlock()
}

func writeReport() error {
	path := os.Getenv("PULSESTREAM_CHAOS_REPORT")
	if path == "" {
		return nil
	}
	report.Lock()
	defer report.Unlock()
	data, err := json.MarshalIndent(map[string]any{
		"finished_at": time.Now().UTC().Format(time.RFC3339),
		"go":          runtime.Version(),
		"long":        long(),
		"scenarios":   report.scenarios,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
