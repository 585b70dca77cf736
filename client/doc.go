// Package client sends events to a PulseStream server from a Go program.
//
// It imports only the standard library. A Client buffers the events given to
// Send and delivers them in the background through POST
// /api/v1/events/batch: a batch leaves when it holds MaxBatchEvents events or
// MaxBatchBytes bytes of JSON, when FlushInterval has passed since its first
// event was buffered, or on Flush and Close. Bodies are gzip-compressed.
//
// Exactly once. Send gives every event without an ExternalID a fresh UUIDv7,
// so a batch retried after a lost answer is recognised by the server and each
// event is stored once (the retry is answered "duplicate").
//
// Retries. A batch is retried, with exponential backoff and full jitter, on
// connection errors, 408, 429 and 5xx answers; events a partially accepted
// batch answered "rate_limited" are retried alone. A Retry-After header
// (seconds or an HTTP date) is waited exactly instead of the backoff. Other
// 4xx answers (a wrong key, a refused signature) are not retried.
//
// Nothing is lost silently. An event the server rejects (invalid field,
// conflicting external_id) goes to the OnRejected callback with its field
// errors; a batch the client gives up on (a 4xx, retries used up, Close's
// context done) goes to OnError. Without callbacks both are logged to
// standard error. Stats counts every outcome.
//
// Full buffer. The client holds at most BufferSize events (waiting or being
// sent). When it is full, Send blocks until there is room or its context is
// done (the default), or with WithDropWhenFull returns ErrBufferFull at once
// and counts the event in Dropped.
//
// One goroutine delivers; it is started by New and stopped by Close, which
// sends what is buffered and returns when done or when its context is.
package client
