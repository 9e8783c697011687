"""SQL of the admin's order list: search by one key, filter, a page at a time.

The orders table can hold millions of rows, so the search never scans it: each key the text
could be (order id or number, customer e-mail, batch, JDE document) is one index probe
(migration 0011), the probes are a UNION, and the filters and the page apply to what they found.
Without a search the page is read along the (source, woo_id) index, newest order first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from connector.store.orders import NEEDS_A_PERSON

PAGE_SIZE = 50
BIGINT_MAX = 2 ** 63 - 1
# Below this many characters a word is matched as a whole e-mail only: a prefix of one or two
# letters would match a large share of the customers.
EMAIL_PREFIX_MIN = 3
_DIGITS = re.compile(r"\d{1,19}")


@dataclass(frozen=True)
class OrderFilter:
    text: str = ""                            # an order number, e-mail (or its beginning), batch, JDE document
    state: str | None = None
    created_from: datetime | None = None      # inclusive, an instant (the store's midnight)
    created_before: datetime | None = None    # exclusive
    attention: bool = False                   # only the orders waiting for a person


def _like_prefix(text: str) -> str:
    # LIKE's wildcards in what was typed match themselves (backslash is LIKE's default escape).
    return re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _key_probes(source: str, text: str) -> tuple[list[str], list]:
    """One indexed SELECT of order ids per key the search text could be."""
    key = text.strip().removeprefix("#").strip()    # the shop writes order numbers as #727
    probes, args = [], []

    def probe(sql, *values):
        probes.append(sql)
        args.extend(values)

    probe("SELECT id FROM orders WHERE source = %s AND number = %s", source, key)
    if _DIGITS.fullmatch(key):
        if 0 < int(key) <= BIGINT_MAX:
            probe("SELECT id FROM orders WHERE source = %s AND woo_id = %s", source, int(key))
        # JDE document numbers are numbers; held as the text AIS answered.
        for document in {key, str(int(key))}:
            probe("SELECT id FROM orders WHERE document_number = %s", document)
            probe("SELECT order_id FROM journal_entries WHERE document_number = %s", document)
        return probes, args
    if key.upper().startswith("WC-"):
        # A sale's batch is on the order; refunds', cancellations' and late fees' only on their entry.
        probe("SELECT id FROM orders WHERE batch_number = %s", key.upper())
        probe("SELECT order_id FROM journal_entries WHERE batch_number = %s", key.upper())
        return probes, args
    email = key.lower()
    if len(email) >= EMAIL_PREFIX_MIN:
        probe("SELECT id FROM orders WHERE lower(billing_email) LIKE %s", _like_prefix(email))
    else:
        probe("SELECT id FROM orders WHERE lower(billing_email) = %s", email)
    return probes, args


def _where(source: str, wanted: OrderFilter) -> tuple[str, list]:
    conditions, args = ["o.source = %s"], [source]
    if wanted.text.strip():
        probes, probe_args = _key_probes(source, wanted.text)
        conditions.append(f"o.id IN ({' UNION '.join(probes)})")
        args += probe_args
    if wanted.state:
        conditions.append("o.state = %s")
        args.append(wanted.state)
    if wanted.attention:
        conditions.append("o.state = ANY(%s)")
        args.append(list(NEEDS_A_PERSON))
    if wanted.created_from is not None:
        conditions.append("o.date_created_gmt >= %s")
        args.append(wanted.created_from)
    if wanted.created_before is not None:
        conditions.append("o.date_created_gmt < %s")
        args.append(wanted.created_before)
    return " AND ".join(conditions), args


def count(cur, *, source: str, wanted: OrderFilter) -> int:
    where, args = _where(source, wanted)
    cur.execute(f"SELECT count(*) AS n FROM orders o WHERE {where}", args)
    return cur.fetchone()["n"]


def page(cur, *, source: str, wanted: OrderFilter, offset: int, limit: int = PAGE_SIZE) -> list[dict]:
    """One page of the orders found, newest order first."""
    where, args = _where(source, wanted)
    # The page's order ids first, its rows after: without a filter, the rows an OFFSET skips are
    # then read from the (source, woo_id) index alone, not fetched with their payloads.
    cur.execute(
        f"""
        SELECT o.woo_id, o.number, o.status, o.state, o.currency, o.total, o.billing_email,
               concat_ws(' ', o.payload->'billing'->>'first_name', o.payload->'billing'->>'last_name') AS customer,
               o.date_created_gmt, o.batch_number, o.document_number, o.attempts, o.updated_at
        FROM (SELECT o.woo_id FROM orders o WHERE {where} ORDER BY o.woo_id DESC LIMIT %s OFFSET %s) found
        JOIN orders o ON o.source = %s AND o.woo_id = found.woo_id
        ORDER BY o.woo_id DESC
        """,
        args + [limit, offset, source],
    )
    return cur.fetchall()


def explain(cur, *, source: str, wanted: OrderFilter, offset: int = 0) -> str:
    """The plan of a page's query (tests check that a search uses the indexes)."""
    where, args = _where(source, wanted)
    cur.execute(f"EXPLAIN SELECT o.woo_id FROM orders o WHERE {where} ORDER BY o.woo_id DESC LIMIT %s OFFSET %s",
                args + [PAGE_SIZE, offset])
    return "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
