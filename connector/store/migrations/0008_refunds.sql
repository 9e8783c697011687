-- WooCommerce's own record of each refund (GET /orders/{id}/refunds), kept so that posting,
-- replay and reconciliation never need the shop again: a reversing entry mirrors its lines,
-- taxes, date and whether the gateway returned the money.
CREATE TABLE refunds (
    source            text           NOT NULL,
    refund_id         bigint         NOT NULL,
    order_id          bigint         NOT NULL REFERENCES orders (id),
    woo_order_id      bigint         NOT NULL,
    amount            numeric(19, 4) NOT NULL,
    date_created_gmt  timestamptz    NOT NULL,
    refunded_payment  boolean        NOT NULL,
    reason            text           NOT NULL DEFAULT '',
    payload           jsonb          NOT NULL,
    fetched_at        timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (source, refund_id)
);
CREATE INDEX refunds_order ON refunds (order_id);

-- A recorded entry is re-sent exactly as recorded (a replay, a retry): keep all of it.
ALTER TABLE journal_entries ADD COLUMN explanation text;
ALTER TABLE journal_entries ADD COLUMN currency_mode text;
