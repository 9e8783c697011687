"""The records of one JDE are never used with another (rolled-back transactions on real Postgres)."""
import pytest

from connector import ledger_target

SANDBOX = {"kind": "sandbox"}
REAL = {"kind": "jde", "url": "https://ais.example.com", "environment": "JPD920"}


def _posting(db):
    db.execute("INSERT INTO customers (source, woo_id, email, address_number) VALUES ('s', NULL, 'a@b.c', 70001)")


def test_check_remembers_the_first_target(db):
    ledger_target.check(db, SANDBOX)
    ledger_target.check(db, SANDBOX)
    db.execute("SELECT value FROM sync_state WHERE key = %s", (ledger_target.KEY,))
    assert db.fetchone()["value"] == SANDBOX


@pytest.mark.parametrize("first, then, words", [
    (SANDBOX, REAL, "connector db reset --sandbox"),
    (REAL, SANDBOX, "the JDE at https://ais.example.com"),
    (REAL, REAL | {"environment": "JDV920"}, "environment JPD920"),
])
def test_check_refuses_records_of_another_jde(db, first, then, words):
    ledger_target.check(db, first)
    _posting(db)
    with pytest.raises(ledger_target.MixedLedgers) as caught:
        ledger_target.check(db, then)
    assert words in str(caught.value)


def test_check_without_records_moves_to_the_new_target(db):
    ledger_target.check(db, SANDBOX)
    ledger_target.check(db, REAL)          # nothing posted yet: nothing to mix up
    db.execute("SELECT value FROM sync_state WHERE key = %s", (ledger_target.KEY,))
    assert db.fetchone()["value"] == REAL
