-- Posts, written by users (identity owns them; author_id is their id). The slug is derived from
-- the title when the post is created and then stays, so links keep working after edits.
CREATE TABLE posts (
    id           uuid        PRIMARY KEY,
    author_id    uuid        NOT NULL,
    title        text        NOT NULL,
    slug         text        NOT NULL,
    body         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'DRAFT'
                 CONSTRAINT posts_status_check CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    -- Full-text search: title ranks above body.
    search       tsvector    GENERATED ALWAYS AS (
                     setweight(to_tsvector('english'::regconfig, title), 'A')
                     || setweight(to_tsvector('english'::regconfig, body), 'B')
                 ) STORED,
    CONSTRAINT posts_slug_key UNIQUE (slug),
    CONSTRAINT posts_published_at_check CHECK (status <> 'PUBLISHED' OR published_at IS NOT NULL)
);
CREATE INDEX posts_search ON posts USING gin (search);
CREATE INDEX posts_author ON posts (author_id, id DESC);
CREATE INDEX posts_status ON posts (status, id DESC);

-- Tags: normalised names (lower-case words joined by hyphens), many-to-many with posts.
CREATE TABLE tags (
    name       text        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE post_tags (
    post_id uuid NOT NULL CONSTRAINT post_tags_post_fkey REFERENCES posts (id) ON DELETE CASCADE,
    tag     text NOT NULL CONSTRAINT post_tags_tag_fkey REFERENCES tags (name),
    CONSTRAINT post_tags_pkey PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag ON post_tags (tag, post_id DESC);

-- Comments on published posts, threaded one level: a reply's parent is a top-level comment of
-- the same post (the composite key below holds the "same post" half; the service refuses
-- replies to replies).
CREATE TABLE comments (
    id         uuid        PRIMARY KEY,
    post_id    uuid        NOT NULL CONSTRAINT comments_post_fkey REFERENCES posts (id) ON DELETE CASCADE,
    author_id  uuid        NOT NULL,
    parent_id  uuid,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT comments_id_post_key UNIQUE (id, post_id),
    CONSTRAINT comments_parent_fkey FOREIGN KEY (parent_id, post_id)
        REFERENCES comments (id, post_id) ON DELETE CASCADE
);
CREATE INDEX comments_top_level ON comments (post_id, id) WHERE parent_id IS NULL;
CREATE INDEX comments_replies ON comments (parent_id, id) WHERE parent_id IS NOT NULL;

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
