package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/storetest"
)

// openParts opens a fresh parts database in the test's temporary folder.
func openParts(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{EventStore: sqlite.EventStoreParts})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := db.EventStoreKind(); got != sqlite.EventStoreParts {
		t.Fatalf("EventStoreKind = %q", got)
	}
	return db
}

// partsPending are the conformance cases of retention and erasure, which
// parts-life implements for parts databases (Maintain, EraseUserEvents).
var partsPending = map[string]bool{
	"MaintainRetentionPerTenant": true, "MaintainSmallChunks": true, "MaintainFreesExternalIDs": true,
	"UserErase": true, "UserEraseSticks": true, "UserEraseInterrupted": true,
}

// TestPartsStore runs the whole conformance suite on a parts database.
func TestPartsStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) pulse.Store {
		if partsPending[filepath.Base(t.Name())] {
			t.Skip("retention/erasure of a parts database: parts-life's Maintain and EraseUserEvents")
		}
		return openParts(t)
	})
}
