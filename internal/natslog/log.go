package natslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Config configures the log. Zero values take the defaults noted.
type Config struct {
	URL      string        // nats://host:port, several comma-separated
	Stream   string        // stream name; default PULSESTREAM_EVENTS
	Replicas int           // default 1
	MaxBytes int64         // default 8 GiB; when full, Append fails (EUNAVAILABLE), nothing is dropped
	MaxAge   time.Duration // default 72h; an event unwritten for that long is dropped by JetStream
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id;
	// default 2m. Replays after it are settled by the database.
	DuplicateWindow time.Duration
	Timeout         time.Duration // longest wait for one Append's acknowledgements; default 5s
	// MaxEventBytes is the largest event payload ingestion accepts; Open
	// refuses a server whose max_payload cannot carry it.
	MaxEventBytes int

	FetchBatch int           // events one writer stores at once (from one or more messages); default 1000
	AckWait    time.Duration // a fetched message unacknowledged this long is re-delivered; default 30s
	Writers    int           // writer goroutines per node; default 4

	Clock      pulse.Clock // default: the system clock (backlog age)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "PULSESTREAM_EVENTS"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 8 << 30
	}
	if c.MaxAge == 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = 1000
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Writers == 0 {
		c.Writers = 4
	}
	if c.Clock == nil {
		c.Clock = pulse.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// consumerName is the durable consumer every node's writers share.
const consumerName = "pulsestream-writers"

// headroom is what a message needs besides the payload (the event's other
// fields, bounded by validation, and the headers).
const headroom = 64 << 10

// Log is an open ingest log. Append is safe for concurrent use.
type Log struct {
	cfg     Config
	subject string
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	cons    jetstream.Consumer
	maxBody int // bytes of events one message may carry
	metrics *metrics
}

// Open connects to NATS, creates or updates the stream (work-queue
// retention: a message leaves the log once a writer acknowledged it, so
// the log holds exactly the backlog) and the writers' durable consumer.
// It fails when JetStream cannot be reached: a node in log mode does not
// start without its log. Once open, the connection reconnects by itself
// (to any server of the cluster) for as long as the Log lives.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	l := &Log{cfg: cfg, subject: cfg.Stream + ".events", metrics: newMetrics(cfg.Registerer)}
	logger := cfg.Logger
	nc, err := nats.Connect(cfg.URL,
		nats.Name("pulsestream"),
		nats.Timeout(2*time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		// No buffering while disconnected: a publish then fails at once
		// (503) instead of waiting in a buffer that a crash would lose.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: Close
				logger.Warn("ingest log: disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("ingest log: reconnected to NATS", "server", c.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("ingest log: connect to NATS: %w", err)
	}
	l.nc = nc
	if max := nc.MaxPayload(); cfg.MaxEventBytes > 0 && int64(cfg.MaxEventBytes)+headroom > max {
		nc.Close()
		return nil, fmt.Errorf("ingest log: the NATS server accepts messages of at most %d bytes, too few for events of --max-payload-bytes=%d (+%d for the other fields): lower --max-payload-bytes to %d or raise max_payload in the NATS server's configuration",
			max, cfg.MaxEventBytes, headroom, max-headroom)
	}
	l.maxBody = int(nc.MaxPayload()) - maxHeaders
	l.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384), jetstream.WithPublishAsyncTimeout(cfg.Timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ingest log: %w", err)
	}
	// JetStream's API answers over plain NATS requests, and a request can
	// go unanswered while a cluster elects its meta leader or routes are
	// still forming (seen in CI: one node of three waited out the whole
	// deadline on a lost stream update). So each attempt has its own short
	// deadline and is retried until the overall one.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = retryAPI(sctx, func(actx context.Context) (err error) {
		l.stream, err = l.js.CreateOrUpdateStream(actx, jetstream.StreamConfig{
			Name: cfg.Stream, Subjects: []string{l.subject},
			Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew,
			MaxBytes: cfg.MaxBytes, MaxAge: cfg.MaxAge, Duplicates: cfg.DuplicateWindow,
		})
		return err
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ingest log: create stream %s: %w", cfg.Stream, err)
	}
	err = retryAPI(sctx, func(actx context.Context) (err error) {
		l.cons, err = l.js.CreateOrUpdateConsumer(actx, cfg.Stream, jetstream.ConsumerConfig{
			Durable: consumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
			MaxDeliver: -1, MaxAckPending: 20 * cfg.FetchBatch * cfg.Writers,
		})
		return err
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ingest log: create consumer: %w", err)
	}
	return l, nil
}

// apiAttempt is how long one JetStream API request may go unanswered
// before it is sent again.
const apiAttempt = 5 * time.Second

// retryAPI runs call with a deadline of apiAttempt each time until it
// succeeds, fails with an answer from the server (a configuration the
// server refuses is not retried), or ctx ends.
func retryAPI(ctx context.Context, call func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, apiAttempt)
		err := call(actx)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil, errors.As(err, &apiErr) && !retryableAPIError(apiErr), ctx.Err() != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// retryableAPIError: the cluster answered, but only that it cannot yet
// (no meta leader, not enough peers up).
func retryableAPIError(e *jetstream.APIError) bool {
	return e.Code == 503 || e.Code == 408 || e.Code == 500
}

// Close closes the connection; stop the writers first.
func (l *Log) Close() error {
	l.nc.Close()
	return nil
}

// Ping reports whether the log can take events now: connected, and the
// stream answers (it has a leader).
func (l *Log) Ping(ctx context.Context) error {
	if !l.nc.IsConnected() {
		return errors.New("ingest log: not connected to NATS")
	}
	if _, err := l.stream.Info(ctx); err != nil {
		return fmt.Errorf("ingest log: stream: %w", err)
	}
	return nil
}

// retryAfter is what a refused request is told to wait.
const retryAfter = time.Second

// maxMessageEvents caps the events of one message (a batch request's
// largest); maxHeaders is what a message's headers may take of max_payload.
const (
	maxMessageEvents = 1000
	maxHeaders       = 4 << 10
)

// chunk is one message of an Append: events[from:to].
type chunk struct{ from, to int }

// chunks splits events into messages of at most maxMessageEvents events
// and maxBody bytes, in order; the same events always split the same way,
// so a retry of a request gets the same Nats-Msg-Ids.
func chunks(events []*pulse.Event, maxBody int) []chunk {
	var out []chunk
	from, size := 0, 0
	for i, e := range events {
		n := eventSize(e)
		if i > from && (i-from == maxMessageEvents || size+n > maxBody) {
			out = append(out, chunk{from, i})
			from, size = i, 0
		}
		size += n
	}
	if len(events) > from {
		out = append(out, chunk{from, len(events)})
	}
	return out
}

// Append publishes events (of tenantID, carrying ID and ContentHash) — one
// message per request, or several when it exceeds maxMessageEvents or the
// server's max_payload — and returns once JetStream has stored every
// message on a quorum, one result per event: Created (durable in the log;
// a writer stores it later) or, when JetStream saw the message's
// Nats-Msg-Id within the duplicate window (the same request sent again),
// Duplicate or Conflict with the first event's id for each event with an
// external id — the id is empty when that message has already left the
// log (written: the store knows it).
//
// Errors: EUNAVAILABLE (503) when no event reached the log (not connected,
// no stream leader, the log full); EUNKNOWN (503 outcome_unknown) when some
// may have: acknowledgements missing at the deadline, or only part of the
// request stored. A retry with the same external ids is then safe.
func (l *Log) Append(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	parts := chunks(events, l.maxBody)
	futures := make([]jetstream.PubAckFuture, 0, len(parts))
	var failed error
	for _, c := range parts {
		msg := &nats.Msg{Subject: l.subject, Data: encodeBatch(tenantID, events[c.from:c.to])}
		f, err := l.js.PublishMsgAsync(msg, jetstream.WithMsgID(msgID(tenantID, events[c.from:c.to])))
		if err != nil {
			failed = err
			break
		}
		futures = append(futures, f)
	}
	results := make([]pulse.InsertResult, len(events))
	stored, unknown := 0, failed != nil && len(futures) > 0
	var dups []int // indexes into parts
	seqs := make([]uint64, len(parts))
wait:
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			stored++
			for j := parts[i].from; j < parts[i].to; j++ {
				results[j] = pulse.InsertResult{Status: pulse.Created, ID: events[j].ID}
			}
			if ack.Duplicate {
				dups, seqs[i] = append(dups, i), ack.Sequence
			}
		case err := <-f.Err():
			if failed == nil {
				failed = err
			}
			if !refused(err) {
				unknown = true
			}
		case <-ctx.Done():
			if failed == nil {
				failed = ctx.Err()
			}
			unknown = true
			break wait
		}
	}
	l.metrics.publish.Observe(time.Since(start).Seconds())
	if failed != nil {
		if unknown || stored > 0 {
			l.metrics.publishFailures.WithLabelValues("unknown").Inc()
			return nil, pulse.OutcomeUnknown(fmt.Errorf("ingest log: publish: %w", failed), retryAfter)
		}
		reason, msg := "unavailable", "the ingest log is unavailable; retry later"
		if full(failed) {
			reason, msg = "full", "the ingest log is full (the database is not keeping up); retry later"
		}
		l.metrics.publishFailures.WithLabelValues(reason).Inc()
		return nil, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: msg, Err: fmt.Errorf("ingest log: publish: %w", failed), RetryAfter: retryAfter}
	}
	for _, i := range dups {
		l.settleDuplicate(ctx, events[parts[i].from:parts[i].to], results[parts[i].from:parts[i].to], seqs[i])
	}
	return results, nil
}

