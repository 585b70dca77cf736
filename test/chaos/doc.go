// Package chaos holds PulseStream's reliability tests. They build the real
// pulsestream binary once, start it as a child process on a fresh SQLite
// file or PostgreSQL schema, drive it with a fleet of clients that send
// events with unique external_ids and record every answer, and attack it:
// SIGKILL and SIGTERM under load, a PostgreSQL and a Redis outage behind a
// TCP proxy, overload, a full disk, and (behind PULSESTREAM_SOAK) a soak.
// After each scenario every external_id that got a 2xx must be stored
// exactly once, and nothing may be stored that was refused or never sent.
//
// See RELIABILITY.md at the repository root for what each test proves,
// the figures of the last run and how to rerun them.
package chaos
