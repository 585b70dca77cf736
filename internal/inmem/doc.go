// Package inmem holds PulseStream's single-node adapters: a rate limiter
// whose state lives in this process. It is the limiter for a one-node
// deployment and the fallback the redis limiter uses while Redis is down.
package inmem
