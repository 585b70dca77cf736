// Command pulsestream is PulseStream's one binary: the server, migrations,
// tenant and key administration, and the load generator.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `pulsestream — event ingestion, search and alerting

Usage:
  pulsestream serve    [flags]                 run the HTTP server
  pulsestream migrate  [--database URL]        apply schema migrations
  pulsestream tenant create NAME [--rate-limit N] [--retention-days N]
  pulsestream tenant list
  pulsestream apikey create TENANT_ID [--name N] [--scopes ingest,read,admin] [--expires-in 720h]
  pulsestream apikey list TENANT_ID
  pulsestream apikey revoke TENANT_ID KEY_ID
  pulsestream apikey rotate TENANT_ID KEY_ID [--grace 24h]
  pulsestream user create EMAIL [--name N] [--operator] [--owner-of TENANT_ID] [--password-stdin]
  pulsestream user list
  pulsestream user set-password USER [--password-stdin]   USER: id or email; ends the user's sessions
  pulsestream user disable USER                           ends the user's sessions
  pulsestream member add TENANT_ID USER --role owner|admin|member|viewer
  pulsestream member remove TENANT_ID USER
  pulsestream member list TENANT_ID
  pulsestream audit-log [TENANT_ID] [--limit 50]
  pulsestream backup FILE                      consistent online copy of the SQLite database
  pulsestream restore FILE                     replace the SQLite database (servers stopped)
  pulsestream bench [storage] [--database URL | --target URL --admin-token T] [--scenarios ...]
  pulsestream version

Every flag can also be set with a PULSESTREAM_* environment variable
(--database: PULSESTREAM_DATABASE_URL, --redis: PULSESTREAM_REDIS_URL,
--addr: PULSESTREAM_ADDR, ...). Run "pulsestream serve -h" for all flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runIO(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is runIO with an empty standard input.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

// runIO is main without the process: testable with any args, environment
// and standard input.
func runIO(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], getenv, stdout, stderr)
	case "tenant":
		err = tenantCmd(ctx, args[1:], getenv, stdout, stderr)
	case "apikey":
		err = apikeyCmd(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		err = userCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "member":
		err = memberCmd(ctx, args[1:], getenv, stdout, stderr)
	case "audit-log":
		err = auditLogCmd(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		err = backupCmd(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		err = restoreCmd(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "pulsestream", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}
