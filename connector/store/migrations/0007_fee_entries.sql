-- A gateway fee that appears after the sale was posted is its own entry, WC-<order>-F.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('sale', 'refund', 'cancellation', 'fees'));
