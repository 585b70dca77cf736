package main

import (
	"flag"
	"fmt"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
)

// migrateStoreSetup: `migrate-store` moves a rows SQLite database's events
// into the parts store (docs/STORAGE.md), in resumable chunks, verifies
// the result and only then switches the database to parts. Servers must be
// stopped; a run that is interrupted is finished by running it again.
func migrateStoreSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("migrate-store", pos, 0); err != nil {
			return err
		}
		if err := sqliteExists(cfg.DatabaseURL); err != nil {
			return err
		}
		p := newProgress(e.stderr, "migrate-store", "events", 0)
		var moved int64
		err := app.MigrateStore(e.ctx, cfg, func(done, total int64) {
			moved = done
			p.updateOf(done, total)
		})
		if err != nil {
			return err
		}
		p.finish(moved)
		fmt.Fprintf(e.stdout, "%s now keeps its events in the parts store: every event was moved and verified (count, external ids, digest)\n", redactURL(cfg.DatabaseURL))
		return nil
	}
}
