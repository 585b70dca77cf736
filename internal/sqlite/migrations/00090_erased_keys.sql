-- Data-subject erasure (issue 16): the idempotency keys of erased events.
-- An erased event leaves its (tenant, external_id) here, with the erased
-- id and content hash, so that a replay of it is answered as a duplicate
-- instead of storing the erased data again. On PostgreSQL the keys live
-- in event_keys already. Rows expire with the tenant's retention, like
-- the events they stand for (Maintain).

-- +goose Up
CREATE TABLE erased_keys (
    tenant       INTEGER NOT NULL, -- tenants.num
    external_id  TEXT    NOT NULL,
    id           TEXT    NOT NULL, -- the erased event's id
    content_hash TEXT    NOT NULL,
    ts           INTEGER NOT NULL, -- the erased event's ts, for retention
    PRIMARY KEY (tenant, external_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX erased_keys_ts ON erased_keys (tenant, ts);

-- +goose Down
-- Not supported (pulsestream only migrates up): restore a backup instead.
