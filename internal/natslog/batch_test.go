package natslog_test

import (
	"context"
	"errors"
	"fmt"
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
	reg := prometheus.NewRegistry()
	url := testkit.StartNATS(t, 1)[0].URL
	db, tn, log := openLog(t, natslog.Config{URL: url, Stream: "T_BATCH", Registerer: reg})

	// The previous version's message, as it wrote it.
	const oldID = "0b7e1c7a-2f6e-4f7e-9a51-1f0c3f3b9d10"
	old := fmt.Sprintf(`{"tenant":%q,"id":%q,"external_id":"old-1","event_type":"log.old","severity":"info","service":"s","timestamp":%q,"received_at":%q,"content_hash":"h-old"}`+"\n"+`{"a": 1}`,
		tn.ID, oldID, time.Now().UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	nc, err := nats.Connect(url)
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
	count := writeAll(t, log, ins, ins.failed.Load, db, tn.ID)
	for _, e := range events {
		if count[e.ID] != 1 {
			t.Errorf("event %s (external id %q) stored %d times", e.ID, e.ExternalID, count[e.ID])
		}
	}
	if count[oldID] != 1 {
		t.Errorf("the old-format event stored %d times", count[oldID])
	}
	if len(count) != len(events)+1 {
		t.Errorf("%d events stored, want %d", len(count), len(events)+1)
	}
	if got := counter(t, reg, "pulsestream_ingest_log_poison_messages_total"); got != 0 {
		t.Errorf("%v messages dropped as poison", got)
	}
	if got := counter(t, reg, "pulsestream_ingest_log_redeliveries_total"); got == 0 {
		t.Error("no redelivery: the messages of the failed write must come back")
	}
}
