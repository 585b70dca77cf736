// Package natslog is the durable ingest log of log mode (--ingest-log) on
// NATS JetStream: Append publishes a request's accepted events to a
// replicated stream and returns once JetStream has acknowledged them;
// RunWriter, run by every node, pulls large batches from one durable
// consumer shared by all nodes, stores them with the store's exactly-once
// InsertEvents (one call per tenant) and acknowledges a message only after
// its batch committed, so a crash re-delivers and the database's keys —
// (tenant, external_id), or the event's id and timestamp when it has no
// external id — absorb the repeat.
//
// A message holds one request's events (up to 1000, within the server's
// max_payload), all of one tenant, in a versioned format (wire.go): a
// binary version 2 now; version 1, one event as a JSON head and its
// payload, is still read. Its Nats-Msg-Id is a digest of the tenant and the
// events' external ids (or ids) in order, so JetStream drops a retry of
// the same request seen within the stream's duplicate window; any other
// replay reaches the writers, and the database's keys keep one copy.
package natslog
