package pulse

import "time"

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
