// Package postgres implements pulse.Store on PostgreSQL with pgx v5.
//
// It owns the schema (embedded goose migrations, run by Open under a
// per-schema advisory lock so that nodes starting together do not race),
// the daily partitions of the events table (created on demand before a
// batch is inserted and ahead of time by Maintain, dropped once every
// tenant's retention has passed them) and the mapping of database errors to
// pulse error codes: EUNAVAILABLE for connection failures, timeouts and
// transactions that keep failing to serialize, EINSUFFICIENT for a full
// disk, ENOTFOUND for missing rows.
package postgres
