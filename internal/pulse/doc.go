// Package pulse is PulseStream's domain: tenants, API keys, events, search
// filters, the error type with its codes, and the contracts that storage and
// rate-limiting adapters implement. It depends on the standard library only;
// every adapter (sqlite, postgres, redis, httpapi, ...) depends on it and
// never on each other.
package pulse
