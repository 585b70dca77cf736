-- Times are INTEGER unix microseconds (UTC), the precision pulse promises.

-- +goose Up
CREATE TABLE tenants (
    id                    TEXT    NOT NULL PRIMARY KEY,
    name                  TEXT    NOT NULL,
    rate_limit_per_minute INTEGER NOT NULL,
    retention_days        INTEGER NOT NULL,
    disabled              INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX tenants_created ON tenants (created_at, id);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL, -- JSON array of scope names
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE usage (
    tenant_id TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour      INTEGER NOT NULL,
    metric    TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour, metric)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    id           TEXT    NOT NULL PRIMARY KEY, -- UUIDv7: time ordered
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    external_id  TEXT,                         -- NULL when the client sent none
    event_type   TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    endpoint     TEXT    NOT NULL DEFAULT '',
    status_code  INTEGER,                      -- NULL when not set
    user_id      TEXT    NOT NULL DEFAULT '',
    message      TEXT    NOT NULL DEFAULT '',
    tags         TEXT,                         -- JSON object, NULL when empty
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    payload      BLOB,                         -- the JSON bytes as received
    content_hash TEXT    NOT NULL
) STRICT;

-- Idempotency is enforced here, so concurrent inserts create one event.
CREATE UNIQUE INDEX events_external_id ON events (tenant_id, external_id) WHERE external_id IS NOT NULL;

-- Newest-first search (keyset on ts, id) and retention purges.
CREATE INDEX events_ts ON events (tenant_id, ts DESC, id DESC);
CREATE INDEX events_event_type ON events (tenant_id, event_type, ts DESC, id DESC);
CREATE INDEX events_service ON events (tenant_id, service, ts DESC, id DESC);
CREATE INDEX events_endpoint ON events (tenant_id, endpoint, ts DESC, id DESC);
CREATE INDEX events_user_id ON events (tenant_id, user_id, ts DESC, id DESC);
CREATE INDEX events_status_code ON events (tenant_id, status_code, ts DESC, id DESC);
CREATE INDEX events_severity ON events (tenant_id, severity, ts DESC, id DESC);

-- One row per tag of an event, so that a tag filter walks an index in
-- newest-first order and further tags are point lookups on the key.
CREATE TABLE event_tags (
    tenant_id TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    event_id  TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, key, value, ts DESC, event_id DESC)
) STRICT, WITHOUT ROWID;

-- Tag rows go with their event, whoever deletes it.
-- +goose StatementBegin
CREATE TRIGGER events_delete_tags AFTER DELETE ON events WHEN OLD.tags IS NOT NULL
BEGIN
    DELETE FROM event_tags
    WHERE tenant_id = OLD.tenant_id
      AND (key, value) IN (SELECT j.key, j.value FROM json_each(OLD.tags) AS j)
      AND ts = OLD.ts
      AND event_id = OLD.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_delete_tags;
DROP TABLE event_tags;
DROP TABLE events;
DROP TABLE usage;
DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE tenants;
