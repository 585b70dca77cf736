package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

const day = 24 * time.Hour

// partitionsAhead is how many days after today Maintain prepares, so that
// inserts normally find their partition already there.
const partitionsAhead = 3

// partitionLockSQL keys the advisory lock under which partitions of the
// current schema are created or dropped by any node.
const partitionLockSQL = "SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '.pulsestream_partitions'))"

// dayOf is the UTC day holding t, as days since the Unix epoch.
func dayOf(t time.Time) int64 {
	return t.UTC().Truncate(day).Unix() / int64(day/time.Second)
}

func dayStart(d int64) time.Time { return time.Unix(d*int64(day/time.Second), 0).UTC() }

func partitionName(d int64) string { return "events_p" + dayStart(d).Format("20060102") }

// ensurePartitions makes sure the daily partitions holding times exist.
// Known days are cached; the others are checked and created in their own
// short transaction (creating a partition locks the parent table, which
// must not be held for the length of an insert) under an advisory lock, so
// nodes creating the same day do not race.
// It runs on conn, which is the pool or, in Maintain, the connection that
// holds the maintenance lock (so that a pool of one does not deadlock).
func (db *DB) ensurePartitions(ctx context.Context, conn beginner, times []time.Time) error {
	var days []int64
	db.mu.Lock()
	for _, t := range times {
		if d := dayOf(t); !db.parts[d] && !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	db.mu.Unlock()
	if len(days) == 0 {
		return nil
	}
	slices.Sort(days)
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = partitionName(d)
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, partitionLockSQL); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i FROM unnest($1::text[]) WITH ORDINALITY AS u(name, i) WHERE to_regclass(name) IS NULL`, names)
		if err != nil {
			return err
		}
		missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, i := range missing {
			d := days[i-1]
			// The name and bounds are formatted from a day number, never
			// from user input.
			sql := "CREATE TABLE IF NOT EXISTS " + partitionName(d) + " PARTITION OF events FOR VALUES FROM ('" +
				dayStart(d).Format(time.RFC3339) + "') TO ('" + dayStart(d+1).Format(time.RFC3339) + "')" +
				// A day's partition grows from empty to millions of rows: let
				// autovacuum re-analyze it after every 20,000 new rows instead
				// of the default 10 %, so the planner keeps choosing ordered
				// index scans for newest-first searches.
				" WITH (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 20000)"
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			db.log.Info("created events partition", "partition", partitionName(d))
		}
		return nil
	})
	if err != nil {
		return dbError("create partitions", err)
	}
	db.mu.Lock()
	for _, d := range days {
		db.parts[d] = true
	}
	db.mu.Unlock()
	return nil
}

// beginner is a pool or a connection.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// forgetPartitions drops days from the cache, after another node dropped
// their partitions or this one did.
func (db *DB) forgetPartitions(days ...int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if days == nil {
		clear(db.parts)
	}
	for _, d := range days {
		delete(db.parts, d)
	}
}
