"""Which JD Edwards the connector's records speak of: the sandbox or a real server.

The records say which orders are posted and which customers have an address number. Those of
the sandbox JDE are fiction for a real one: pointed at a real server, a database holding them
would skip real orders as "already posted" and link customers to Address Book numbers that do
not exist. So the database remembers its JDE (`sync_state` key `jde_target`) once it holds a
posting or a cross-reference, and a process configured for another JDE refuses to start,
saying how to start clean (`connector db reset --sandbox`, or `make clean` for the embedded one).
"""
from __future__ import annotations

from connector.store import sync_state

KEY = "jde_target"


class MixedLedgers(Exception):
    """The database holds postings made to another JDE than the one configured."""


def describe(target: dict) -> str:
    if target.get("kind") == "sandbox":
        return "the sandbox JDE"
    return f"the JDE at {target.get('url')} (environment {target.get('environment') or '-'})"


def _holds_records(cur) -> bool:
    cur.execute("SELECT EXISTS (SELECT 1 FROM journal_entries WHERE state = 'posted') "
                "OR EXISTS (SELECT 1 FROM customers WHERE address_number IS NOT NULL) AS held")
    return bool(cur.fetchone()["held"])


def check(cur, target: dict) -> None:
    """Refuse a database whose postings were made to another JDE; remember this one otherwise."""
    stored = sync_state.get(cur, KEY)
    if stored == target:
        return
    if stored is not None and _holds_records(cur):
        how = ("`connector db reset --sandbox` empties it (or `make clean` for the embedded one under var/)"
               if stored.get("kind") == "sandbox" else
               "use the database that belongs to this JDE, or a new one")
        raise MixedLedgers(f"this database holds postings and Address Book links made to {describe(stored)}, "
                           f"but the connector is configured for {describe(target)}: {how}.")
    sync_state.put(cur, KEY, target)
