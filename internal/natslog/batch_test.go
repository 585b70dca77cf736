package natslog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/natslog"
	"github.com/pulsestream/pulsestream/internal/postgres"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// failFirst fails its first call before writing anything, as a database
// that refuses a write: the messages must come back and be stored once.
type failFirst struct {
	store  *postgres.DB
	failed atomic.Bool
}

func (f *failFirst) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("injected: the write fails")
	}
	return f.store.InsertEvents(ctx, tenantID, events)
}

// A message of many events whose write fails is re-delivered whole and
// every event is stored once; a message in the format of the previous
// version (one event, JSON head) left in the stream is written too.
func TestLogFailedWriteAndOldMessageStoredOnce(t *testing.T) {
	t.Parallel()
	nodes := testkit.StartNATS(t, 1)
	db, err := postgres.Open(t.Context(), testkit.PostgresSchema(t, "natslogb"), postgres.Config{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tn, err := pulse.NewTenant(pulse.NewID(), "logb", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log, err := natslog.Open(t.Context(), natslog.Config{URL: nodes[0].URL, Stream: "T_BATCH", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })

	// The previous version's message, as it wrote it.
	const oldID = "0b7e1c7a-2f6e-4f7e-9a51-1f0c3f3b9d10"
	old := fmt.Sprintf(`{"tenant":%q,"id":%q,"external_id":"old-1","event_type":"log.old","severity":"info","service":"s","timestamp":%q,"received_at":%q,"content_hash":"h-old"}`+"\n"+`{"a": 1}`,
		tn.ID, oldID, time.Now().UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	nc, err := nats.Connect(nodes[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "T_BATCH.events", []byte(old)); err != nil {
		t.Fatal(err)
	}

	var events []*pulse.Event
	for i := range 300 {
		ext := ""
		if i%3 != 0 {
			ext = fmt.Sprintf("b-%d", i)
		}
		events = append(events, newEvent(tn.ID, i, ext))
	}
	for _, req := range [][]*pulse.Event{events[:100], events[100:]} {
		if _, err := log.Append(t.Context(), tn.ID, req); err != nil {
			t.Fatal(err)
		}
	}
	if backlog, err := log.Backlog(t.Context()); err != nil || backlog != 3 {
		t.Fatalf("backlog %d messages (%v), want 3: one per request and the old one", backlog, err)
	}

	ins := &failFirst{store: db}
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
	if count[oldID] != 1 {
		t.Errorf("the old-format event stored %d times", count[oldID])
	}
	if len(stored) != len(events)+1 {
		t.Errorf("%d events stored, want %d", len(stored), len(events)+1)
	}
	if got := counter(t, reg, "pulsestream_ingest_log_poison_messages_total"); got != 0 {
		t.Errorf("%v messages dropped as poison", got)
	}
	if got := counter(t, reg, "pulsestream_ingest_log_redeliveries_total"); got == 0 {
		t.Error("no redelivery: the messages of the failed write must come back")
	}
}