// settleDuplicate answers the events of a message JetStream dropped as a
// replay of the message at seq: each event with an external id is a
// Duplicate (or Conflict, other content) of the event of the first message
// with that external id, whose id it gets when that message is still in
// the log. An event without one kept its own id in the Nats-Msg-Id, so it
// was in the first message under that same id: it stays Created.
func (l *Log) settleDuplicate(ctx context.Context, events []*pulse.Event, results []pulse.InsertResult, seq uint64) {
	var orig map[string]*pulse.Event
	if raw, err := l.stream.GetMsg(ctx, seq); err == nil { // else written already (or unreachable): the caller asks the store
		if first, err := decodeMessage(raw.Data); err == nil {
			orig = make(map[string]*pulse.Event, len(first))
			for _, e := range first {
				if e.ExternalID != "" {
					orig[e.ExternalID] = e
				}
			}
		}
	}
	for j, e := range events {
		if e.ExternalID == "" {
			continue
		}
		l.metrics.duplicates.Inc()
		results[j] = pulse.InsertResult{Status: pulse.Duplicate}
		if o := orig[e.ExternalID]; o != nil {
			results[j].ID = o.ID
			if !e.SameContent(o.ContentHash) {
				results[j].Status = pulse.Conflict
			}
		}
	}
}

// refused reports an error after which the message is certainly not in the
// stream: JetStream answered with an error, or nobody answered at all.
func refused(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// full reports the stream refusing a message because it reached its limits.
func full(err error) bool {
	s := err.Error()
	return strings.Contains(s, "maximum bytes") || strings.Contains(s, "maximum messages")
}
