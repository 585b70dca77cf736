-- Search indexes that end in (ts DESC, id DESC), so that "newest first with
-- a filter" walks one index in order and stops after LIMIT rows. The first
-- versions of the user_id, endpoint and status_code indexes were partial and
-- ended in ts only: with fresh statistics the planner then preferred walking
-- the (tenant_id, ts) index and filtering, which for a rare user_id read half
-- a partition (measured: 218 ms p50 at 1M events instead of ~2 ms).

-- +goose Up
DROP INDEX IF EXISTS events_user_id;
DROP INDEX IF EXISTS events_endpoint;
DROP INDEX IF EXISTS events_status_code;
DROP INDEX IF EXISTS events_severity;
CREATE INDEX events_user_id ON events (tenant_id, user_id, ts DESC, id DESC);
CREATE INDEX events_endpoint ON events (tenant_id, endpoint, ts DESC, id DESC);
CREATE INDEX events_status_code ON events (tenant_id, status_code, ts DESC, id DESC);
CREATE INDEX events_severity ON events (tenant_id, severity, ts DESC, id DESC);

-- +goose Down
DROP INDEX IF EXISTS events_user_id;
DROP INDEX IF EXISTS events_endpoint;
DROP INDEX IF EXISTS events_status_code;
DROP INDEX IF EXISTS events_severity;
CREATE INDEX events_endpoint ON events (tenant_id, endpoint, ts DESC) WHERE endpoint <> '';
CREATE INDEX events_user_id ON events (tenant_id, user_id, ts DESC) WHERE user_id <> '';
CREATE INDEX events_status_code ON events (tenant_id, status_code, ts DESC) WHERE status_code IS NOT NULL;
CREATE INDEX events_severity ON events (tenant_id, severity, ts DESC);
