"""Reconciliation: the JDE general ledger against the connector's own records.

For a window of GL dates it reads the debit lines of the connector's journal entries from
F0911 through the data service — one row per entry, paged, never a call per order — and
compares, batch by batch, the documents and their debit totals with `journal_entries`:

- missing_in_jde   posted here, no line in JDE (re-posted by `connector replay` once a batch
                   lookup confirms it is absent);
- amount_differs   one document, but its debit total (or line count) is not what was posted;
- posted_twice     more than one JDE document carries the batch number;
- unknown_in_jde   a `WC-` batch in JDE that no order here explains;
- not_recorded     JDE has the batch but the connector does not hold it as posted
                   (replay looks it up and records it);
- not_posted       a paid order that is not posted and not in JDE (replay posts it).

Debit totals are the control total accountants reconcile on: JDE only posts balanced
batches, so a changed amount shows on the debit side unless it moved between credit accounts
(a reclass, which this control total does not see).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from connector.ledger import batch_number
from connector.store import reconciliation as rows

REFERENCE_PREFIX = "WC-"


@dataclass(frozen=True)
class Item:
    kind: str
    detail: str
    batch_number: str | None = None
    woo_id: int | None = None
    expected: Decimal | None = None
    found: Decimal | None = None
    documents: tuple[str, ...] = ()


@dataclass
class Run:
    run_id: int
    date_from: date
    date_to: date
    items: list[Item] = field(default_factory=list)
    ais_calls: int = 0
    jde_lines: int = 0
    entries_checked: int = 0


# A sale WC-<order>, a refund WC-<order>-R<refund>, a cancellation WC-<order>-C, a late fee WC-<order>-F.
_BATCH = re.compile(rf"^{re.escape(REFERENCE_PREFIX)}(\d+)(?:-R\d+|-C|-F)?$")


def _woo_id(batch: str) -> int | None:
    """The order a batch number belongs to, whichever of its entries it is."""
    match = _BATCH.match(batch)
    return int(match.group(1)) if match else None


def _debits(lines) -> tuple[Decimal, int]:
    amounts = [Decimal(line["amount"]) for line in lines if Decimal(line["amount"]) > 0]
    return sum(amounts, Decimal(0)), len(amounts)


class DateFormatMismatch(Exception):
    """JDE answered lines dated outside the window it was asked for."""


def read_jde(ais, mapping, *, date_from: date, date_to: date, page_size: int) -> dict[str, dict[str, list]]:
    """{batch: {document: [debit amounts]}} for the connector's batches in the window; an entry
    posted in a foreign (transaction) currency is compared on its transaction amounts (ACR),
    which are what the connector posted — JDE converted them at its own rate.

    The GL-date condition is written in the AIS user's date format (the data service reads it
    as a person would type it) and every line's date is read back and checked against the
    window: a server that read the dates another way (day and month swapped) would otherwise
    make the reconciliation compare the wrong lines, silently.
    """
    column = mapping.orchestrations.reference_column
    found: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in ais.browse(
            "F0911", columns=[column, "DOC", "AA", "ACR", "CRCD", "DGJ"], page_size=page_size, date_columns=("DGJ",),
            conditions=[("DCT", "EQUAL", [mapping.posting.document_type]),
                        ("DGJ", "BETWEEN", [date_from, date_to]),
                        (column, "STR_START_WITH", [REFERENCE_PREFIX]),
                        ("AA", "GREATER", ["0"])]):
        day = row.get("F0911_DGJ")
        if isinstance(day, date) and not date_from <= day <= date_to:
            raise DateFormatMismatch(
                f"JDE answered a line dated {day} (batch {row.get(f'F0911_{column}')}) for the window "
                f"{date_from}..{date_to}: the data service read the dates in another format than the AIS "
                f"user's {ais.session.date_format!r}; check the user's date format in JDE")
        foreign = str(row.get("F0911_CRCD") or "").strip() not in ("", mapping.store.currency)
        amount = row.get("F0911_ACR") if foreign else row["F0911_AA"]
        found[str(row[f"F0911_{column}"]).strip()][str(row["F0911_DOC"])].append(Decimal(str(amount)))
    return found


def compare(jde: dict, entries: dict[str, dict], unposted: list[dict], known_woo_ids: set[int]) -> list[Item]:
    """The discrepancies between what JDE holds and what the connector recorded."""
    items: list[Item] = []
    for batch in sorted(set(jde) | set(entries)):
        documents = jde.get(batch, {})
        entry = entries.get(batch)
        woo_id = entry["woo_id"] if entry else _woo_id(batch)
        docs = tuple(sorted(documents))
        if entry is None or entry["state"] != "posted":
            if not documents:
                continue   # not posted anywhere: the not_posted pass speaks of it
            if woo_id in known_woo_ids:
                items.append(Item("not_recorded", f"{batch} is in JDE (document {', '.join(docs)}) but the "
                                  "connector does not hold it as posted", batch, woo_id, documents=docs))
            else:
                total = sum((sum(a) for a in documents.values()), Decimal(0))
                items.append(Item("unknown_in_jde", f"{batch} is in JDE (document {', '.join(docs)}) but no "
                                  "WooCommerce order here explains it", batch, woo_id, found=total, documents=docs))
            continue
        expected, expected_lines = _debits(entry["lines"])
        if not documents:
            items.append(Item("missing_in_jde", f"{batch} was posted as document {entry['document_number']} but "
                              "JDE has no line of it", batch, woo_id, expected=expected))
        elif len(documents) > 1:
            found = sum((sum(a) for a in documents.values()), Decimal(0))
            items.append(Item("posted_twice", f"{batch} is in JDE as {len(documents)} documents "
                              f"({', '.join(docs)})", batch, woo_id, expected, found, docs))
        else:
            [(doc, amounts)] = documents.items()
            found = sum(amounts, Decimal(0))
            if found != expected or len(amounts) != expected_lines:
                items.append(Item("amount_differs", f"{batch} document {doc}: JDE debits {found} in "
                                  f"{len(amounts)} line(s), posted {expected} in {expected_lines}",
                                  batch, woo_id, expected, found, docs))
    for order in unposted:
        batch = batch_number(order["woo_id"])
        if batch in jde:
            continue   # reported as not_recorded above
        reason = f": {order['last_error']}" if order["last_error"] else ""
        items.append(Item("not_posted", f"order {order['woo_id']} is paid ({order['status']}) but {order['state']}"
                          f"{reason}", batch, order["woo_id"], expected=order["total"]))
    return items


def reconcile(db, ais, mapping, *, date_from: date, date_to: date, page_size: int = 1000,
              settle_seconds: int = 300) -> Run:
    """One reconciliation run over GL dates [date_from, date_to], recorded with its items."""
    with db.transaction() as cur:
        run = Run(rows.start_run(cur, date_from=date_from, date_to=date_to), date_from, date_to)
    calls_before = ais.calls
    try:
        jde = read_jde(ais, mapping, date_from=date_from, date_to=date_to, page_size=page_size)
        settled_before = datetime.now(timezone.utc) - timedelta(seconds=settle_seconds)
        with db.transaction() as cur:
            entries = {e["batch_number"]: e for e in rows.entries_in_window(cur, date_from=date_from,
                                                                            date_to=date_to)}
            # A batch JDE dates inside the window may be dated outside it here: still ours.
            strays = [b for b in jde if b not in entries]
            entries.update({e["batch_number"]: e for e in rows.entries_for_batches(cur, strays)})
            unposted = [o for o in rows.paid_orders_not_posted(cur, statuses=mapping.posting.statuses,
                                                                settled_before=settled_before)
                        if date_from <= _gl_day(o, mapping) <= date_to]
            # Only batches no entry explains need the question "is this one of our orders?".
            known = rows.woo_ids_known(cur, [w for w in map(_woo_id, (b for b in jde if b not in entries))
                                             if w is not None])
        run.items = compare(jde, entries, unposted, known)
        run.ais_calls = ais.calls - calls_before
        run.jde_lines = sum(len(a) for docs in jde.values() for a in docs.values())
        run.entries_checked = len(entries)
        with db.transaction() as cur:
            rows.add_items(cur, run.run_id, run.items)
            rows.finish_run(cur, run.run_id, state="done", ais_calls=run.ais_calls, jde_lines=run.jde_lines,
                            entries_checked=run.entries_checked, discrepancies=len(run.items))
    except Exception as exc:
        with db.transaction() as cur:
            rows.finish_run(cur, run.run_id, state="failed", error=str(exc)[:1000])
        raise
    return run


def _gl_day(order: dict, mapping) -> date:
    moment = order["date_paid_gmt"] or order["date_completed_gmt"] or order["date_created_gmt"]
    return moment.astimezone(mapping.store.timezone).date() if moment else date.min
