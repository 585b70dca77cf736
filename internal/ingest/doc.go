// Package ingest owns the path of an event from decoded JSON to a committed
// row: validate → resolve known external ids → reserve quota → store in one
// transaction → give back unused quota → count. Every rejection reason is a
// named value (pulse.FieldError.Reason) that ends up in a metric and in the
// tenant's usage counters.
package ingest
