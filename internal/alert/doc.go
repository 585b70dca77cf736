// Package alert owns rule evaluation, the alert lifecycle and notification
// delivery.
//
// One Evaluator works at a time across all nodes (a lease row in the
// store). Each Tick it reads the events received since its watermark (with
// a short overlap, deduplicated by id, so that transactions committing out
// of order are not missed), matches them in memory against the enabled
// rules of their tenant, and keeps per (rule, group) one-second buckets over
// the window — never a COUNT query per rule. State changes are written with
// their notifications in one transaction (an outbox); the evaluator then
// hands pending notifications to the durable Queue, whose worker calls
// Deliverer.Deliver: a signed (Standard Webhooks) POST through an HTTP
// client that refuses private addresses. Each tenant has a bounded number
// of deliveries in flight per node (TenantConcurrency); a job beyond it is
// handed back to the queue (ErrDeferred) instead of waiting in a worker.
// Tenants see why an attempt failed as a stable reason (reasons.go); the
// network detail is logged.
package alert
