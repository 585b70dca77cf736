package pulse

import (
	"context"
	"time"
)

// Store is everything PulseStream keeps. internal/sqlite and internal/postgres
// implement it and both pass internal/storetest. Every method that touches a
// tenant's data takes the tenant id and scopes its query by it.
//
// Errors: ErrNotFound (or an *Error with ENOTFOUND) for missing rows, an
// *Error with EUNAVAILABLE when the database cannot be reached or a
// transaction fails to commit, EINSUFFICIENT when the disk is full; anything
// else is internal.
type Store interface {
	TenantStore
	KeyStore
	EventStore
	UsageStore
	SettingStore
	AuditStore
	SigningSecretStore
	KeyLifecycleStore
	AlertStore
	PeopleStore

	// Ping checks that the database answers (for /ready).
	Ping(ctx context.Context) error
	// Maintain does periodic upkeep at now: PostgreSQL creates partitions
	// ahead and drops expired ones; both delete each tenant's events older
	// than its retention in chunks of at most chunk rows per statement.
	// It returns the number of events removed.
	Maintain(ctx context.Context, now time.Time, chunk int) (int, error)
	Close() error
}

// TenantStore keeps tenants.
type TenantStore interface {
	CreateTenant(ctx context.Context, t *Tenant) error
	// GetTenant returns ErrNotFound for an unknown id.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// ListTenants returns all tenants, oldest first.
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// UpdateTenant applies p atomically and returns the new tenant.
	UpdateTenant(ctx context.Context, id string, p TenantPatch) (*Tenant, error)
}

// KeyStore keeps API keys (hashes only).
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// GetAPIKeyByHash returns ErrNotFound for an unknown hash. It returns
	// revoked and expired keys too; the caller decides.
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]*APIKey, error)
	// RevokeAPIKey sets revoked_at (keeping an earlier one); ErrNotFound
	// when the key does not belong to the tenant.
	RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error
}

// EventStore keeps events.
type EventStore interface {
	// InsertEvents stores events (which carry ID, TenantID == tenantID and
	// ContentHash) in one transaction and returns one result per event, in
	// order. An event whose external_id is already stored for the tenant, or
	// appears earlier in the same call, is not stored: it is a Duplicate if
	// its ContentHash matches the stored one, a Conflict otherwise, and the
	// result carries the stored id. Uniqueness of (tenant, external_id) is
	// enforced by the database, so concurrent calls create exactly one
	// event. On error nothing of the call is stored — except EUNKNOWN: the
	// COMMIT was sent but its answer was lost and the database could not be
	// asked afterwards, so the events may be stored (only PostgreSQL; a
	// failed SQLite COMMIT is always rolled back). On PostgreSQL, an event
	// whose id is already stored with the same timestamp (the ingest log
	// re-delivering it) is not stored again and is a Duplicate with its own
	// id; SQLite, which log mode refuses, answers an error.
	InsertEvents(ctx context.Context, tenantID string, events []*Event) ([]InsertResult, error)
	// LookupExternalIDs returns what is stored for the given external ids
	// of the tenant; missing ones are absent from the map.
	LookupExternalIDs(ctx context.Context, tenantID string, externalIDs []string) (map[string]StoredRef, error)
	// GetEvent returns ErrNotFound for a missing id or another tenant's.
	GetEvent(ctx context.Context, tenantID, id string) (*Event, error)
	// SearchEvents returns at most f.Limit events matching f, newest first
	// by (timestamp, id), starting after f.After or skipping f.Offset.
	// Limit 0 means DefaultSearchLimit; callers may ask for up to
	// MaxSearchLimit+1 (a full page and one more, to learn whether another
	// page follows).
	SearchEvents(ctx context.Context, tenantID string, f EventFilter) ([]*Event, error)
	// EraseUserEvents deletes every event of the tenant whose user_id is
	// userID (a data-subject erasure, GDPR art. 17), in transactions of at
	// most chunk events (0: a default), and returns how many it deleted.
	// What one transaction deleted stays deleted if a later one fails or
	// ctx ends: the count so far is returned with the error, and calling
	// again finishes the job (a second call returns 0). The erased events'
	// external ids stay taken until the events would have expired: a
	// replay is answered Duplicate (or Conflict) with the erased id by
	// InsertEvents and LookupExternalIDs, and is not stored again, so an
	// erasure sticks. userID must not be empty (EINVALID).
	EraseUserEvents(ctx context.Context, tenantID, userID string, chunk int) (int, error)
	// EventHistogram counts the events matching q.Filter (whose Start and
	// End are set; paging ignored) per bucket of q.Interval and, when
	// q.GroupBy is set, per group: the q.Groups groups with the largest
	// counts over the range keep their name, the rest are summed in Other
	// rows. Only non-zero rows are returned, in no particular order; see
	// HistogramCount for what the group of an event is.
	EventHistogram(ctx context.Context, tenantID string, q HistogramQuery) ([]HistogramCount, error)
}

// DefaultEraseChunk is the events per transaction of EraseUserEvents when
// the caller gives none.
const DefaultEraseChunk = 1000

// UsageCount is one counter of one tenant for one hour.
type UsageCount struct {
	TenantID string
	Hour     time.Time // truncated to the hour, UTC
	Metric   string    // "created", "duplicate", "conflict", "rate_limited", "rejected:<reason>"
	Count    int64
}

// UsageStore keeps per-hour accounting counters.
type UsageStore interface {
	// AddUsage adds the counts (upsert-increment) in one transaction.
	AddUsage(ctx context.Context, counts []UsageCount) error
	// ListUsage returns the tenant's counters with start <= hour < end.
	ListUsage(ctx context.Context, tenantID string, start, end time.Time) ([]UsageCount, error)
}

// SettingStore keeps a few server-wide values, such as the admin token hash.
type SettingStore interface {
	// GetSetting returns ErrNotFound when the key was never set.
	GetSetting(ctx context.Context, key string) (string, error)
	// SetSettingIfAbsent stores value unless key exists, and returns the
	// value stored in the end (so that concurrent first starts agree).
	SetSettingIfAbsent(ctx context.Context, key, value string) (string, error)
}
