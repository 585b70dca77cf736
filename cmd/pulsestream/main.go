// Command pulsestream is PulseStream's one binary: the server, migrations,
// tenant and key administration, and the load generator.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pulsestream/pulsestream/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	warnUnknownEnv(os.Environ(), os.Stderr)
	code := runIO(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// warnUnknownEnv warns about PULSESTREAM_ variables that are no setting
// (a typo would otherwise fall back to the default silently).
func warnUnknownEnv(environ []string, stderr io.Writer) {
	for _, w := range config.UnknownEnv(environ) {
		fmt.Fprintln(stderr, "warning:", w)
	}
}

// run is runIO with an empty standard input.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

// runIO is main without the process: testable with any args, environment
// and standard input. Every error is printed once, here.
func runIO(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	err := root().exec(e, "pulsestream", args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}
