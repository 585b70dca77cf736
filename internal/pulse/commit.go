package pulse

import (
	"context"
	"sync/atomic"
	"time"
)

// CommitObserver is told about a store's group commits (both stores merge
// concurrent InsertEvents calls into one transaction), so that operators
// can see group sizes, commit latency and back-pressure as metrics. Stores
// call it from their committer goroutines: it must be cheap and safe for
// concurrent use. A nil CommitObserver in a store's config observes nothing.
type CommitObserver interface {
	// GroupCommitted is called once per group, after it committed or
	// failed and before its callers are answered.
	GroupCommitted(GroupCommit)
	// QueueFull is called each time a request is refused (503) because the
	// commit queue is full.
	QueueFull()
}

// GroupCommit describes one group transaction.
type GroupCommit struct {
	Requests int           // InsertEvents calls merged into the group
	Events   int           // their events: new and duplicate alike
	Duration time.Duration // storing the group: every transaction attempt, to COMMIT or the failure
	Failed   bool          // the group failed; every caller got the error
}

// CommitQueue is implemented by a store with a commit queue: how many
// InsertEvents calls wait for a committer now (a gauge read when scraped).
type CommitQueue interface {
	QueuedInserts() int
}

// QueuedWrite is the fate of one request in a store's commit queue, decided
// once: a committer takes it into a group, or its caller abandons it when
// its context ends first. A caller whose request was taken must wait for the
// group's outcome (the group may be committing it); an abandoned request is
// never stored, so its caller can answer at once. The zero value is queued.
type QueuedWrite struct{ state atomic.Int32 }

const (
	writeQueued int32 = iota
	writeTaken
	writeAbandoned
)

// Take is the committer's claim; false means the caller abandoned the
// request and it must be left out of the group.
func (w *QueuedWrite) Take() bool { return w.state.CompareAndSwap(writeQueued, writeTaken) }

// Abandon is the caller's claim; false means a committer took the request
// first and the caller must wait for its outcome.
func (w *QueuedWrite) Abandon() bool { return w.state.CompareAndSwap(writeQueued, writeAbandoned) }

// InsertAnswer is a committer's answer to one queued InsertEvents call.
type InsertAnswer struct {
	Results []InsertResult
	Err     error
}

// Await is the caller's side of a queued write: it waits for the answer.
// When ctx ends while the request is still queued it answers EUNAVAILABLE
// at once (nothing of it will be stored). Once a committer has taken it,
// it waits for the answer even after ctx ends: the group may be committing
// this request, and the caller must learn the truth. When the committer
// has stopped (stopped closed) and nobody is left to answer, closed is the
// answer.
func (w *QueuedWrite) Await(ctx context.Context, answer <-chan InsertAnswer, stopped <-chan struct{}, closed error) ([]InsertResult, error) {
	select {
	case a := <-answer:
		return a.Results, a.Err
	case <-ctx.Done():
		if w.Abandon() {
			return nil, Unavailable(ctx.Err(), time.Second)
		}
	case <-stopped:
	}
	select {
	case a := <-answer:
		return a.Results, a.Err
	case <-stopped:
		select {
		case a := <-answer:
			return a.Results, a.Err
		default:
			return nil, Unavailable(closed, time.Second)
		}
	}
}
