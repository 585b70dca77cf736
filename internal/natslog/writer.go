package natslog

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Inserter stores events exactly once: pulse.EventStore's InsertEvents.
type Inserter interface {
	InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error)
}

// pause is the wait after a failed fetch or write (the database or NATS is
// down): the messages come back after it, and nothing spins.
const pause = time.Second

// Run runs the node's writers and the backlog gauge until ctx ends; a
// batch being written when it does is finished (bounded by 2/3 of AckWait)
// and acknowledged, so a graceful stop leaves nothing to re-deliver.
func (l *Log) Run(ctx context.Context, store Inserter) {
	var wg sync.WaitGroup
	for range l.cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.runWriter(ctx, store)
		}()
	}
	l.watchBacklog(ctx)
	wg.Wait()
}

// linger is how long a writer waits for more messages once one arrived:
// short, so that an event is searchable within milliseconds at low rates,
// while at high rates the client-side buffer fills batches at once.
const linger = 5 * time.Millisecond

// pulled is a message a writer pulled, decoded (events nil: poison).
type pulled struct {
	msg    jetstream.Msg
	events []*pulse.Event
}

// bufferBytes is what one writer keeps pulled ahead: a bound on memory
// whatever the messages carry (one event or a thousand), at least two of
// the largest messages.
func (l *Log) bufferBytes() int {
	return max(8<<20, 2*int(l.nc.MaxPayload()))
}

// runWriter pulls messages continuously (the client keeps up to
// bufferBytes of them buffered, overlapping pull requests) and writes them
// in batches: everything available up to FetchBatch events, waiting at
// most linger for more.
func (l *Log) runWriter(ctx context.Context, store Inserter) {
	for ctx.Err() == nil {
		it, err := l.cons.Messages(jetstream.PullMaxBytes(l.bufferBytes()))
		if err != nil {
			l.cfg.Logger.Debug("ingest log: pull failed; will retry", "err", err)
			sleep(ctx, pause)
			continue
		}
		l.drain(ctx, it, store)
		giveBack(it)
	}
}

// giveBack stops it and returns the messages it still buffered to the
// stream at once (NAK), so that another node writes them now rather than
// after AckWait.
func giveBack(it jetstream.MessagesContext) {
	it.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return
		}
		_ = m.Nak()
	}
}

// drain writes what it pulls until ctx ends or the iterator closes.
func (l *Log) drain(ctx context.Context, it jetstream.MessagesContext, store Inserter) {
	for ctx.Err() == nil {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// A missed heartbeat (NATS restarting, a leader election):
			// the iterator re-issues its pull by itself.
			l.cfg.Logger.Debug("ingest log: pull interrupted", "err", err)
			sleep(ctx, pause/4)
			continue
		}
		batch := []pulled{l.decode(m)}
		events := len(batch[0].events)
		lctx, cancel := context.WithTimeout(ctx, linger)
		for events < l.cfg.FetchBatch {
			m, err := it.Next(jetstream.NextContext(lctx))
			if err != nil {
				break
			}
			p := l.decode(m)
			batch, events = append(batch, p), events+len(p.events)
		}
		cancel()
		if !l.write(ctx, store, batch) {
			sleep(ctx, pause)
		}
	}
}

// decode decodes m; a message no known format decodes is dropped (TERM):
// keeping it would re-deliver it forever.
func (l *Log) decode(m jetstream.Msg) pulled {
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
		l.metrics.redeliveries.Inc()
	}
	events, err := decodeMessage(m.Data())
	if err != nil {
		l.cfg.Logger.Error("ingest log: dropping a message that is not events", "err", err)
		l.metrics.poison.Inc()
		_ = m.Term()
	}
	return pulled{msg: m, events: events}
}

// write stores one pulled batch, one InsertEvents per tenant, and
// acknowledges each tenant's messages after its commit; a tenant whose
// write fails gets its messages back after a pause (NAK with delay), the
// others are not held back. It reports whether every write succeeded.
func (l *Log) write(ctx context.Context, store Inserter, batch []pulled) bool {
	type group struct {
		events []*pulse.Event
		msgs   []jetstream.Msg
		seen   map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	events := 0
	for _, p := range batch {
		if len(p.events) == 0 {
			continue // poison, dropped
		}
		tenant := p.events[0].TenantID // a message holds one tenant's events
		g := groups[tenant]
		if g == nil {
			g = &group{seen: map[string]bool{}}
			groups[tenant] = g
			order = append(order, tenant)
		}
		g.msgs = append(g.msgs, p.msg)
		for _, e := range p.events {
			if !g.seen[e.ID] { // one message re-delivered within the batch
				g.seen[e.ID] = true
				g.events = append(g.events, e)
				events++
			}
		}
	}
	l.metrics.batch.Observe(float64(events))
	ok := true
	for _, tenant := range order {
		g := groups[tenant]
		// A stop lets the write finish, so that it can be acknowledged.
		// Two thirds of AckWait: a slow write is normally acknowledged
		// before JetStream re-delivers it (a re-delivery is absorbed anyway).
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.AckWait*2/3)
		res, err := store.InsertEvents(wctx, tenant, g.events)
		cancel()
		if err != nil {
			ok = false
			l.metrics.writeFailures.Inc()
			l.cfg.Logger.Warn("ingest log: write failed; the events stay in the log", "events", len(g.events), "err", err)
			for _, m := range g.msgs {
				_ = m.NakWithDelay(pause)
			}
			continue
		}
		for _, r := range res {
			l.metrics.written.WithLabelValues(r.Status.String()).Inc()
		}
		for _, m := range g.msgs {
			_ = m.Ack() // a lost ack re-delivers; the store absorbs it
		}
	}
	return ok
}

// watchBacklog publishes the backlog and the age of its oldest message
// every second until ctx ends.
//
// The backlog is what the writers' consumer has not had acknowledged
// (pending + delivered and unacknowledged), not the stream's message
// count: a replicated work-queue stream of the nats-server releases we
// test with can keep a message a writer acknowledged after a server
// restart or a leader change (nats-io/nats-server#2243, #3953 — seen in
// the cluster chaos test: 2 such messages held for a minute while every
// event was stored), and an operator's alert must not fire on those.
func (l *Log) watchBacklog(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, time.Second)
		backlog, err := l.Backlog(ictx)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = l.stream.Info(ictx)
		}
		cancel()
		if err == nil {
			l.metrics.backlog.Set(float64(backlog))
			age, bytes := 0.0, 0.0
			if backlog > 0 {
				bytes = float64(info.State.Bytes)
				if !info.State.FirstTime.IsZero() {
					age = max(0, l.cfg.Clock.Now().Sub(info.State.FirstTime).Seconds())
				}
			}
			l.metrics.backlogBytes.Set(bytes)
			l.metrics.backlogAge.Set(age)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Backlog is how many accepted messages (one per request) the writers
// have not yet written: the consumer's pending and unacknowledged ones.
func (l *Log) Backlog(ctx context.Context) (uint64, error) {
	info, err := l.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(max(info.NumAckPending, 0)), nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
