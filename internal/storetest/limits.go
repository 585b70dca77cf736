package storetest

import (
	"context"
	"testing"
	"time"

	"pulsestream/internal/pulse"
)

func init() {
	register("SearchLimitPageAndOneMore", testSearchLimitPageAndOneMore)
}

// The HTTP layer asks for limit+1 rows to learn whether a next page exists;
// a store that capped at MaxSearchLimit would end paging after 1,000 events.
func testSearchLimitPageAndOneMore(t *testing.T, s pulse.Store) {
	ctx := context.Background()
	tn := createTenant(t, s, 30)
	base := now().Add(-time.Hour)
	events := make([]*pulse.Event, pulse.MaxSearchLimit+5)
	for i := range events {
		events[i] = newEvent(tn.ID, base.Add(time.Duration(i)*time.Millisecond))
	}
	insert(t, s, tn.ID, events...)
	got, err := s.SearchEvents(ctx, tn.ID, pulse.EventFilter{Limit: pulse.MaxSearchLimit + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != pulse.MaxSearchLimit+1 {
		t.Fatalf("Limit %d returned %d events", pulse.MaxSearchLimit+1, len(got))
	}
	got, err = s.SearchEvents(ctx, tn.ID, pulse.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != pulse.DefaultSearchLimit {
		t.Fatalf("Limit 0 returned %d events, want the default %d", len(got), pulse.DefaultSearchLimit)
	}
}
