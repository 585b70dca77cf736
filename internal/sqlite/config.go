package sqlite

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Config tunes the database. The zero value is usable: Open applies
// WithDefaults.
type Config struct {
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (the default)
	// never loses a committed transaction when the process crashes in WAL
	// mode, but may lose the last ones on power loss; "FULL" survives
	// power loss at the cost of an fsync per commit; "EXTRA" is stricter.
	Synchronous string
	// EventStore is how a NEW database keeps events: "rows" (a row per
	// event with its indexes, the default) or "parts" (immutable columnar
	// blocks, docs/STORAGE.md). A database keeps the kind it was created
	// with (the setting event_store); `pulsestream migrate-store` moves a
	// rows database to parts.
	EventStore string
	// AllowMigrating opens a database that migrate-store left half-way
	// (only migrate-store itself sets it).
	AllowMigrating bool
	// CacheSizeKiB is the page cache of the writer connection; each reader
	// gets an eighth of it (reads go through the memory map and the OS page
	// cache, so a large per-reader cache only multiplies RSS), at least
	// 1 MiB. Default 64 MiB.
	CacheSizeKiB int
	// MmapSizeBytes is how much of the file each connection maps into
	// memory for reads. Default 256 MiB.
	MmapSizeBytes int64
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with EUNAVAILABLE. Default 5s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// WALCheckpointPages is the WAL size (in 4 KiB pages) that triggers a
	// checkpoint into the main file. Default 10,000 (~40 MiB): measured
	// 23 % more rows/s than SQLite's default of 1,000 on the insert path
	// (`bench storage`, 300,000 rows: 9,741 vs 7,914), because pages that
	// change again soon are copied to the main file less often.
	WALCheckpointPages int
	// CheckpointEvents is how many committed events wake the background
	// checkpointer (checkpoint.go), which copies the WAL into the database
	// file on its own connection. Default 2,000.
	CheckpointEvents int

	// Group commit (see groupcommit.go). MaxGroupEvents caps the events of
	// one merged transaction (default 5000); MaxGroupWait is how long the
	// committer waits for more requests before committing (default 0:
	// merge only what is already queued, adding no latency);
	// MaxQueuedRequests bounds the queue (default 1024; beyond it, 503);
	// GroupTimeout bounds one transaction (default 10s).
	MaxGroupEvents    int
	MaxGroupWait      time.Duration
	MaxQueuedRequests int
	GroupTimeout      time.Duration
	// Logger receives what Open has to tell an operator (such as database
	// files it made private). Default: discard.
	Logger *slog.Logger
	// Observer, when set, is told about every group commit and every
	// request refused because the queue is full (metrics).
	Observer pulse.CommitObserver

	// mergeFault, when set (tests only), runs inside each merge transaction
	// between writing the merged block and deleting its sources; an error
	// fails the merge there (parts_merge.go).
	mergeFault func() error
	// mergePlanned, when set (tests only), runs after a merge read its
	// sources and before its write transaction (parts_merge.go).
	mergePlanned func()
	// noMerger (tests only) starts no merger goroutine; MergeNow still merges.
	noMerger bool
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.EventStore == "" {
		c.EventStore = EventStoreRows
	}
	if c.Synchronous == "" {
		c.Synchronous = "NORMAL"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CacheSizeKiB == 0 {
		c.CacheSizeKiB = 64 << 10
	}
	if c.MmapSizeBytes == 0 {
		c.MmapSizeBytes = 256 << 20
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.ReadConns == 0 {
		c.ReadConns = 4
	}
	if c.WALCheckpointPages == 0 {
		c.WALCheckpointPages = 10_000
	}
	if c.CheckpointEvents == 0 {
		c.CheckpointEvents = 2000
	}
	if c.MaxGroupEvents == 0 {
		c.MaxGroupEvents = 5000
	}
	if c.MaxQueuedRequests == 0 {
		c.MaxQueuedRequests = 1024
	}
	if c.GroupTimeout == 0 {
		c.GroupTimeout = 10 * time.Second
	}
	return c
}

func (c Config) validate() error {
	if c.EventStore != EventStoreRows && c.EventStore != EventStoreParts {
		return fmt.Errorf("sqlite: event store must be %q or %q, not %q", EventStoreRows, EventStoreParts, c.EventStore)
	}
	switch c.Synchronous {
	case "NORMAL", "FULL", "EXTRA":
	default:
		return fmt.Errorf("sqlite: synchronous must be NORMAL, FULL or EXTRA, not %q", c.Synchronous)
	}
	switch {
	case c.CacheSizeKiB < 0:
		return fmt.Errorf("sqlite: cache size must not be negative")
	case c.MmapSizeBytes < 0:
		return fmt.Errorf("sqlite: mmap size must not be negative")
	case c.BusyTimeout < 0:
		return fmt.Errorf("sqlite: busy timeout must not be negative")
	case c.WALCheckpointPages < 1 || c.CheckpointEvents < 1:
		return fmt.Errorf("sqlite: WAL checkpoint pages and checkpoint events must be at least 1")
	case c.ReadConns < 1:
		return fmt.Errorf("sqlite: read connections must be at least 1")
	case c.MaxGroupEvents < 1 || c.MaxQueuedRequests < 1 || c.MaxGroupWait < 0 || c.GroupTimeout <= 0:
		return fmt.Errorf("sqlite: group commit settings must be positive")
	}
	return nil
}
