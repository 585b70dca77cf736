package natslog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/natslog"
	"github.com/pulsestream/pulsestream/internal/postgres"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// loseFirstAck stores through the real store, then, for its first call,
// answers an error as if the node died between COMMIT and acknowledging
// the messages: the log re-delivers events that are already stored.
type loseFirstAck struct {
	store  *postgres.DB
	failed atomic.Bool
}

func (l *loseFirstAck) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	res, err := l.store.InsertEvents(ctx, tenantID, events)
	if err == nil && l.failed.CompareAndSwap(false, true) {
		return nil, errors.New("injected: the acknowledgement is lost after the commit")
	}
	return res, err
}

// Events are appended, written by the writers and acknowledged; a batch
// whose commit went through but whose acknowledgement did not is
// re-delivered, and every event — with or without an external id — is
// stored exactly once.
func TestLogRedeliveredAfterCommitStoredOnce(t *testing.T) {
	t.Parallel()
	nats := testkit.StartNATS(t, 1)
	db, err := postgres.Open(t.Context(), testkit.PostgresSchema(t, "natslog"), postgres.Config{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tn, err := pulse.NewTenant(pulse.NewID(), "log", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log, err := natslog.Open(t.Context(), natslog.Config{URL: nats[0].URL, Stream: "T_REDELIVER", AckWait: 3 * time.Second,
		Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })

	const n = 50
	var events []*pulse.Event
	for i := range n {
		e := &pulse.Event{ID: pulse.NewID(), TenantID: tn.ID, EventType: "log.test", Severity: pulse.SeverityInfo, Service: "s",
			Timestamp: time.Now().UTC().Truncate(time.Microsecond), ReceivedAt: time.Now().UTC().Truncate(time.Microsecond),
			ContentHash: fmt.Sprintf("h%d", i)}
		if i%2 == 0 {
			e.ExternalID = fmt.Sprintf("x-%d", i)
		}
		events = append(events, e)
	}
	res, err := log.Append(t.Context(), tn.ID, events)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != pulse.Created || r.ID != events[i].ID {
			t.Fatalf("append result %d = %+v", i, r)
		}
	}
	// A replay within the window is recognised by the log itself.
	replay := *events[0]
	replay.ID = pulse.NewID()
	if res, err := log.Append(t.Context(), tn.ID, []*pulse.Event{&replay}); err != nil || res[0].Status != pulse.Duplicate || res[0].ID != events[0].ID {
		t.Errorf("replay: %+v, %v; want duplicate of %s", res, err, events[0].ID)
	}

	ins := &loseFirstAck{store: db}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		log.Run(ctx, ins)
	}()
	defer func() { cancel(); wg.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		backlog, err := log.Backlog(t.Context())
		if err == nil && backlog == 0 && ins.failed.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %d (%v) 30 s after the append", backlog, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the writers
	}
	stored, err := db.SearchEvents(t.Context(), tn.ID, pulse.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range stored {
		count[e.ID]++
	}
	for _, e := range events {
		if count[e.ID] != 1 {
			t.Errorf("event %s (external id %q) stored %d times", e.ID, e.ExternalID, count[e.ID])
		}
	}
	if len(stored) != n {
		t.Errorf("%d events stored, want %d", len(stored), n)
	}
	if got := counter(t, reg, "pulsestream_ingest_log_redeliveries_total"); got == 0 {
		t.Error("no redelivery: the batch whose acknowledgement was lost must come back")
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
