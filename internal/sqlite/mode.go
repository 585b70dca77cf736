package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The kinds of event store a database can be (Config.EventStore), kept in
// the setting eventStoreSetting from the database's first open on.
const (
	EventStoreRows  = "rows"
	EventStoreParts = "parts"
	// eventStoreMigrating: migrate-store has begun moving rows to parts and
	// not finished; only migrate-store opens such a database.
	eventStoreMigrating = "migrating"
	eventStoreSetting   = "event_store"
)

// ErrMigrating is returned by Open for a database that migrate-store left
// half-way.
var ErrMigrating = errors.New("sqlite: the database is being moved to the parts event store; run `pulsestream migrate-store` again to finish")

// loadEventStore settles the database's kind: the stored setting, or for a
// database without one (new, or made before the setting existed) "rows"
// when it already holds event rows and the configured kind otherwise.
func (db *DB) loadEventStore(ctx context.Context) error {
	kind, err := db.GetSetting(ctx, eventStoreSetting)
	if errors.Is(err, pulse.ErrNotFound) {
		kind = db.cfg.EventStore
		var one int
		switch err := db.write.QueryRowContext(ctx, `SELECT 1 FROM events LIMIT 1`).Scan(&one); {
		case err == nil:
			kind = EventStoreRows
		case !errors.Is(err, sql.ErrNoRows):
			return storeErr("event store kind", err)
		}
		kind, err = db.SetSettingIfAbsent(ctx, eventStoreSetting, kind)
	}
	if err != nil {
		return err
	}
	switch kind {
	case EventStoreRows:
	case EventStoreParts:
		db.parts = true
	case eventStoreMigrating:
		if !db.cfg.AllowMigrating {
			return ErrMigrating
		}
		db.parts, db.migrating = true, true
	default:
		return fmt.Errorf("sqlite: unknown event store kind %q in the settings", kind)
	}
	return nil
}

// EventStoreKind is "rows" or "parts" (or "migrating" while migrate-store
// runs).
func (db *DB) EventStoreKind() string {
	switch {
	case db.migrating:
		return eventStoreMigrating
	case db.parts:
		return EventStoreParts
	}
	return EventStoreRows
}
