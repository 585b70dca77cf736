-- Fewer indexes per event (issue 6). severity has five values and
-- status_code a few dozen: a newest-first page filtered on them walks the
-- (tenant_id, ts, id) index and stops after the limit, so their composite
-- indexes cost every insert (measured: `bench storage` 22,421 → 24,481
-- rows/s without them) and saved little on search.

-- +goose Up
DROP INDEX IF EXISTS events_severity;
DROP INDEX IF EXISTS events_status_code;

-- +goose Down
CREATE INDEX events_status_code ON events (tenant_id, status_code, ts DESC, id DESC);
CREATE INDEX events_severity ON events (tenant_id, severity, ts DESC, id DESC);
