-- People (issue 14): users, their memberships in tenants, server-side
-- sessions and invitations. Secrets are never stored in the clear:
-- password_hash is an argon2id PHC string, totp_secret is sealed by the
-- service, sessions and invitations keep only the hash of their token.

-- +goose Up
-- email_key is the lower-cased email (lowered by the service in Go, the
-- same way on both backends): emails are unique regardless of case.
CREATE TABLE users (
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            text PRIMARY KEY,
    email         text NOT NULL,
    email_key     text NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL DEFAULT '',
    operator      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    totp_secret   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE memberships (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE invitations (
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash  text NOT NULL UNIQUE,
    invited_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, seq);

-- +goose Down
DROP TABLE invitations;
DROP TABLE sessions;
DROP TABLE memberships;
DROP TABLE users;
