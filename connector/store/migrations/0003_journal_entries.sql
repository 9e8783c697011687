-- One row per posting (sale now; refunds and cancellations later), unique batch number.
CREATE TABLE journal_entries (
    id               bigserial PRIMARY KEY,
    order_id         bigint      NOT NULL REFERENCES orders (id),
    kind             text        NOT NULL DEFAULT 'sale'
                     CHECK (kind IN ('sale', 'refund', 'cancellation')),
    batch_number     text        NOT NULL UNIQUE,
    company          text        NOT NULL,
    document_type    text        NOT NULL,
    gl_date          date        NOT NULL,
    currency         text        NOT NULL,
    total_debit      numeric(19, 4) NOT NULL,
    lines            jsonb       NOT NULL,       -- [{line, account, amount (string), explanation}]
    address_number   bigint,
    document_number  text,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'posted')),
    posted_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_order ON journal_entries (order_id);
CREATE INDEX journal_entries_gl_date ON journal_entries (gl_date);

-- The sweeper looks for orders whose claim ran out.
CREATE INDEX orders_unfinished ON orders (lease_until) WHERE state IN ('ready', 'posting');
