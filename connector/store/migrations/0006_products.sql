-- Products and their categories (revenue by category, docs/ledger.md): fetched from the shop's
-- REST API once per unknown product, refreshed by product.created / product.updated webhooks.
CREATE TABLE products (
    source             text        NOT NULL,
    woo_id             bigint      NOT NULL,
    categories         jsonb       NOT NULL,          -- category slugs, in the shop's order
    payload            jsonb       NOT NULL,
    date_modified_gmt  timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, woo_id)
);
