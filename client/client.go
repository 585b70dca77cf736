package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Errors returned by Send.
var (
	ErrClosed     = errors.New("pulsestream: client is closed")
	ErrBufferFull = errors.New("pulsestream: buffer full, event dropped")
)

// Client buffers events and delivers them in batches. It is safe for
// concurrent use.
type Client struct {
	cfg      config
	batchURL string
	key      string

	mu       sync.Mutex
	queue    []item        // accepted by Send, not yet taken by the worker
	bytes    int           // JSON bytes in queue
	inFlight int           // taken by the worker, not yet answered
	closed   bool          // Close was called
	space    chan struct{} // closed (and replaced) when room appears or on Close
	stats    Stats

	wake    chan struct{}      // capacity 1: something to look at
	flushCh chan chan struct{} // Flush requests
	runCtx  context.Context    // canceled when Close's context is done
	cancel  context.CancelFunc
	done    chan struct{} // closed when the worker has returned
}

// item is an event with its JSON, encoded at Send time.
type item struct {
	ev   Event
	json []byte
}

// New returns a Client sending to the server at baseURL (for example
// "https://pulse.example.com") with the tenant API key, and starts its
// goroutine. Close it to deliver what is buffered.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("pulsestream: base URL must be http(s)://host[:port], got %q", baseURL)
	}
	if key == "" {
		return nil, errors.New("pulsestream: API key is empty")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pulsestream: %w", err)
	}
	c := &Client{
		cfg: cfg, key: key,
		batchURL: strings.TrimRight(baseURL, "/") + "/api/v1/events/batch",
		space:    make(chan struct{}),
		wake:     make(chan struct{}, 1),
		flushCh:  make(chan chan struct{}),
		done:     make(chan struct{}),
	}
	c.runCtx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

// Send buffers ev for delivery and returns; the outcome reaches Stats and,
// for refusals, OnRejected or OnError. It fills in ExternalID, Timestamp
// and Service when empty. It returns an error when ev cannot be encoded as
// JSON, ErrClosed after Close, ErrBufferFull with WithDropWhenFull, or
// ctx's error when the buffer stayed full until ctx was done.
func (c *Client) Send(ctx context.Context, ev Event) error {
	if ev.ExternalID == "" {
		ev.ExternalID = newUUIDv7(c.cfg.clock.Now())
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = c.cfg.clock.Now()
	}
	if ev.Service == "" {
		ev.Service = c.cfg.service
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("pulsestream: encode event: %w", err)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if len(c.queue)+c.inFlight < c.cfg.bufferSize {
			c.queue = append(c.queue, item{ev: ev, json: data})
			c.bytes += len(data)
			c.mu.Unlock()
			c.poke()
			return nil
		}
		if c.cfg.dropWhenFull {
			c.stats.Dropped++
			c.mu.Unlock()
			return ErrBufferFull
		}
		space := c.space
		c.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Flush returns once every event Send accepted before the call has been
// answered by the server or given up, or when ctx is done (delivery then
// goes on in the background).
func (c *Client) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.flushCh <- done:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, delivers the buffered ones and stops the
// client's goroutine. When ctx is done first, the request in progress is
// abandoned, the events not delivered go to OnError, and Close returns
// ctx's error after the goroutine has stopped.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.space) // Senders waiting for room see closed
	}
	c.mu.Unlock()
	c.poke()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.cancel()
		<-c.done
		return ctx.Err()
	}
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Buffered = len(c.queue) + c.inFlight
	return s
}

// Dropped returns how many events Send refused because the buffer was full.
func (c *Client) Dropped() int64 { return c.Stats().Dropped }

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the one goroutine: it sends a batch when one is full, when the
// interval since the first buffered event has passed, on Flush and on Close.
func (c *Client) run() {
	defer close(c.done)
	defer c.cancel()
	var timer <-chan time.Time
	for {
		c.mu.Lock()
		n, size, closed := len(c.queue), c.bytes, c.closed
		c.mu.Unlock()
		switch {
		case closed:
			c.drain()
			return
		case n >= c.cfg.maxEvents || size >= c.cfg.maxBytes:
			c.sendBatch()
			timer = nil
			continue
		case n > 0 && timer == nil:
			timer = c.cfg.clock.After(c.cfg.interval)
		}
		select {
		case <-c.wake:
		case <-timer:
			timer = nil
			c.drain()
		case done := <-c.flushCh:
			timer = nil
			c.drain()
			close(done)
		}
	}
}

// drain sends batches until the queue is empty.
func (c *Client) drain() {
	for c.sendBatch() {
	}
}

// sendBatch takes one batch off the queue and delivers it; false when the
// queue was empty.
func (c *Client) sendBatch() bool {
	c.mu.Lock()
	n, size := 0, 0
	for n < len(c.queue) && n < c.cfg.maxEvents && (n == 0 || size+len(c.queue[n].json) <= c.cfg.maxBytes) {
		size += len(c.queue[n].json)
		n++
	}
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.bytes -= size
	c.inFlight += n
	c.mu.Unlock()
	if n == 0 {
		return false
	}
	left, err := c.deliver(c.runCtx, batch)
	if len(left) > 0 {
		c.giveUp(err, left)
	}
	c.mu.Lock()
	c.inFlight -= n
	if !c.closed { // once closed, space stays closed
		close(c.space)
		c.space = make(chan struct{})
	}
	c.mu.Unlock()
	return true
}

// giveUp reports events that will not be delivered.
func (c *Client) giveUp(err error, items []item) {
	evs := make([]Event, len(items))
	for i, it := range items {
		evs[i] = it.ev
	}
	c.count(func(s *Stats) { s.Failed += int64(len(items)) })
	c.cfg.onError(err, evs)
}

func (c *Client) count(fn func(*Stats)) {
	c.mu.Lock()
	fn(&c.stats)
	c.mu.Unlock()
}
