-- The audit log: every domain event once, in the order it was recorded, each row chained to the
-- one before by a SHA-256 hash (see tessera-audit domain::chain for the exact encoding).
CREATE TABLE audit_log (
    seq         bigserial   PRIMARY KEY,
    event_id    uuid        NOT NULL,
    type        text        NOT NULL,
    source      text        NOT NULL,
    subject     text        NOT NULL,
    actor       text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    prev_hash   bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    -- The log is its own inbox: a redelivered event finds its row and adds nothing.
    CONSTRAINT audit_log_event_id_key UNIQUE (event_id)
);
-- Filters of auditEvents and User.auditTrail, each in the list order (seq).
CREATE INDEX audit_log_actor ON audit_log (actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_type ON audit_log (type, seq);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at);

-- Append-only: rows can be inserted, never changed or removed.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- The newest link of the chain. Every append locks this one row, so appends from any number of
-- instances form one chain; the verifier also checks that the log still ends here.
CREATE TABLE audit_chain_head (
    id            boolean     PRIMARY KEY DEFAULT true CHECK (id),
    last_seq      bigint      NOT NULL DEFAULT 0,
    last_event_id uuid,
    hash          bytea       NOT NULL CHECK (length(hash) = 32)
);
-- The genesis value the first row chains from: 32 zero bytes.
INSERT INTO audit_chain_head (hash) VALUES (decode(repeat('00', 32), 'hex'));

-- Transactional outbox (see tessera-kit events::outbox). Audit publishes nothing, but every
-- service runs the same relay over this table. There is no processed_events inbox: the unique
-- event id above plays that part.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    event        jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
