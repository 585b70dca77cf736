package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"

	"github.com/pulsestream/pulsestream/internal/colblock"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// migrate-store (docs/STORAGE.md, "Parts store: retention, erasure,
// migrate-store"): a rows database's events move into blocks, chunk by
// chunk, each chunk one transaction, so that a run that is killed or fails
// leaves every event in exactly one of the two places and a new run goes
// on from there. What the database held at the start (count, keys and a
// digest of every event) is recorded first and checked against the blocks
// at the end, before the database becomes a parts database.

// migrateChunk is the events moved per transaction.
const migrateChunk = 10_000

// The settings migrate-store keeps while it runs.
const (
	migrateEventsSetting = "migrate_store_events"
	migrateKeysSetting   = "migrate_store_keys"
	migrateDigestSetting = "migrate_store_digest"
)

// ErrAlreadyParts: migrate-store on a database that is parts already.
var ErrAlreadyParts = errors.New("the database already keeps its events in the parts store; nothing to migrate")

// MigrateToParts moves every event of a rows database (opened with
// AllowMigrating) into the parts store and, once the blocks hold exactly
// what the rows held (count, keys, digest), makes it a parts database.
// progress, if not nil, is told after each chunk how many events of the
// total are in blocks. It may be stopped at any point (ctx, a crash) and
// called again on the reopened database to finish. A failed verification
// leaves the database "migrating" and returns an error saying so. Servers
// must be stopped: it refuses a database another process has open.
func (db *DB) MigrateToParts(ctx context.Context, progress func(done, total int64)) error {
	return db.migrateToParts(ctx, migrateChunk, progress)
}

// migrateToParts is MigrateToParts with chunk events per transaction.
func (db *DB) migrateToParts(ctx context.Context, chunk int, progress func(done, total int64)) error {
	if db.parts && !db.migrating {
		return ErrAlreadyParts
	}
	if busy, err := inUse(db.path); err != nil {
		return fmt.Errorf("migrate-store: check whether %s is in use: %w", db.path, err)
	} else if busy {
		return fmt.Errorf("migrate-store: %s is open in another process; stop every pulsestream server using it first", db.path)
	}
	if !db.migrating {
		if err := db.beginMigration(ctx); err != nil {
			return err
		}
	}
	want, err := db.migrationRecord(ctx)
	if err != nil {
		return err
	}
	var done int64
	if err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(count), 0) FROM event_blocks`).Scan(&done); err != nil {
		return storeErr("migrate-store: count moved events", err)
	}
	for {
		n, err := db.moveChunk(ctx, chunk)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		done += int64(n)
		if progress != nil {
			progress(done, want.events)
		}
	}
	got, err := db.blocksDigest(ctx)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("migrate-store: verification failed: the database held %d events (%d external ids, digest %x) and the blocks hold %d (%d, digest %x); it stays %q, servers refuse it: restore the backup taken before the migration",
			want.events, want.keys, want.digest, got.events, got.keys, got.digest, eventStoreMigrating)
	}
	err = db.inTx(ctx, "migrate-store: finish", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE key IN (?, ?, ?)`,
			migrateEventsSetting, migrateKeysSetting, migrateDigestSetting); err != nil {
			return storeErr("migrate-store: finish", err)
		}
		return setSetting(ctx, tx, eventStoreSetting, EventStoreParts)
	})
	if err != nil {
		return err
	}
	db.parts, db.migrating = true, false
	return nil
}

// storeSummary is what migrate-store checks: the events, the external ids
// (of the events at the start, rows of event_keys at the end) and the sum
// of the events' digests (eventDigest), which no order of moving changes.
type storeSummary struct {
	events, keys int64
	digest       uint64
}

func (s *storeSummary) add(tenant int64, e *pulse.Event) {
	s.events++
	s.digest += eventDigest(tenant, e)
}

// beginMigration records the summary of the rows and marks the database
// migrating, in one transaction.
func (db *DB) beginMigration(ctx context.Context) error {
	return db.inTx(ctx, "migrate-store: begin", func(tx *sql.Tx) error {
		var sum storeSummary
		err := eachRow(ctx, tx, `SELECT e.seq, e.tenant, `+selectColumns+` FROM events AS e`, func(_, tenant int64, e *pulse.Event) {
			sum.add(tenant, e)
			if e.ExternalID != "" {
				sum.keys++
			}
		})
		if err != nil {
			return err
		}
		for key, v := range map[string]string{
			migrateEventsSetting: strconv.FormatInt(sum.events, 10),
			migrateKeysSetting:   strconv.FormatInt(sum.keys, 10),
			migrateDigestSetting: strconv.FormatUint(sum.digest, 10),
			eventStoreSetting:    eventStoreMigrating,
		} {
			if err := setSetting(ctx, tx, key, v); err != nil {
				return err
			}
		}
		db.parts, db.migrating = true, true
		return nil
	})
}

