package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Group commit. Every transaction costs round trips and a WAL flush at
// COMMIT however few rows it holds, so concurrent InsertEvents calls are
// queued and a few writer goroutines (owned by the DB: started in Open,
// stopped in Close) each take whatever is waiting — up to maxGroupEvents
// events — and store it in ONE transaction of a fixed number of statements
// (insertEvents), then answer every caller. A caller is answered only after
// its events are committed (or the lost COMMIT is settled); if the group
// fails, every caller of the group gets the error and nothing of the group
// is kept — unless the error is EUNKNOWN (a COMMIT whose answer was lost
// and that could not be re-checked), which every caller of the group gets. The queue is bounded: when it is full, InsertEvents fails at once
// with EUNAVAILABLE (503 + Retry-After) instead of holding unbounded memory.

const (
	maxGroupEvents    = 5000
	maxQueuedRequests = 1024
	groupTimeout      = 10 * time.Second // when no caller has a deadline
)

type insertReq struct {
	ctx      context.Context
	tenantID string
	events   []*pulse.Event
	done     chan pulse.InsertAnswer
	state    *pulse.QueuedWrite // taken into a group, or abandoned by its caller
}

type committer struct {
	db      *DB
	obs     pulse.CommitObserver // nil: none
	queue   chan insertReq
	closing chan struct{}
	stopped chan struct{} // closed when every writer has returned
	once    sync.Once
}

func startCommitter(db *DB, writers int, obs pulse.CommitObserver) *committer {
	c := &committer{db: db, obs: obs, queue: make(chan insertReq, maxQueuedRequests),
		closing: make(chan struct{}), stopped: make(chan struct{})}
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.write()
		}()
	}
	go func() {
		wg.Wait()
		close(c.stopped)
	}()
	return c
}

// QueuedInserts is how many InsertEvents calls wait for a writer now.
func (db *DB) QueuedInserts() int { return len(db.commits.queue) }

var errClosed = pulse.Errorf(pulse.EUNAVAILABLE, "the database is closing")

// submit queues req and waits for its answer. When ctx ends while req is
// still queued, it answers EUNAVAILABLE at once (the writers may all be
// stuck on an unreachable database; nothing of req will be stored). Once a
// writer has taken req it waits for the answer even after ctx ends: the
// group may be committing req, and the caller must learn the truth.
func (c *committer) submit(ctx context.Context, req insertReq) ([]pulse.InsertResult, error) {
	req.done = make(chan pulse.InsertAnswer, 1)
	req.state = new(pulse.QueuedWrite)
	select {
	case c.queue <- req:
	case <-c.closing:
		return nil, pulse.Unavailable(errClosed, time.Second)
	default:
		if c.obs != nil {
			c.obs.QueueFull()
		}
		return nil, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "the server is busy writing; retry shortly", RetryAfter: time.Second}
	}
	return req.state.Await(ctx, req.done, c.stopped, errClosed)
}

// close stops the writers: a group being committed finishes, queued
// requests are refused with EUNAVAILABLE.
func (c *committer) close() {
	c.once.Do(func() { close(c.closing) })
	<-c.stopped
}

// write is one writer goroutine.
func (c *committer) write() {
	for {
		var first insertReq
		select {
		case first = <-c.queue:
		case <-c.closing:
			for {
				select {
				case r := <-c.queue:
					r.done <- pulse.InsertAnswer{Err: pulse.Unavailable(errClosed, time.Second)}
				default:
					return
				}
			}
		}
		group := []insertReq{first}
		n := len(first.events)
	collect:
		for n < maxGroupEvents {
			select {
			case r := <-c.queue:
				group = append(group, r)
				n += len(r.events)
			default:
				break collect
			}
		}
		c.commit(group)
	}
}

// commit stores one group. A request its caller abandoned is left out; one
// whose context already ended is answered with its error and left out; the
// group's statements run until the earliest deadline of the rest.
func (c *committer) commit(group []insertReq) {
	live := group[:0:0]
	var deadline time.Time
	for _, r := range group {
		if !r.state.Take() {
			continue // abandoned: its caller has its answer
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- pulse.InsertAnswer{Err: pulse.Unavailable(err, retryAfter)}
			continue
		}
		if d, ok := r.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(groupTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	began := time.Now()
	results, err := c.db.insertGroup(ctx, live)
	if c.obs != nil {
		n := 0
		for _, r := range live {
			n += len(r.events)
		}
		c.obs.GroupCommitted(pulse.GroupCommit{Requests: len(live), Events: n,
			Duration: time.Since(began), Failed: err != nil})
	}
	for i, r := range live {
		if err != nil {
			r.done <- pulse.InsertAnswer{Err: err}
			continue
		}
		c.db.noteInserted(r.events, results[i])
		r.done <- pulse.InsertAnswer{Results: results[i]}
	}
}
