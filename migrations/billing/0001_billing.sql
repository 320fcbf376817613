-- Billing: plans, customer subscriptions, invoices with line items, payments, idempotency keys,
-- and the test-mode payment provider's own record of charges. Money is bigint minor units
-- (cents) with an ISO 4217 currency code; never floating point.

CREATE TABLE plans (
    id          uuid PRIMARY KEY,
    code        text        NOT NULL,
    name        text        NOT NULL,
    price       bigint      NOT NULL,
    currency    char(3)     NOT NULL,
    "interval"  text        NOT NULL,
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_code_key UNIQUE (code),
    CONSTRAINT plans_code_format CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT plans_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT plans_price_positive CHECK (price > 0),
    CONSTRAINT plans_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT plans_interval_valid CHECK ("interval" IN ('month', 'year'))
);

-- Fixed ids, so every deployment names the seeded plans alike.
INSERT INTO plans (id, code, name, price, currency, "interval") VALUES
    ('00000000-0000-7000-8000-000000000001', 'starter-monthly', 'Starter', 900, 'EUR', 'month'),
    ('00000000-0000-7000-8000-000000000002', 'pro-monthly', 'Pro', 2900, 'EUR', 'month'),
    ('00000000-0000-7000-8000-000000000003', 'pro-yearly', 'Pro (yearly)', 29000, 'EUR', 'year'),
    ('00000000-0000-7000-8000-000000000004', 'team-monthly', 'Team', 9900, 'USD', 'month');

-- A customer's subscription to a plan. Status changes follow domain::subscription's transition
-- table; `payment_method` is the provider's reusable reference (never a card number) that
-- renewals charge.
CREATE TABLE subscriptions (
    id                   uuid PRIMARY KEY,
    user_id              uuid        NOT NULL,
    plan_id              uuid        NOT NULL REFERENCES plans (id),
    status               text        NOT NULL,
    payment_method       text        NOT NULL,
    current_period_start timestamptz NOT NULL,
    current_period_end   timestamptz NOT NULL,
    cancel_at_period_end boolean     NOT NULL DEFAULT false,
    canceled_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_status_valid
        CHECK (status IN ('incomplete', 'incomplete_expired', 'active', 'past_due', 'canceled')),
    CONSTRAINT subscriptions_period_order CHECK (current_period_end > current_period_start),
    CONSTRAINT subscriptions_canceled_at_iff_canceled
        CHECK ((status = 'canceled') = (canceled_at IS NOT NULL))
);
-- At most one live subscription per customer.
CREATE UNIQUE INDEX subscriptions_one_live_per_user ON subscriptions (user_id)
    WHERE status NOT IN ('canceled', 'incomplete_expired');
CREATE INDEX subscriptions_user ON subscriptions (user_id, created_at DESC);
-- What the renewal job scans.
CREATE INDEX subscriptions_due ON subscriptions (current_period_end)
    WHERE status IN ('active', 'past_due');
CREATE INDEX subscriptions_incomplete ON subscriptions (created_at) WHERE status = 'incomplete';

-- Invoice numbers without gaps: the counter row is taken just before commit, so a rolled-back
-- invoice gives its number back and the lock is held only briefly.
CREATE TABLE invoice_counter (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last      bigint  NOT NULL
);
INSERT INTO invoice_counter (last) VALUES (0);

