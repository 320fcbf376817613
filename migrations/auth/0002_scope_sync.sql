-- The last scopes.changed event applied per user. Authz numbers each user's changes; an event
-- with a version at or below the one applied here is older news and is ignored.
CREATE TABLE scope_versions (
    user_id    uuid        PRIMARY KEY REFERENCES credentials (user_id) ON DELETE CASCADE,
    version    bigint      NOT NULL,
    event_id   uuid        NOT NULL,
    event_time timestamptz NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
