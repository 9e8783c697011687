-- Foundation: deliveries as received, the connector's own orders and customers,
-- the append-only audit log and the watermarks of the pollers (docs/design.md §7).

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    source          text        NOT NULL,          -- X-WC-Webhook-Source, normalised
    topic           text        NOT NULL,          -- order.updated, customer.created, ...
    webhook_id      text,
    wc_delivery_id  text,                          -- new for every delivery: not a key
    body            bytea       NOT NULL,          -- the exact bytes that were signed
    body_sha256     bytea       NOT NULL,
    -- What makes a delivery a repeat: the body hash, plus the delivery id for topics
    -- whose body carries no version (*.deleted is only {"id": N}).
    dedupe_key      bytea       NOT NULL,
    state           text        NOT NULL DEFAULT 'received'
                    CHECK (state IN ('received', 'queued', 'done', 'error', 'ignored')),
    error           text,
    resource_id     bigint,
    attempts        integer     NOT NULL DEFAULT 0,
    lease_until     timestamptz NOT NULL DEFAULT now(),
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    UNIQUE (source, topic, dedupe_key)
);
-- The sweeper's work list: only unfinished deliveries are indexed.
CREATE INDEX deliveries_unfinished ON deliveries (lease_until) WHERE state IN ('received', 'queued');
CREATE INDEX deliveries_resource ON deliveries (source, resource_id);

CREATE TABLE orders (
    id                  bigserial PRIMARY KEY,
    source              text        NOT NULL,
    woo_id              bigint      NOT NULL,
    number              text,
    status              text        NOT NULL,      -- WooCommerce's order status
    currency            text,
    total               numeric(19, 4),
    payment_method      text,
    customer_id         bigint,                    -- WooCommerce customer id, 0 = guest
    billing_email       text,
    date_created_gmt    timestamptz,
    date_modified_gmt   timestamptz,
    date_paid_gmt       timestamptz,
    date_completed_gmt  timestamptz,
    payload             jsonb       NOT NULL,
    deleted             boolean     NOT NULL DEFAULT false,
    state               text        NOT NULL DEFAULT 'awaiting_payment'
                        CHECK (state IN ('awaiting_payment', 'ready', 'posting', 'posted',
                                         'failed', 'needs_attention', 'reversed')),
    batch_number        text,
    document_number     text,
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text,
    lease_until         timestamptz,
    last_delivery_id    bigint      REFERENCES deliveries (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, woo_id)
);
CREATE INDEX orders_state ON orders (state, lease_until);

CREATE TABLE customers (
    id                  bigserial PRIMARY KEY,
    source              text        NOT NULL,
    woo_id              bigint,                    -- NULL for a guest (known by email)
    email               text,
    first_name          text,
    last_name           text,
    payload             jsonb,
    date_modified_gmt   timestamptz,
    deleted             boolean     NOT NULL DEFAULT false,
    address_number      bigint,                    -- JDE AN8, once known
    last_delivery_id    bigint      REFERENCES deliveries (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_woo_id ON customers (source, woo_id) WHERE woo_id IS NOT NULL;
CREATE UNIQUE INDEX customers_guest_email ON customers (source, lower(email)) WHERE woo_id IS NULL;
CREATE INDEX customers_email ON customers (lower(email));

CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    subject_type  text        NOT NULL,            -- delivery, order, customer, ais
    subject_id    text,
    action        text        NOT NULL,            -- delivery.processed, order.state, ais.call ...
    outcome       text,
    duration_ms   integer,
    request       jsonb,                           -- redacted summaries only
    response      jsonb,
    detail        text
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id, at);

-- Append-only: the audit trail is evidence, so the database refuses to rewrite it.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

CREATE TABLE sync_state (
    key         text PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
