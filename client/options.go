package client

import (
	"errors"
	"log"
	"net/http"
	"os"
	"time"
)

// Clock is the time source for batching intervals and retry waits; tests
// pass a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option configures a Client.
type Option func(*config)

type config struct {
	httpClient    *http.Client
	clock         Clock
	service       string
	maxEvents     int
	maxBytes      int
	interval      time.Duration
	bufferSize    int
	dropWhenFull  bool
	gzip          bool
	maxRetries    int
	backoffBase   time.Duration
	backoffMax    time.Duration
	signingSecret string
	onRejected    func(Rejection)
	onError       func(error, []Event)
}

// Defaults, chosen well inside the server's limits (1000 events and
// 10 MiB per batch).
const (
	DefaultMaxBatchEvents = 500
	DefaultMaxBatchBytes  = 1 << 20
	DefaultFlushInterval  = time.Second
	DefaultBufferSize     = 10000
	DefaultMaxRetries     = 10
	DefaultBackoffBase    = 200 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	maxServerBatch        = 1000
)

func defaultConfig() config {
	stderr := log.New(os.Stderr, "pulsestream client: ", log.LstdFlags)
	return config{
		httpClient: &http.Client{Timeout: 30 * time.Second},
		clock:      realClock{},
		maxEvents:  DefaultMaxBatchEvents, maxBytes: DefaultMaxBatchBytes, interval: DefaultFlushInterval,
		bufferSize: DefaultBufferSize, gzip: true,
		maxRetries: DefaultMaxRetries, backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax,
		onRejected: func(r Rejection) { stderr.Print(r.Error()) },
		onError: func(err error, evs []Event) {
			stderr.Printf("%d events not delivered: %v", len(evs), err)
		},
	}
}

func (c *config) validate() error {
	var errs []error
	if c.maxEvents < 1 || c.maxEvents > maxServerBatch {
		errs = append(errs, errors.New("batch size must be between 1 and 1000 events"))
	}
	if c.maxBytes < 1 {
		errs = append(errs, errors.New("batch bytes must be positive"))
	}
	if c.interval <= 0 {
		errs = append(errs, errors.New("flush interval must be positive"))
	}
	if c.bufferSize < 1 {
		errs = append(errs, errors.New("buffer size must be positive"))
	}
	if c.maxRetries < 0 || c.backoffBase <= 0 || c.backoffMax < c.backoffBase {
		errs = append(errs, errors.New("retries must be ≥ 0 and 0 < backoff base ≤ backoff max"))
	}
	if c.httpClient == nil || c.clock == nil {
		errs = append(errs, errors.New("HTTP client and clock must not be nil"))
	}
	return errors.Join(errs...)
}

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *config) { c.httpClient = h } }

// WithClock sets the clock used for batching intervals and retry waits.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithService sets the service of events sent without one.
func WithService(name string) Option { return func(c *config) { c.service = name } }

// WithBatch sets when a batch leaves: at maxEvents events (≤ 1000), at
// maxBytes bytes of event JSON, or interval after its first event.
func WithBatch(maxEvents, maxBytes int, interval time.Duration) Option {
	return func(c *config) { c.maxEvents, c.maxBytes, c.interval = maxEvents, maxBytes, interval }
}

// WithBufferSize sets how many events the client holds at most.
func WithBufferSize(n int) Option { return func(c *config) { c.bufferSize = n } }

// WithDropWhenFull makes Send refuse an event with ErrBufferFull, counting
// it in Dropped, instead of waiting for room.
func WithDropWhenFull() Option { return func(c *config) { c.dropWhenFull = true } }

// WithGzip turns body compression on (the default) or off.
func WithGzip(on bool) Option { return func(c *config) { c.gzip = on } }

// WithRetry sets how many retries in a row that settle no event a batch
// gets before its events go to OnError (a retry that stores some events
// starts the count again), and the backoff: the n-th wait is random in
// [0, min(max, base·2ⁿ)] unless the server sent Retry-After.
func WithRetry(maxRetries int, base, max time.Duration) Option {
	return func(c *config) { c.maxRetries, c.backoffBase, c.backoffMax = maxRetries, base, max }
}

// WithSigningSecret signs every request with the tenant's signing secret
// (X-PulseStream-Timestamp and X-PulseStream-Signature: v1=HMAC-SHA256 of
// timestamp + "." + the body as sent).
func WithSigningSecret(secret string) Option { return func(c *config) { c.signingSecret = secret } }

// OnRejected sets the function told about each event the server refused.
// It runs on the client's goroutine: it must return quickly and must not
// call Flush, Close, or Send on this client (nor log through a slog handler
// sending to it: with a full buffer that would wait for itself).
func OnRejected(fn func(Rejection)) Option { return func(c *config) { c.onRejected = fn } }

// OnError sets the function told about events the client gave up on, with
// the reason (an *APIError, the last retryable error, or a context error
// from Close). Same rules as OnRejected.
func OnError(fn func(err error, events []Event)) Option {
	return func(c *config) { c.onError = fn }
}
