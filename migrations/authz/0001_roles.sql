-- The permission vocabulary: `resource:action` strings. Services check them as token scopes.
CREATE TABLE permissions (
    name        text PRIMARY KEY
                CONSTRAINT permissions_name_shape
                CHECK (name ~ '^[a-z][a-z0-9_-]{0,47}:[a-z][a-z0-9_-]{0,47}$'),
    description text NOT NULL DEFAULT ''
);

-- Named sets of permissions. Built-in roles come with the schema.
CREATE TABLE roles (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL CONSTRAINT roles_name_key UNIQUE,
    description text        NOT NULL DEFAULT '',
    builtin     boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permissions (
    role_id    uuid NOT NULL CONSTRAINT role_permissions_role_fkey
               REFERENCES roles (id) ON DELETE CASCADE,
    permission text NOT NULL CONSTRAINT role_permissions_permission_fkey
               REFERENCES permissions (name),
    CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission)
);

-- A role held by a user, everywhere (resource NULL) or on one resource only. A user holds a
-- role at most once per resource; NULLS NOT DISTINCT makes that hold for the global grant too.
CREATE TABLE role_assignments (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    role_id    uuid        NOT NULL CONSTRAINT role_assignments_role_fkey
               REFERENCES roles (id) ON DELETE CASCADE,
    resource   text        CONSTRAINT role_assignments_resource_shape
               CHECK (resource IS NULL OR (resource <> '' AND length(resource) <= 200)),
    granted_by uuid,
    granted_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_assignments_key UNIQUE NULLS NOT DISTINCT (user_id, role_id, resource)
);
CREATE INDEX role_assignments_role ON role_assignments (role_id);

-- One row per user whose global assignments changed: a counter bumped under a row lock by every
-- change, so changes to one user are serialized and each scopes.changed event carries a version
-- consumers can order by.
CREATE TABLE scope_versions (
    user_id uuid   PRIMARY KEY,
    version bigint NOT NULL
);

INSERT INTO permissions (name, description) VALUES
    ('users:read', 'List users and see their private fields'),
    ('audit:read', 'Read the audit log'),
    ('blog:moderate', 'Moderate posts and comments of any author'),
    ('roles:manage', 'Create roles and grant or revoke them'),
    ('billing:manage', 'Manage plans, subscriptions and invoices of any customer');

INSERT INTO roles (id, name, description, builtin)
VALUES (gen_random_uuid(), 'admin', 'Every permission', true);

INSERT INTO role_permissions (role_id, permission)
SELECT r.id, p.name FROM roles r CROSS JOIN permissions p WHERE r.name = 'admin';

-- Transactional outbox (see tessera-kit events::outbox).
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    event        jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

-- Inbox of applied events (see tessera-kit events::consumer).
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
