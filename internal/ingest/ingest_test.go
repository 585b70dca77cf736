package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// failingStore injects one store failure into InsertEvents; nothing else of
// the store is used by these tests.
type failingStore struct {
	pulse.EventStore
	err error
}

func (s failingStore) InsertEvents(context.Context, string, []*pulse.Event) ([]pulse.InsertResult, error) {
	return nil, s.err
}

// TestStoreFailureQuota: after a store failure that kept nothing
// (EUNAVAILABLE) the reserved quota is given back; after EUNKNOWN (the
// events may be stored) it stays taken, so that the quota is never
// exceeded — a retry of a stored event is a duplicate and costs nothing.
func TestStoreFailureQuota(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code          string
		wantRemaining int
	}{
		{pulse.EUNAVAILABLE, 10},
		{pulse.EUNKNOWN, 9},
	} {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			limiter := inmem.NewLimiter(inmem.LimiterConfig{Clock: clock})
			storeErr := &pulse.Error{Code: tt.code, Message: "injected", Err: errors.New("injected")}
			s := New(Config{Store: failingStore{err: storeErr}, Limiter: limiter, Clock: clock})
			tn, err := pulse.NewTenant("t1", "t1", 10, 30, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			ev := json.RawMessage(`{"event_type":"a","service":"s","external_id":"x"}`)
			if _, err := s.Ingest(t.Context(), tn, []json.RawMessage{ev}); pulse.ErrorCode(err) != tt.code {
				t.Fatalf("Ingest: %v, want code %q", err, tt.code)
			}
			q, err := limiter.Take(t.Context(), tn.ID, tn.RateLimitPerMinute, 0)
			if err != nil || q.Remaining != tt.wantRemaining {
				t.Fatalf("quota after the failure: %+v, %v; want %d remaining", q, err, tt.wantRemaining)
			}
		})
	}
}
