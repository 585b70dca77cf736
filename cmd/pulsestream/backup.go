package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// backupCmd writes a consistent online copy of the SQLite database to FILE;
// the server may keep running and writing meanwhile.
func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, pos, err := dbArgs("backup", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("backup needs exactly one FILE")
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return fmt.Errorf("backup copies SQLite databases; for PostgreSQL use pg_dump or PITR (docs/RUNBOOK.md)")
	}
	s, err := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer s.Close()
	db, ok := s.(*sqlite.DB)
	if !ok {
		return fmt.Errorf("backup: not a SQLite store")
	}
	if err := db.Backup(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s (consistent as of its start)\n", pos[0])
	return nil
}

// restoreCmd replaces the SQLite database with FILE; every server using the
// database must be stopped first (it refuses otherwise).
func restoreCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, pos, err := dbArgs("restore", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("restore needs exactly one FILE")
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return fmt.Errorf("restore works on SQLite; for PostgreSQL use pg_restore or PITR (docs/RUNBOOK.md)")
	}
	replaced, err := sqlite.Restore(ctx, pos[0], cfg.DatabaseURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", pos[0], redactURL(cfg.DatabaseURL))
	if replaced != "" {
		fmt.Fprintf(stdout, "the previous database was kept as %s\n", replaced)
	}
	return nil
}

// dbArgs parses a database-only subcommand whose flags may follow its
// positional arguments.
func dbArgs(name string, args []string, getenv func(string) string, stderr io.Writer) (config.Config, []string, error) {
	probe := flag.NewFlagSet(name, flag.ContinueOnError)
	probe.String("database", "", "")
	probe.String("sqlite-synchronous", "", "")
	flags, pos := interleaved(probe, args)
	cfg, _, err := dbFlags(name, flags, getenv, stderr, nil)
	return cfg, pos, err
}
