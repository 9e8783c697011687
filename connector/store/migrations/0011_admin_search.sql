-- The admin's order list and its actions (README "Operation").
--
-- Who did it: an operator's action (replay, requeue, resolve) names its operator, `web:<admin
-- user>` or `cli:<OS user>`; NULL is the connector itself.
ALTER TABLE audit_log ADD COLUMN actor text;

-- `resolved`: a person settled an order by hand (fixed it in JDE, or decided it must not be
-- posted); final, like `posted`: no sweeper, webhook or reconciliation brings it back. The new
-- list only adds a state, so the rows already there satisfy it (NOT VALID, then VALIDATE: the
-- check is still proven on every row).
ALTER TABLE orders DROP CONSTRAINT orders_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_state_check
    CHECK (state IN ('awaiting_payment', 'ready', 'posting', 'posted', 'failed', 'needs_attention',
                     'reversed', 'resolved')) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_state_check;

-- The search box finds an order by each of these keys; each is one index probe (the query is a
-- UNION of them), never a scan of the orders table, which can hold millions. On such a table
-- these builds hold back order writes for their duration (webhooks are still stored and
-- answered: deliveries is another table).
CREATE INDEX orders_number ON orders (source, number);
-- Customer e-mail, exact or by its beginning (LIKE 'abc%' needs text_pattern_ops under any
-- collation but C); billing_email is a column, so no index on the payload is needed.
CREATE INDEX orders_billing_email ON orders (lower(billing_email) text_pattern_ops);
CREATE INDEX orders_batch_number ON orders (batch_number) WHERE batch_number IS NOT NULL;
CREATE INDEX orders_document_number ON orders (document_number) WHERE document_number IS NOT NULL;
-- Refunds, cancellations and late fees have their own batch and JDE document.
CREATE INDEX journal_entries_document_number ON journal_entries (document_number)
    WHERE document_number IS NOT NULL;
-- The date filter (the order's creation, a day of the store's time zone).
CREATE INDEX orders_created ON orders (date_created_gmt);
