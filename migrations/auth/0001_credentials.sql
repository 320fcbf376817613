-- Credentials: the auth service owns user ids; identity projects them from auth.signed_up.
CREATE TABLE credentials (
    user_id             uuid PRIMARY KEY,
    email               text        NOT NULL,
    password_hash       text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credentials_email_key ON credentials (lower(email));

-- Scopes granted to a user (fed by authorization events; bootstrap admins from configuration).
CREATE TABLE granted_scopes (
    user_id uuid NOT NULL REFERENCES credentials (user_id) ON DELETE CASCADE,
    scope   text NOT NULL,
    PRIMARY KEY (user_id, scope)
);

-- Signing keys. The newest active key signs; retired keys stay published in the JWKS until
-- every token they signed has expired.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    algorithm   text        NOT NULL CHECK (algorithm IN ('EdDSA')),
    private_pem text        NOT NULL,
    public_jwk  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- A login session: one chain of refresh tokens. Reusing a spent token revokes the family.
CREATE TABLE token_families (
    id             uuid PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES credentials (user_id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX token_families_user ON token_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  uuid        NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Password reset tokens: random, stored as SHA-256, single-use, expiring.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES credentials (user_id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    event        jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
