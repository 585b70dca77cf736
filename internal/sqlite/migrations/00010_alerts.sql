-- Alerting: rules, alerts with their history, silences, notifications with
-- their attempts, and the evaluator's lease. Times are unix microseconds.

-- +goose Up
CREATE TABLE alert_rules (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    spec       TEXT    NOT NULL, -- JSON pulse.RuleSpec, secrets included
    enabled    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE INDEX alert_rules_tenant ON alert_rules (tenant_id, created_at, id);

CREATE TABLE alerts (
    id              TEXT    NOT NULL PRIMARY KEY, -- UUIDv7: newest first by id
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id         TEXT    NOT NULL,
    rule_name       TEXT    NOT NULL,
    group_key       TEXT    NOT NULL,
    group_labels    TEXT,   -- JSON object
    status          TEXT    NOT NULL,
    value           REAL    NOT NULL,
    threshold       REAL    NOT NULL,
    started_at      INTEGER NOT NULL,
    resolved_at     INTEGER,
    acknowledged_at INTEGER,
    sample_ids      TEXT    NOT NULL, -- JSON array
    silenced        INTEGER NOT NULL DEFAULT 0
) STRICT;
-- At most one firing alert per rule and group, whoever evaluates.
CREATE UNIQUE INDEX alerts_open ON alerts (rule_id, group_key) WHERE status = 'firing';
CREATE INDEX alerts_tenant ON alerts (tenant_id, id DESC);
CREATE INDEX alerts_tenant_rule ON alerts (tenant_id, rule_id, id DESC);

CREATE TABLE alert_history (
    alert_id TEXT    NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    status   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    value    REAL    NOT NULL,
    PRIMARY KEY (alert_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE silences (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id    TEXT    NOT NULL DEFAULT '',
    matchers   TEXT,   -- JSON object
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    comment    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX silences_tenant ON silences (tenant_id, created_at);
CREATE INDEX silences_ends ON silences (ends_at);

CREATE TABLE notifications (
    id           TEXT    NOT NULL PRIMARY KEY, -- the webhook-id
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alert_id     TEXT    NOT NULL DEFAULT '',
    rule_id      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    url          TEXT    NOT NULL,
    secret       TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    status       TEXT    NOT NULL,
    round        INTEGER NOT NULL DEFAULT 0,
    queued       INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX notifications_alert ON notifications (tenant_id, alert_id, created_at);
CREATE INDEX notifications_unqueued ON notifications (created_at) WHERE queued = 0;
CREATE INDEX notifications_pending ON notifications (status) WHERE status = 'pending';

CREATE TABLE notification_attempts (
    notification_id TEXT    NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    outcome         TEXT    NOT NULL,
    status_code     INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT '',
    duration_ms     INTEGER NOT NULL,
    PRIMARY KEY (notification_id, attempt)
) STRICT, WITHOUT ROWID;

CREATE TABLE leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
DROP TABLE notification_attempts;
DROP TABLE notifications;
DROP TABLE silences;
DROP TABLE alert_history;
DROP TABLE alerts;
DROP TABLE alert_rules;
