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
	reg := prometheus.NewRegistry()
	db, tn, log := openLog(t, natslog.Config{Stream: "T_REDELIVER", AckWait: 3 * time.Second, Registerer: reg})

	const n = 50
	var events []*pulse.Event
	for i := range n {
		ext := ""
		if i%2 == 0 {
			ext = fmt.Sprintf("x-%d", i)
		}
		events = append(events, newEvent(tn.ID, i, ext))
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
	// A retry of a whole request within the window is recognised by the
	// log itself: each event is a duplicate of the first copy (a conflict
	// for other content), with its id.
	keyed := events[:0:0]
	for i := range 10 {
		keyed = append(keyed, newEvent(tn.ID, i+n, fmt.Sprintf("k-%d", i)))
	}
	if _, err := log.Append(t.Context(), tn.ID, keyed); err != nil {
		t.Fatal(err)
	}
	var retry []*pulse.Event
	for _, e := range keyed {
		r := *e
		r.ID = pulse.NewID()
		retry = append(retry, &r)
	}
	retry[3].ContentHash = "other"
	res, err = log.Append(t.Context(), tn.ID, retry)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		want := pulse.Duplicate
		if i == 3 {
			want = pulse.Conflict
		}
		if r.Status != want || r.ID != keyed[i].ID {
			t.Errorf("retry %d: %+v; want %v of %s", i, r, want, keyed[i].ID)
		}
	}
	// A replay of one event in another request is not a message JetStream
	// has seen: accepted with a new id, and the database keeps one copy.
	lone := *events[0]
	lone.ID = pulse.NewID()
	if res, err := log.Append(t.Context(), tn.ID, []*pulse.Event{&lone}); err != nil || res[0].Status != pulse.Created || res[0].ID != lone.ID {
		t.Errorf("replay in another request: %+v, %v; want accepted as %s", res, err, lone.ID)
	}
	events = append(events, keyed...)

	ins := &loseFirstAck{store: db}
	count := writeAll(t, log, ins, ins.failed.Load, db, tn.ID)
	// Either copy of events[0] may be written first; one is kept.
	count[events[0].ID] += count[lone.ID]
	delete(count, lone.ID)
	for _, e := range events {
		if count[e.ID] != 1 {
			t.Errorf("event %s (external id %q) stored %d times", e.ID, e.ExternalID, count[e.ID])
		}
	}
	if len(count) != len(events) {
		t.Errorf("%d events stored, want %d", len(count), len(events))
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

func newEvent(tenantID string, i int, externalID string) *pulse.Event {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &pulse.Event{ID: pulse.NewID(), TenantID: tenantID, ExternalID: externalID, EventType: "log.test",
		Severity: pulse.SeverityInfo, Service: "s", Timestamp: now, ReceivedAt: now, ContentHash: fmt.Sprintf("h%d", i)}
}

// openLog opens a log of cfg (without a URL: on a NATS server of its own)
// and a PostgreSQL schema with one tenant.
func openLog(t *testing.T, cfg natslog.Config) (*postgres.DB, *pulse.Tenant, *natslog.Log) {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = testkit.StartNATS(t, 1)[0].URL
	}
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
	log, err := natslog.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return db, tn, log
}

// writeAll runs the writers into ins until the log is empty and injected
// reports that ins injected its fault, then counts the tenant's stored
// events by id.
func writeAll(t *testing.T, log *natslog.Log, ins natslog.Inserter, injected func() bool, db *postgres.DB, tenantID string) map[string]int {
	t.Helper()
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
		if err == nil && backlog == 0 && injected() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %d (%v) 30 s after the append", backlog, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the writers
	}
	stored, err := db.SearchEvents(t.Context(), tenantID, pulse.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range stored {
		count[e.ID]++
	}
	return count
}
