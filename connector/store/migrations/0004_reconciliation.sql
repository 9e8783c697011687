-- Proof that every order is in the general ledger exactly once (docs/design.md §7).
CREATE TABLE reconciliation_runs (
    id              bigserial PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    gl_date_from    date        NOT NULL,
    gl_date_to      date        NOT NULL,
    state           text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    ais_calls       integer,
    jde_lines       integer,
    entries_checked integer,
    discrepancies   integer,
    error           text
);

CREATE TABLE reconciliation_items (
    id            bigserial PRIMARY KEY,
    run_id        bigint      NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('missing_in_jde', 'amount_differs', 'posted_twice',
                                                      'unknown_in_jde', 'not_posted', 'not_recorded')),
    batch_number  text,
    woo_id        bigint,
    expected      numeric(19, 4),
    found         numeric(19, 4),
    documents     text[],
    detail        text        NOT NULL
);
CREATE INDEX reconciliation_items_run ON reconciliation_items (run_id);
