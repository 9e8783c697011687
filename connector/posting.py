"""Posting a paid order to the JDE general ledger, exactly once.

1. Claim the order row (`ready` → `posting`, with a lease) in its own transaction, so two
   workers never post one order and a killed worker's claim runs out.
2. Build the journal entry (ledger rules); an order that cannot be posted as it is goes to
   `needs_attention` with the reason.
3. Ensure the customer's Address Book entry.
4. If an earlier attempt may have reached JDE (second attempt, reclaimed claim), look the
   batch up in F0911 first: if it is there, the order is posted.
5. Call the GL orchestration with the order reference as BatchNumber (then, for a posted
   order refunded or cancelled later, each reversing entry with its own batch number). A duplicate-batch
   answer means it is already in JDE: verify, then `posted`. A validation error goes to
   `needs_attention`. An unknown outcome (timeout, dropped connection) is looked up before
   anything else; a transient failure goes back to `ready` for a retry with backoff, and
   after `max_attempts` to `failed`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from connector import address_book, ledger, refunds
from connector.audit_trail import AuditTrail
from connector.jde.errors import AisError, AisOutcomeUnknown, AisRejected
from connector.store import journal_entries
from connector.store import orders as order_rows
from connector.woo.schemas import PayloadError, load_order

MAX_ATTEMPTS = 8
BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class PostingResult:
    order_id: int
    outcome: str                  # posted | already_posted | needs_attention | retry | failed | skipped
    document_number: str | None = None
    retry_in: float | None = None
    error: str | None = None
    batch_number: str | None = None


def retry_delay(attempt: int, base: float = 2.0) -> float:
    """Exponential backoff with full jitter (AWS's recipe): uniform in [0, min(cap, base·2^n)]."""
    return random.uniform(0, min(BACKOFF_MAX, base * 2 ** attempt))


def find_posted(ais, mapping, batch_number: str) -> str | None:
    """The JDE document number of a batch already in F0911, or None."""
    column = mapping.orchestrations.reference_column
    for row in ais.browse("F0911", columns=["DOC", "DCT", column],
                          conditions=[(column, "EQUAL", [batch_number]),
                                      ("DCT", "EQUAL", [mapping.posting.document_type])],
                          page_size=10):
        return str(row["F0911_DOC"])
    return None


class _NeedsAttention(Exception):
    """A posting that a person must look at; the message says why."""


def _post_entry(ais, mapping, entry, address_number, *, maybe_posted: bool) -> tuple[str | None, bool]:
    """Send one entry to JDE exactly once: (document number, whether it was already there)."""
    batch = entry.batch_number
    if maybe_posted:
        found = find_posted(ais, mapping, batch)
        if found:
            return found, True
    try:
        answer = ais.orchestrate(mapping.orchestrations.post_journal_entry, entry.orchestration_input(address_number))
    except AisOutcomeUnknown:
        found = find_posted(ais, mapping, batch)
        if found:
            return found, False
        raise
    except AisRejected as exc:
        if exc.names_duplicate_batch(batch):
            found = find_posted(ais, mapping, batch)
            if found:
                return found, True
            raise _NeedsAttention(f"JDE reports batch {batch} as a duplicate, but no F0911 line carries it: "
                                  f"check F0911Z1 ({exc.text})") from None
        raise
    document_number = answer.get("DocumentNumber")
    return (None if document_number is None else str(document_number)), False


def _stored_lines(row) -> list[tuple[str, Decimal]]:
    return [(line["account"], Decimal(line["amount"])) for line in row["lines"]]


def post_order(db, mapping, make_ais, order_id: int, *, lease_seconds: int,
               max_attempts: int = MAX_ATTEMPTS, retry_base: float = 2.0) -> PostingResult:
    """Post what an order still needs in JDE: its sale, then any refund or cancellation.

    `make_ais(on_call)` returns an AIS client reporting to `on_call`.
    """
    batch, address_number, sale_document = None, None, None

    def finish(state: str, *, error=None, outcome=None, cur=None) -> PostingResult:
        def write(cur):
            order_rows.finish_posting(cur, order_id, state=state, batch_number=batch,
                                      document_number=sale_document, error=error)
            trail.state_change(cur, "posting", state, error)

        if cur is not None:
            write(cur)
        else:
            with db.transaction() as own:
                write(own)
        return PostingResult(order_id, outcome or state, sale_document, error=error, batch_number=batch)

    # One transaction claims the order, records the entries about to be sent and reads the
    # customer's known address number: the common path then costs one AIS call and one
    # more transaction.
    with db.transaction() as cur:
        order = order_rows.claim_for_posting(cur, order_id, lease_seconds=lease_seconds)
        if order is None:
            return PostingResult(order_id, "skipped")
        trail = AuditTrail(db, "order", order["woo_id"])
        trail.state_change(cur, order["previous_state"], "posting", f"attempt {order['attempts']}")
        batch = ledger.batch_number(order["woo_id"])
        recorded = {row["batch_number"]: row for row in journal_entries.for_order(cur, order_id)}
        sale = recorded.get(batch)
        pending = []
        try:
            document = load_order(order["payload"])
            if sale is not None and sale["state"] == "posted":
                sale_lines, sale_document = _stored_lines(sale), sale["document_number"]
            else:
                entry = ledger.journal_entry(document, mapping)
                journal_entries.save_pending(cur, order_id=order_id, entry=entry)
                pending.append(("sale", entry))
                sale_lines = [(line.account_number, line.amount) for line in entry.lines]
            posted = {b for b, row in recorded.items() if row["state"] == "posted"}
            sale_total = sum((amount for _, amount in sale_lines if amount > 0), Decimal(0))
            for reversal in refunds.due(document, posted, sale_total):
                entry = refunds.reversing_entry(reversal, sale_lines, document, mapping)
                journal_entries.save_pending(cur, order_id=order_id, entry=entry, kind=reversal.kind)
                pending.append((reversal.kind, entry))
        except (ledger.NotPostable, PayloadError) as exc:
            return finish("needs_attention", error=str(exc), cur=cur)
        address_number = address_book.known_address_number(cur, source=order["source"], order=document)
    final = "reversed" if document["status"] in refunds.REVERSED_STATUSES else "posted"
    if not pending:
        return finish(final, outcome="already_posted")

    ais = make_ais(trail.ais_call)
    # A second attempt, or a claim taken over from a dead worker, may already be in JDE.
    maybe_posted = order["attempts"] > 1 or order["previous_state"] == "posting"
    already = []
    try:
        if address_number is None:
            address_number = address_book.ensure_for_order(db, ais, mapping, source=order["source"],
                                                           order=document)
        for kind, entry in pending:
            document_number, was_there = _post_entry(ais, mapping, entry, address_number,
                                                     maybe_posted=maybe_posted)
            already.append(was_there)
            with db.transaction() as cur:
                journal_entries.mark_posted(cur, batch_number=entry.batch_number, document_number=document_number,
                                            address_number=address_number)
            if kind == "sale":
                sale_document = document_number
        return finish(final, outcome="already_posted" if all(already) else None)
    except (ledger.NotPostable, _NeedsAttention) as exc:
        return finish("needs_attention", error=str(exc))
    except AisRejected as exc:
        return finish("needs_attention", error=exc.text)
    except AisError as exc:
        if order["attempts"] >= max_attempts:
            return finish("failed", error=f"gave up after {order['attempts']} attempts: {exc.text}")
        delay = retry_delay(order["attempts"], retry_base)
        with db.transaction() as cur:
            order_rows.release_for_retry(cur, order_id, error=exc.text, delay_seconds=delay,
                                         lease_seconds=lease_seconds)
            trail.state_change(cur, "posting", "ready", f"retry in {delay:.1f}s: {exc.text}")
        return PostingResult(order_id, "retry", retry_in=delay, error=exc.text)
