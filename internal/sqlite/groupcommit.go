package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Group commit: SQLite has one writer, so concurrent InsertEvents calls are
// queued and one committer goroutine (owned by the DB: started in Open,
// stopped in Close) merges whatever is waiting — up to MaxGroupEvents
// events, waiting at most MaxGroupWait for more — into ONE transaction, then
// answers every caller. A caller is answered only after its events are
// committed; if the commit fails, every caller of that group gets the error
// and nothing of the group is kept. The queue is bounded: when it is full,
// InsertEvents fails at once with EUNAVAILABLE (503 + Retry-After) instead
// of holding unbounded memory.

type insertReq struct {
	ctx    context.Context
	tenant int64 // tenants.num
	events []*pulse.Event
	rows   [][]any // the events' column values, built by the caller, not the committer
	done   chan pulse.InsertAnswer
	state  *pulse.QueuedWrite // taken into a group, or abandoned by its caller
}

// InsertEvents implements pulse.EventStore through the group committer.
func (db *DB) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	if len(events) == 0 {
		return []pulse.InsertResult{}, nil
	}
	// Everything that can be done without the writer is done here, in the
	// caller's goroutine: the committer is the one serial step.
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, &pulse.Error{Code: pulse.ENOTFOUND, Message: "unknown tenant", ID: tenantID}
	}
	var rows [][]any // a parts database stores events as blocks, not rows
	if db.parts {
		err = checkParts(tenantID, events)
	} else {
		rows, err = eventRows(tenantID, tenant, events)
	}
	if err != nil {
		return nil, err
	}
	req := insertReq{ctx: ctx, tenant: tenant, events: events, rows: rows, done: make(chan pulse.InsertAnswer, 1), state: new(pulse.QueuedWrite)}
	select {
	case db.queue <- req:
	case <-db.closing:
		return nil, pulse.Unavailable(errClosed, time.Second)
	default:
		if db.cfg.Observer != nil {
			db.cfg.Observer.QueueFull()
		}
		return nil, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "the server is busy writing; retry shortly", RetryAfter: time.Second}
	}
	return req.state.Await(ctx, req.done, db.loopDone, errClosed)
}

// QueuedInserts is how many InsertEvents calls wait for the committer now.
func (db *DB) QueuedInserts() int { return len(db.queue) }

var errClosed = pulse.Errorf(pulse.EUNAVAILABLE, "the database is closing")

// commitLoop is the committer goroutine.
func (db *DB) commitLoop() {
	defer close(db.loopDone)
	for {
		var first insertReq
		select {
		case first = <-db.queue:
		case <-db.closing:
			db.drainClosed()
			return
		}
		group := []insertReq{first}
		n := len(first.events)
		var timer <-chan time.Time
		if db.cfg.MaxGroupWait > 0 {
			timer = time.After(db.cfg.MaxGroupWait)
		}
	collect:
		for n < db.cfg.MaxGroupEvents {
			select {
			case r := <-db.queue:
				group = append(group, r)
				n += len(r.events)
			default:
				if timer == nil {
					break collect
				}
				select {
				case r := <-db.queue:
					group = append(group, r)
					n += len(r.events)
				case <-timer:
					break collect
				}
			}
		}
		db.taken.Add(int64(len(group))) // the group is closed: nothing more joins it
		db.commitGroup(group)
	}
}

// commitGroup runs one transaction for the whole group. A request its
// caller abandoned is left out; one whose context already ended is answered
// with its error and left out.
func (db *DB) commitGroup(group []insertReq) {
	live := group[:0:0]
	for _, r := range group {
		if !r.state.Take() {
			continue // abandoned: its caller has its answer
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- pulse.InsertAnswer{Err: pulse.Unavailable(err, time.Second)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), db.cfg.GroupTimeout)
	defer cancel()
	began := time.Now()
	var results [][]pulse.InsertResult
	err := db.inTx(ctx, "insert events", func(tx *sql.Tx) error {
		var err error
		results, err = db.insertGroup(ctx, tx, live)
		return err
	})
	n := 0
	for _, r := range live {
		n += len(r.events)
	}
	if err == nil {
		db.noteCommitted(n)
		if db.parts {
			db.noteBlocksWritten()
		}
	}
	if db.cfg.Observer != nil {
		db.cfg.Observer.GroupCommitted(pulse.GroupCommit{Requests: len(live), Events: n,
			Duration: time.Since(began), Failed: err != nil})
	}
	for i, r := range live {
		if err != nil {
			r.done <- pulse.InsertAnswer{Err: err}
		} else {
			r.done <- pulse.InsertAnswer{Results: results[i]}
		}
	}
}

func (db *DB) drainClosed() {
	for {
		select {
		case r := <-db.queue:
			r.done <- pulse.InsertAnswer{Err: pulse.Unavailable(errClosed, time.Second)}
		default:
			return
		}
	}
}