// migrationRecord reads what beginMigration recorded.
func (db *DB) migrationRecord(ctx context.Context) (storeSummary, error) {
	var s storeSummary
	var errs []error
	for key, p := range map[string]*int64{migrateEventsSetting: &s.events, migrateKeysSetting: &s.keys} {
		v, err := db.GetSetting(ctx, key)
		if err == nil {
			*p, err = strconv.ParseInt(v, 10, 64)
		}
		errs = append(errs, err)
	}
	v, err := db.GetSetting(ctx, migrateDigestSetting)
	if err == nil {
		s.digest, err = strconv.ParseUint(v, 10, 64)
	}
	if err := errors.Join(append(errs, err)...); err != nil {
		return s, fmt.Errorf("migrate-store: the record of the migration's start is missing or damaged (restore the backup taken before it): %w", err)
	}
	return s, nil
}

// moveChunk moves the first chunk events (by seq) into blocks,
// one per tenant, with their keys, and deletes their rows (and tag rows,
// by trigger), in one transaction. It returns how many it moved.
func (db *DB) moveChunk(ctx context.Context, chunk int) (int, error) {
	n := 0
	err := db.inTx(ctx, "migrate-store: move events", func(tx *sql.Tx) error {
		byTenant := map[int64][]*pulse.Event{}
		var last int64
		err := eachRow(ctx, tx, `SELECT e.seq, e.tenant, `+selectColumns+` FROM events AS e ORDER BY e.seq LIMIT ?`,
			func(seq, tenant int64, e *pulse.Event) {
				byTenant[tenant] = append(byTenant[tenant], e)
				last = seq
				n++
			}, chunk)
		if err != nil || n == 0 {
			return err
		}
		key, err := tx.PrepareContext(ctx, `INSERT INTO event_keys (tenant, external_id, id, content_hash, ts) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return storeErr("migrate-store: keys", err)
		}
		defer key.Close()
		for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
			events := byTenant[tenant]
			if _, err := writeBlocks(ctx, tx, tenant, 1, events); err != nil {
				return err
			}
			for _, e := range events {
				if e.ExternalID == "" {
					continue
				}
				if _, err := key.ExecContext(ctx, tenant, e.ExternalID, e.ID, e.ContentHash, micros(e.Timestamp)); err != nil {
					return storeErr("migrate-store: keys", err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, last); err != nil {
			return storeErr("migrate-store: delete moved rows", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// eachRow runs query (selecting seq, tenant, then selectColumns) in tx
// and calls fn with each event.
func eachRow(ctx context.Context, tx *sql.Tx, query string, fn func(seq, tenant int64, e *pulse.Event), args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return storeErr("migrate-store: read events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, tenant int64
		e, err := scanEventRow(prefixScanner{rows, []any{&seq, &tenant}}, "")
		if err != nil {
			return storeErr("migrate-store: read events", err)
		}
		fn(seq, tenant, e)
	}
	if err := rows.Err(); err != nil {
		return storeErr("migrate-store: read events", err)
	}
	return nil
}

// prefixScanner scans pre before the columns its caller asks for.
type prefixScanner struct {
	row scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.row.Scan(append(slices.Clone(p.pre), dest...)...)
}

// blocksDigest summarises the blocks' events and event_keys.
func (db *DB) blocksDigest(ctx context.Context) (storeSummary, error) {
	var s storeSummary
	rows, err := db.read.QueryContext(ctx, `SELECT seq, tenant, data FROM event_blocks`)
	if err != nil {
		return s, storeErr("migrate-store: verify", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, tenant int64
		var data []byte
		if err := rows.Scan(&seq, &tenant, &data); err != nil {
			return s, storeErr("migrate-store: verify", err)
		}
		events, err := colblock.Decode(data, "")
		if err != nil {
			return s, fmt.Errorf("migrate-store: verify: block %d: %w", seq, err)
		}
		for _, e := range events {
			s.add(tenant, e)
		}
	}
	if err := rows.Err(); err != nil {
		return s, storeErr("migrate-store: verify", err)
	}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM event_keys`).Scan(&s.keys); err != nil {
		return s, storeErr("migrate-store: verify", err)
	}
	return s, nil
}

// eventDigest is a 64-bit hash of everything stored of an event of tenant
// (tags in key order; an empty map is the same as none, and so are an
// empty payload and a JSON null one, which ingest never stores).
func eventDigest(tenant int64, e *pulse.Event) uint64 {
	h := fnv.New64a()
	sep := []byte{0}
	for _, s := range []string{strconv.FormatInt(tenant, 10), e.ID, e.ExternalID, e.EventType, string(e.Severity),
		e.Service, e.Endpoint, strconv.Itoa(e.StatusCode), e.UserID, e.Message,
		strconv.FormatInt(micros(e.Timestamp), 10), strconv.FormatInt(micros(e.ReceivedAt), 10), e.ContentHash} {
		h.Write([]byte(s))
		h.Write(sep)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Tags)) {
		h.Write([]byte(k))
		h.Write(sep)
		h.Write([]byte(e.Tags[k]))
		h.Write(sep)
	}
	if string(e.Payload) != "null" {
		h.Write(e.Payload)
	}
	return h.Sum64()
}

// setSetting stores key = value inside tx.
func setSetting(ctx context.Context, tx *sql.Tx, key, value string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return storeErr("set setting", err)
	}
	return nil
}
