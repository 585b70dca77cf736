// Package redis holds PulseStream's Redis adapters: the client constructor
// that understands PulseStream's Redis URLs, and the rate limiter shared by
// every node, whose GCRA arithmetic runs in one Lua script per call.
package redis
