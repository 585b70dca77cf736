-- Compact events (issue 6): the same data in about a third of the bytes and
-- twice the insert rate (measured in BENCHMARKS.md, "SQLite schema").
--
--   * tenants get a small integer (num) and events/tag rows carry it instead
--     of the 36-character tenant id that every index entry used to repeat;
--   * events are a rowid table (seq): index entries end in the 8-byte rowid
--     instead of (ts, 36-character id);
--   * indexes are ascending: new events land at the right edge of each
--     range, so pages fill instead of splitting in half (DESC indexes grew
--     to twice the size); SQLite reads them backwards for newest-first;
--   * no index on severity or status_code: with five severities and a few
--     dozen codes, newest-first walks the ts index and stops after a page.

-- +goose Up
ALTER TABLE tenants ADD COLUMN num INTEGER;
UPDATE tenants SET num = rowid;
CREATE UNIQUE INDEX tenants_num ON tenants (num);

DROP TRIGGER events_delete_tags;
ALTER TABLE events RENAME TO events_v1;
ALTER TABLE event_tags RENAME TO event_tags_v1;
DROP INDEX events_external_id;
DROP INDEX events_ts;
DROP INDEX events_event_type;
DROP INDEX events_service;
DROP INDEX events_endpoint;
DROP INDEX events_user_id;
DROP INDEX events_status_code;
DROP INDEX events_severity;

CREATE TABLE events (
    seq          INTEGER NOT NULL PRIMARY KEY, -- the rowid: insertion order
    id           TEXT    NOT NULL,             -- UUIDv7, the API's id
    tenant       INTEGER NOT NULL,             -- tenants.num
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

CREATE UNIQUE INDEX events_id ON events (id);
-- Idempotency is enforced here, so concurrent inserts create one event.
CREATE UNIQUE INDEX events_external_id ON events (tenant, external_id) WHERE external_id IS NOT NULL;
-- Newest-first search (read backwards; ties on ts are ordered by id in a
-- small sort) and retention purges.
CREATE INDEX events_ts ON events (tenant, ts);
CREATE INDEX events_event_type ON events (tenant, event_type, ts);
CREATE INDEX events_service ON events (tenant, service, ts);
CREATE INDEX events_endpoint ON events (tenant, endpoint, ts);
CREATE INDEX events_user_id ON events (tenant, user_id, ts);

-- One row per tag of an event, so that a tag filter walks an index in
-- newest-first order and further tags are point lookups on the key.
CREATE TABLE event_tags (
    tenant INTEGER NOT NULL,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    ts     INTEGER NOT NULL,
    seq    INTEGER NOT NULL, -- events.seq
    PRIMARY KEY (tenant, key, value, ts, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO events (id, tenant, external_id, event_type, severity, service, endpoint, status_code,
                    user_id, message, tags, ts, received_at, payload, content_hash)
SELECT o.id, t.num, o.external_id, o.event_type, o.severity, o.service, o.endpoint, o.status_code,
       o.user_id, o.message, o.tags, o.ts, o.received_at, o.payload, o.content_hash
FROM events_v1 AS o JOIN tenants AS t ON t.id = o.tenant_id
ORDER BY o.id;

INSERT INTO event_tags (tenant, key, value, ts, seq)
SELECT e.tenant, j.key, j.value, e.ts, e.seq
FROM events AS e, json_each(e.tags) AS j
WHERE e.tags IS NOT NULL;

DROP TABLE event_tags_v1;
DROP TABLE events_v1;

-- Tag rows go with their event, whoever deletes it.
-- +goose StatementBegin
CREATE TRIGGER events_delete_tags AFTER DELETE ON events WHEN OLD.tags IS NOT NULL
BEGIN
    DELETE FROM event_tags
    WHERE tenant = OLD.tenant
      AND (key, value) IN (SELECT j.key, j.value FROM json_each(OLD.tags) AS j)
      AND ts = OLD.ts
      AND seq = OLD.seq;
END;
-- +goose StatementEnd

-- +goose Down
-- Not supported (pulsestream only migrates up): restore a backup instead.
