-- +goose Up

CREATE TABLE tenants (
    seq                   bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                    text PRIMARY KEY,
    name                  text NOT NULL,
    rate_limit_per_minute integer NOT NULL,
    retention_days        integer NOT NULL,
    disabled              boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL
);

CREATE TABLE api_keys (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL,
    hash         text NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, seq);

-- events is range-partitioned by ts, one partition per UTC day. The service
-- creates partitions on demand (before inserting a batch) and ahead of time
-- (Maintain), and drops whole partitions once every tenant's retention has
-- passed them. Empty optional strings are '' and a missing status code is
-- NULL, so that the filters are plain equalities.
CREATE TABLE events (
    tenant_id    text NOT NULL,
    id           uuid NOT NULL,
    external_id  text,
    event_type   text NOT NULL,
    severity     text NOT NULL,
    service      text NOT NULL,
    endpoint     text NOT NULL DEFAULT '',
    status_code  integer,
    user_id      text NOT NULL DEFAULT '',
    message      text NOT NULL DEFAULT '',
    tags         jsonb,
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    payload      json, -- json, not jsonb: the payload is returned byte for byte
    content_hash text NOT NULL
) PARTITION BY RANGE (ts);

-- The search order and keyset (ts, id) < (...), newest first.
CREATE UNIQUE INDEX events_tenant_ts_id ON events (tenant_id, ts DESC, id DESC);
-- GetEvent knows only the id.
CREATE INDEX events_id ON events (id);
-- One composite per equality filter, ending in the search order so that a
-- filtered page is an index range scan that stops at the limit.
CREATE INDEX events_event_type ON events (tenant_id, event_type, ts DESC, id DESC);
CREATE INDEX events_service ON events (tenant_id, service, ts DESC, id DESC);
CREATE INDEX events_endpoint ON events (tenant_id, endpoint, ts DESC) WHERE endpoint <> '';
CREATE INDEX events_user_id ON events (tenant_id, user_id, ts DESC) WHERE user_id <> '';
CREATE INDEX events_status_code ON events (tenant_id, status_code, ts DESC) WHERE status_code IS NOT NULL;
CREATE INDEX events_severity ON events (tenant_id, severity, ts DESC);
CREATE INDEX events_external_id ON events (tenant_id, external_id) WHERE external_id IS NOT NULL;
-- Tag filters are written as tags @> '{"k":"v"}', which this index serves.
CREATE INDEX events_tags ON events USING gin (tags jsonb_path_ops);

-- A unique index on events would have to include ts, so idempotency keys
-- live in their own table; a key and its event are inserted in the same
-- transaction and expire together.
CREATE TABLE event_keys (
    tenant_id    text NOT NULL,
    external_id  text NOT NULL,
    event_id     uuid NOT NULL,
    content_hash text NOT NULL,
    ts           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, external_id)
);
CREATE INDEX event_keys_tenant_ts ON event_keys (tenant_id, ts);

CREATE TABLE usage_counts (
    tenant_id text NOT NULL,
    hour      timestamptz NOT NULL,
    metric    text NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (tenant_id, hour, metric)
);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE usage_counts;
DROP TABLE event_keys;
DROP TABLE events;
DROP TABLE api_keys;
DROP TABLE tenants;
