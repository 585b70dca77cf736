package sqlite

import (
	"context"
	"database/sql"
)

// Background checkpoints. In WAL mode a commit appends pages to the WAL and
// a checkpoint copies them into the database file. SQLite runs the
// checkpoint inside the commit that crosses wal_autocheckpoint, so one
// request in a few hundred waited for megabytes of copying and two fsyncs.
// Here a second connection, owned by the DB (started in Open, stopped in
// Close after the committer), runs PASSIVE checkpoints — which never block
// the writer or readers — each time the committer has written
// CheckpointEvents events since the last one. The writer's own
// autocheckpoint stays as the backstop and then finds little left to copy.

// checkpointLoop is the checkpointer goroutine.
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	for {
		select {
		case <-db.ckptWake:
		case <-db.loopDone: // the committer has stopped: no more writes
			return
		}
		// A failure (the file is busy or gone) is not an error of any
		// request: the next wake, or the writer's autocheckpoint, retries.
		// PASSIVE never waits for a lock, so no deadline is needed; without
		// a cancellable context the driver also runs it on this goroutine.
		if _, err := db.ckpt.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
			db.ckptRuns.Add(1)
		}
	}
}

// noteCommitted is called by the committer after each commit of n events;
// it wakes the checkpointer (without waiting) every CheckpointEvents events.
func (db *DB) noteCommitted(n int) {
	db.sinceCkpt += n
	if db.sinceCkpt < db.cfg.CheckpointEvents {
		return
	}
	select {
	case db.ckptWake <- struct{}{}:
		db.sinceCkpt = 0
	default: // a checkpoint is running; wake it again after the next commit
	}
}

// openCheckpointer opens the checkpointer's connection.
func (db *DB) openCheckpointer(ctx context.Context) error {
	db.ckpt = sql.OpenDB(newConnector(db.path, db.cfg, true))
	db.ckpt.SetMaxOpenConns(1)
	db.ckpt.SetMaxIdleConns(1)
	db.ckpt.SetConnMaxIdleTime(0)
	return db.ckpt.PingContext(ctx)
}