CREATE TABLE invoices (
    id              uuid PRIMARY KEY,
    number          bigint      NOT NULL,
    user_id         uuid        NOT NULL,
    subscription_id uuid        REFERENCES subscriptions (id),
    status          text        NOT NULL,
    currency        char(3)     NOT NULL,
    total           bigint      NOT NULL,
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    issued_at       timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    paid_at         timestamptz,
    CONSTRAINT invoices_number_key UNIQUE (number),
    -- Lets payments reference (invoice, currency), so a payment is in its invoice's currency.
    CONSTRAINT invoices_id_currency_key UNIQUE (id, currency),
    -- One invoice per subscription period: a renewal issued twice is refused here too.
    CONSTRAINT invoices_one_per_period UNIQUE (subscription_id, period_start),
    CONSTRAINT invoices_status_valid CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
    CONSTRAINT invoices_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT invoices_total_nonnegative CHECK (total >= 0),
    CONSTRAINT invoices_period_order CHECK (period_end > period_start),
    CONSTRAINT invoices_due_after_issue CHECK (due_at >= issued_at),
    CONSTRAINT invoices_paid_at_iff_paid CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoices_user_newest ON invoices (user_id, number DESC);
CREATE INDEX invoices_subscription ON invoices (subscription_id) WHERE subscription_id IS NOT NULL;

CREATE TABLE invoice_lines (
    id          uuid PRIMARY KEY,
    invoice_id  uuid        NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position    int         NOT NULL,
    description text        NOT NULL,
    quantity    bigint      NOT NULL,
    unit_amount bigint      NOT NULL,
    amount      bigint      NOT NULL,
    CONSTRAINT invoice_lines_position_key UNIQUE (invoice_id, position),
    CONSTRAINT invoice_lines_quantity_positive CHECK (quantity > 0),
    CONSTRAINT invoice_lines_amount_is_product CHECK (amount = quantity * unit_amount)
);

-- An invoice's total is the sum of its lines, checked when the transaction commits (lines are
-- written after their invoice).
CREATE FUNCTION check_invoice_total() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    invoice uuid;
    expected bigint;
    actual bigint;
BEGIN
    IF TG_TABLE_NAME = 'invoices' THEN
        invoice := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        invoice := OLD.invoice_id;
    ELSE
        invoice := NEW.invoice_id;
    END IF;
    SELECT total INTO expected FROM invoices WHERE id = invoice;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(amount), 0) INTO actual FROM invoice_lines WHERE invoice_id = invoice;
    IF actual <> expected THEN
        RAISE EXCEPTION 'invoice % total % is not the sum of its lines %', invoice, expected, actual
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_total_matches_lines';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER invoices_total_matches_lines
    AFTER INSERT OR UPDATE OF total ON invoices
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_invoice_total();
CREATE CONSTRAINT TRIGGER invoice_lines_total_matches
    AFTER INSERT OR UPDATE OR DELETE ON invoice_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_invoice_total();

-- Attempts to collect an invoice, successful or declined.
CREATE TABLE payments (
    id                 uuid PRIMARY KEY,
    invoice_id         uuid        NOT NULL,
    amount             bigint      NOT NULL,
    currency           char(3)     NOT NULL,
    status             text        NOT NULL,
    provider           text        NOT NULL,
    provider_reference text        NOT NULL,
    failure_code       text,
    failure_message    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_invoice_currency_fkey FOREIGN KEY (invoice_id, currency)
        REFERENCES invoices (id, currency),
    CONSTRAINT payments_amount_positive CHECK (amount > 0),
    CONSTRAINT payments_status_valid CHECK (status IN ('succeeded', 'failed')),
    CONSTRAINT payments_failure_code_iff_failed
        CHECK ((status = 'failed') = (failure_code IS NOT NULL))
);
CREATE INDEX payments_invoice ON payments (invoice_id, created_at);
-- An invoice is paid once.
CREATE UNIQUE INDEX payments_one_success_per_invoice ON payments (invoice_id)
    WHERE status = 'succeeded';

-- Idempotency keys of money-moving requests. The first request inserts its row and holds it
-- (uncommitted) until it commits with the stored response; a concurrent duplicate blocks on the
-- primary key, then reads that response.
CREATE TABLE idempotency_keys (
    user_id     uuid        NOT NULL,
    key         text        NOT NULL,
    operation   text        NOT NULL,
    fingerprint bytea       NOT NULL,
    response    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The test-mode payment provider's own ledger: every charge it made, as an outside provider
-- would keep it. Written outside billing's transactions, so it survives their rollbacks.
CREATE TABLE test_provider_charges (
    id              text PRIMARY KEY,
    idempotency_key text        NOT NULL,
    amount          bigint      NOT NULL,
    currency        char(3)     NOT NULL,
    payment_method  text        NOT NULL,
    description     text        NOT NULL,
    outcome         text        NOT NULL,
    decline_code    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT test_provider_charges_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT test_provider_charges_outcome_valid CHECK (outcome IN ('succeeded', 'declined'))
);

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
