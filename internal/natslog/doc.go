// Package natslog is the durable ingest log of log mode (--ingest-log) on
// NATS JetStream: Append publishes a request's accepted events to a
// replicated stream and returns once JetStream has acknowledged every one;
// RunWriter, run by every node, pulls large batches from one durable
// consumer shared by all nodes, stores them with the store's exactly-once
// InsertEvents (one call per tenant) and acknowledges a message only after
// its batch committed, so a crash re-delivers and the database's keys —
// (tenant, external_id), or the event's id and timestamp when it has no
// external id — absorb the repeat.
//
// A message is the event's fields as JSON (with the tenant and the content
// hash), a newline, then the payload bytes exactly as sent (encoding/json
// would compact and escape them). Its Nats-Msg-Id is derived from
// (tenant, external_id), or the event id when there is none, so JetStream
// drops a replay seen within the stream's duplicate window.
package natslog
