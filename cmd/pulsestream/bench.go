package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/bench"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/postgres"
)

// benchSetup builds `pulsestream bench [storage] [flags]`.
func benchSetup(storage bool) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		var (
			target, admin, database, scenarios, jsonOut, serveArgs, eventStore string
			o                                                                  bench.HTTPOptions
			storageEvents, storageClients, searchEvents, searchQueries         int
			searchSpan                                                         time.Duration
		)
		fs.StringVar(&database, "database", "", "database of the started server / of bench storage (default: a new SQLite file in a temp folder; on PostgreSQL the run uses a schema of its own, dropped at the end)")
		fs.IntVar(&o.BatchSize, "batch-size", 100, "events per batch request (and per InsertEvents in bench storage)")
		fs.StringVar(&jsonOut, "json", "", "also write the results as JSON to this file")
		if storage {
			fs.IntVar(&storageEvents, "storage-events", 1_000_000, "rows written")
			fs.IntVar(&storageClients, "storage-clients", 8, "concurrent writers")
			fs.IntVar(&searchEvents, "search-events", 0, "instead of the write test: fill a tenant with this many events spread over --search-span, then time filtered and q= searches on the store (0: off)")
			fs.DurationVar(&searchSpan, "search-span", 7*24*time.Hour, "time span of the --search-events timestamps, ending now")
			fs.IntVar(&searchQueries, "search-queries", 200, "runs of each query after --search-events")
			fs.StringVar(&eventStore, "event-store", "rows", "how a new SQLite database keeps events: rows or parts (an existing --database keeps its kind)")
		} else {
			fs.StringVar(&target, "target", "", "URL of a running server (empty: start one as a child process)")
			fs.StringVar(&admin, "admin-token", "", "admin token of --target (to create the bench tenant)")
			fs.StringVar(&scenarios, "scenarios", "ingest-batch,ingest-single,ingest-dup,search", "comma-separated scenarios (also: ingest-otlp, ingest-bulk, searchable)")
			fs.StringVar(&serveArgs, "serve-args", "", "extra flags for the started server, space-separated (e.g. \"--ingest-log nats://127.0.0.1:4222 --max-payload-bytes 900000\")")
			fs.IntVar(&o.SearchableProbes, "searchable-probes", 300, "events sent one at a time by searchable, each polled by search until found")
			fs.Float64Var(&o.SearchableRate, "searchable-rate", 0, "background events/s during searchable (batches of --batch-size from --batch-clients; 0: none)")
			fs.IntVar(&o.BatchEvents, "batch-events", 1_000_000, "events in ingest-batch, ingest-dup, ingest-otlp and ingest-bulk")
			fs.IntVar(&o.BatchClients, "batch-clients", 8, "concurrent clients for batches")
			fs.IntVar(&o.SingleEvents, "single-events", 200_000, "events in ingest-single")
			fs.IntVar(&o.SingleClients, "single-clients", 50, "concurrent clients for single events")
			fs.IntVar(&o.SearchQueries, "search-queries", 2000, "queries in search")
			fs.BoolVar(&o.NetHTTP, "net-http-client", false, "send ingest requests through Go's net/http client (default: one lean HTTP/1.1 connection per client, which costs the generator less CPU)")
		}
		return func(e *env, _ config.Config, pos []string) error {
			if err := wantArgs("bench", pos, 0); err != nil {
				return err
			}
			ctx, stderr := e.ctx, e.stderr
			if database == "" {
				dir, err := os.MkdirTemp("", "pulsestream-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				database = "sqlite://" + filepath.Join(dir, "bench.db")
			} else if strings.HasPrefix(database, "postgres") && target == "" {
				// A shared PostgreSQL keeps nothing of the run: its tables,
				// tenant, events and queue live in a schema dropped at the end.
				schema := fmt.Sprintf("pulsestream_bench_%d", time.Now().UnixNano())
				url, drop, err := postgres.TempSchema(ctx, database, schema)
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "bench: working in PostgreSQL schema %s (dropped at the end)\n", schema)
				defer func() {
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
					defer cancel()
					if err := drop(dctx); err != nil {
						fmt.Fprintf(stderr, "warning: the bench schema was not dropped: %v\n", err)
					}
				}()
				database = url
			}
			o.Backend = strings.SplitN(database, ":", 2)[0]
			if target != "" {
				o.Backend = "remote"
			}
			var results []bench.Result
			if storage {
				cfg := config.Default()
				cfg.DatabaseURL, cfg.EventStore = database, eventStore
				if err := cfg.Validate(); err != nil {
					return err
				}
				s, err := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
				if err != nil {
					return err
				}
				defer s.Close()
				if k, ok := s.(interface{ EventStoreKind() string }); ok && k.EventStoreKind() != "rows" {
					o.Backend += "-" + k.EventStoreKind() // sqlite-parts
				}
				if searchEvents > 0 {
					fmt.Fprintf(stderr, "bench storage: filling %d events over %v, then %d runs of each search, on %s\n", searchEvents, searchSpan, searchQueries, o.Backend)
					rs, err := bench.SearchStore(ctx, s, o.Backend, bench.SearchOptions{Events: searchEvents, Span: searchSpan,
						Batch: o.BatchSize, Clients: storageClients, Queries: searchQueries, Log: stderr})
					if err != nil {
						return err
					}
					results = append(results, rs...)
				} else {
					fmt.Fprintf(stderr, "bench storage: %d rows, %d per transaction, %d writers on %s\n", storageEvents, o.BatchSize, storageClients, o.Backend)
					r, err := bench.Storage(ctx, s, o.Backend, storageEvents, o.BatchSize, storageClients)
					if err != nil {
						return err
					}
					results = append(results, r)
				}
			} else {
				if target == "" {
					admin = pulseTokenForBench()
					srv, err := startChild(ctx, database, admin, strings.Fields(serveArgs), stderr)
					if err != nil {
						return err
					}
					defer srv.stop()
					target, o.ServerPID = srv.url, srv.cmd.Process.Pid
				}
				o.Target, o.AdminToken, o.Log = strings.TrimRight(target, "/"), admin, stderr
				r, err := bench.NewRunner(ctx, o)
				if err != nil {
					return err
				}
				for _, sc := range strings.Split(scenarios, ",") {
					sc = strings.TrimSpace(sc)
					p := newProgress(stderr, sc, "events", 0)
					r.SetProgress(p.updateOf)
					res, err := r.Run(ctx, sc)
					if err != nil {
						return err
					}
					p.finish(int64(res.Events))
					results = append(results, res)
				}
			}
			bench.PrintTable(e.stdout, results)
			if jsonOut != "" {
				data, _ := json.MarshalIndent(map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "results": results}, "", "  ")
				if err := os.WriteFile(jsonOut, data, 0o644); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

func pulseTokenForBench() string { return fmt.Sprintf("bench-admin-%d", time.Now().UnixNano()) }

type child struct {
	cmd *exec.Cmd
	url string
}

// startChild starts this binary as `serve` on a free port and waits for it.
func startChild(ctx context.Context, database, admin string, extra []string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, append([]string{"serve", "--addr", addr, "--database", database, "--log-level", "warn"}, extra...)...)
	cmd.Env = append(os.Environ(), "PULSESTREAM_ADMIN_TOKEN="+admin)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("the bench server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
