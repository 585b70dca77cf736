-- Alerting: rules, alerts with their history, silences, notifications with
-- their attempts, and the evaluator's lease.

-- +goose Up
CREATE TABLE alert_rules (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    spec       jsonb NOT NULL, -- pulse.RuleSpec, secrets included
    enabled    boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX alert_rules_tenant ON alert_rules (tenant_id, created_at, id);

CREATE TABLE alerts (
    id              uuid PRIMARY KEY, -- UUIDv7: newest first by id
    tenant_id       text NOT NULL REFERENCES tenants (id),
    rule_id         text NOT NULL,
    rule_name       text NOT NULL,
    group_key       text NOT NULL,
    group_labels    jsonb,
    status          text NOT NULL,
    value           double precision NOT NULL,
    threshold       double precision NOT NULL,
    started_at      timestamptz NOT NULL,
    resolved_at     timestamptz,
    acknowledged_at timestamptz,
    sample_ids      text[] NOT NULL,
    silenced        boolean NOT NULL DEFAULT false
);
-- At most one firing alert per rule and group, whichever node evaluates.
CREATE UNIQUE INDEX alerts_open ON alerts (rule_id, group_key) WHERE status = 'firing';
CREATE INDEX alerts_tenant ON alerts (tenant_id, id DESC);
CREATE INDEX alerts_tenant_rule ON alerts (tenant_id, rule_id, id DESC);

CREATE TABLE alert_history (
    alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    seq      integer NOT NULL,
    status   text NOT NULL,
    at       timestamptz NOT NULL,
    value    double precision NOT NULL,
    PRIMARY KEY (alert_id, seq)
);

CREATE TABLE silences (
    id         uuid PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    rule_id    text NOT NULL DEFAULT '',
    matchers   jsonb,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX silences_tenant ON silences (tenant_id, created_at);
CREATE INDEX silences_ends ON silences (ends_at);

CREATE TABLE notifications (
    id           uuid PRIMARY KEY, -- the webhook-id
    tenant_id    text NOT NULL REFERENCES tenants (id),
    alert_id     text NOT NULL DEFAULT '',
    rule_id      text NOT NULL,
    kind         text NOT NULL,
    url          text NOT NULL,
    secret       text NOT NULL,
    payload      bytea NOT NULL,
    status       text NOT NULL,
    round        integer NOT NULL DEFAULT 0,
    queued       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX notifications_alert ON notifications (tenant_id, alert_id, created_at);
CREATE INDEX notifications_unqueued ON notifications (created_at) WHERE NOT queued;
CREATE INDEX notifications_pending ON notifications (status) WHERE status = 'pending';

CREATE TABLE notification_attempts (
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    at              timestamptz NOT NULL,
    outcome         text NOT NULL,
    status_code     integer NOT NULL DEFAULT 0,
    error           text NOT NULL DEFAULT '',
    duration_ms     bigint NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);

CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE notification_attempts;
DROP TABLE notifications;
DROP TABLE silences;
DROP TABLE alert_history;
DROP TABLE alerts;
DROP TABLE alert_rules;
