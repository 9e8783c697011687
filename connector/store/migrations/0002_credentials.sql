-- Credentials entered with `connector credentials set …` (docs/design.md §4, §7).
-- Ciphertext only: the fields (and their names) live inside the Fernet token; the row
-- shows nothing but which set of credentials it is and which key encrypted it.

CREATE TABLE credentials (
    name             text        PRIMARY KEY,      -- 'ais', 'woo'
    ciphertext       bytea       NOT NULL,         -- Fernet token of a JSON document
    -- First 8 hex digits of sha256(key): tells which key to keep (or that
    -- `connector credentials rotate-key` is due) without revealing the key.
    key_fingerprint  text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
