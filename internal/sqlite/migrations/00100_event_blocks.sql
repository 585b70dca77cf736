-- The parts event store (issue 16, docs/STORAGE.md): in a database whose
-- setting event_store is 'parts', events are not rows of `events` but
-- immutable blocks of one tenant's events (internal/colblock), written one
-- per tenant per group commit and merged in the background into larger
-- ones; event_keys settles exactly-once at write time. In a 'rows'
-- database both tables stay empty.

-- +goose Up
CREATE TABLE event_blocks (
    seq    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, -- never reused: a block deleted and a new one never share a seq
    tenant INTEGER NOT NULL,             -- tenants.num
    level  INTEGER NOT NULL,             -- 0: one group commit's events; n: merged n times
    count  INTEGER NOT NULL,             -- events in the block
    min_ts INTEGER NOT NULL,             -- microseconds, of the events' timestamps
    max_ts INTEGER NOT NULL,
    min_id TEXT    NOT NULL,             -- of the events' ids (UUIDv7)
    max_id TEXT    NOT NULL,
    bytes  INTEGER NOT NULL,             -- length of data
    meta   BLOB    NOT NULL,             -- colblock.MarshalMeta: read alone to skip the block
    data   BLOB    NOT NULL              -- colblock.Encode; last, so a meta read never loads it
) STRICT;
-- Newest-first search and retention: a tenant's blocks by their newest event.
CREATE INDEX event_blocks_ts ON event_blocks (tenant, max_ts);
-- GetEvent: the tenant's blocks whose id range holds the id.
CREATE INDEX event_blocks_tenant_id ON event_blocks (tenant, max_id);
-- The alert evaluator's and the live tail's scan in id order across tenants.
CREATE INDEX event_blocks_id ON event_blocks (max_id);

-- One row per stored event that has an external_id: exactly-once.
CREATE TABLE event_keys (
    tenant       INTEGER NOT NULL, -- tenants.num
    external_id  TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    ts           INTEGER NOT NULL, -- the event's ts: the key expires with it
    PRIMARY KEY (tenant, external_id)
) STRICT, WITHOUT ROWID;

-- +goose Down
-- Not supported (pulsestream only migrates up): restore a backup instead.
