"""Posting a paid order to the JDE general ledger, exactly once.

1. While JDE is unreachable (the fleet-wide circuit breaker is open) the order is not even
   claimed: it stays `ready`, deferred, with no attempt used, and goes as soon as JDE answers.
2. Claim the order row (`ready` → `posting`, with a lease) in its own transaction, so two
   workers never post one order and a killed worker's claim runs out.
3. Build the journal entry (ledger rules); an order that cannot be posted as it is goes to
   `needs_attention` with the reason.
4. Ensure the customer's Address Book entry.
5. If an earlier attempt may have reached JDE (`maybe_in_jde`: a timeout, a JDE error, a
   replay; or a claim taken over from a dead worker), look the batch up in F0911 first: if it
   is there, the order is posted.
6. Call the GL orchestration with the order reference as BatchNumber (then, for a posted
   order refunded or cancelled later, each reversing entry with its own batch number). After
   ANY error or warning from that call, the batch is looked up in F0911 before anything else:
   found → posted (a repeated batch is refused by JDE's F0911Z1 key, so a duplicate shows up
   here, whatever JDE's wording). Not found: JDE's refusal or warning → `needs_attention`
   with JDE's own text and exceptionId; a transient JDE error → retry with backoff, counted,
   and `failed` after `max_attempts`; JDE unreachable → deferred, not counted.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from decimal import Decimal

from connector import address_book, ledger
from connector.ledger import reversals as refunds
from connector.ledger import tenders
from connector.audit_trail import AuditTrail
from connector.faults import is_outage, reason
from connector.jde import dates, inputs
from connector.jde.errors import AisError, AisRejected, AisUnavailable, AisWarning
from connector.store import journal_entries
from connector.store import orders as order_rows
from connector.store import products as product_rows
from connector.store import refunds as refund_rows
from connector.ledger.sale import currency_of
from connector.woo.schemas import PayloadError, load_order

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class PostingResult:
    order_id: int
    # posted | already_posted | needs_attention | retry (counted) | deferred (JDE unreachable,
    # not counted) | failed | skipped | nothing_to_post | needs_products | needs_refunds
    outcome: str
    document_number: str | None = None
    retry_in: float | None = None
    error: str | None = None
    batch_number: str | None = None
    product_ids: tuple[int, ...] = ()     # needs_products: fetch these, then post again
    refund_ids: tuple[int, ...] = ()      # needs_refunds: read the order's refunds, then post again


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


def gl_input(entry, address_number, mapping, ais) -> tuple[dict, dict]:
    """(request body, readable summary) of the GL orchestration for `entry`."""
    values = entry.orchestration_input(address_number)
    form = mapping.orchestrations.date_format
    day = entry.gl_date
    values["GLDate"] = (dates.julian(day) if form == "julian" else
                        dates.format_date(day, ais.session.date_format) if form == "user" else
                        dates.epoch_ms(day))
    return inputs.encode(values, input_format=mapping.orchestrations.input_format, grid="Lines"), values


def _post_entry(ais, mapping, entry, address_number, *, maybe_posted: bool,
                reached: list) -> tuple[str | None, bool]:
    """Send one entry to JDE exactly once: (document number, whether it was already there).

    `reached` gets the batch number when the orchestration may have reached JDE without a
    known outcome, so the order's next attempt looks it up first.
    """
    batch = entry.batch_number
    if maybe_posted:
        found = find_posted(ais, mapping, batch)
        if found:
            return found, True
    body, summary = gl_input(entry, address_number, mapping, ais)
    try:
        answer = ais.orchestrate(mapping.orchestrations.post_journal_entry, body, summary=summary)
    except AisError as exc:
        if not getattr(exc, "maybe_done", True):
            raise   # nothing reached JDE
        reached.append(batch)
        # Whatever JDE said, the ledger is the answer: a refused duplicate, a warning after the
        # lines were written and a timeout after the commit all leave the batch in F0911.
        found = find_posted(ais, mapping, batch)
        if found:
            return found, isinstance(exc, AisRejected)
        if isinstance(exc, AisWarning):
            raise _NeedsAttention(f"JDE answered batch {batch} with warnings and no F0911 line carries it: "
                                  f"{exc.text}") from None
        if isinstance(exc, AisRejected):
            raise _NeedsAttention(f"JDE refused batch {batch}: {exc.text}") from None
        raise
    document_number = answer.get("DocumentNumber")
    if document_number is None:
        # A success without the output (an orchestration whose response does not map it): the
        # ledger says which document it became.
        reached.append(batch)
        found = find_posted(ais, mapping, batch)
        if found is None:
            raise AisUnavailable(f"JDE answered batch {batch} as done without a DocumentNumber, and no F0911 "
                                 "line carries it yet: looked up again on the next attempt")
        return found, False
    return str(document_number), False


def _stored_lines(row) -> list[tuple[str, Decimal]]:
    return [(line["account"], Decimal(line["amount"])) for line in row["lines"]]


def post_order(db, mapping, make_ais, order_id: int, *, lease_seconds: int,
               max_attempts: int = MAX_ATTEMPTS, retry_base: float = 2.0, breaker=None) -> PostingResult:
    """Post what an order still needs in JDE: its sale, then any refund or cancellation.

    `make_ais(on_call)` returns an AIS client reporting to `on_call`; `breaker` is the fleet's
    circuit breaker (connector/jde/breaker.py), None for none.
    """
    batch, address_number, sale_document = None, None, None
    if breaker is not None and not breaker.allow():
        delay = _outage_delay(breaker, 0, retry_base)
        with db.transaction() as cur:
            if not order_rows.defer(cur, order_id, error=UNREACHABLE, delay_seconds=delay,
                                    lease_seconds=lease_seconds):
                return PostingResult(order_id, "skipped")
        return PostingResult(order_id, "deferred", retry_in=delay, error=UNREACHABLE)

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
        # The claim stays whatever building the entries does: a value Postgres refuses rolls back
        # to here, and the order goes to a person instead of coming back for ever.
        cur.execute("SAVEPOINT build_entries")
        batch = ledger.batch_number(order["woo_id"])
        recorded = {row["batch_number"]: row for row in journal_entries.for_order(cur, order_id)}
        sale = recorded.get(batch)
        pending = []
        try:
            document = load_order(order["payload"])
            held = refund_rows.of_order(cur, order_id) if document["refunds"] else {}
            categories = None
            if mapping.accounts.revenue_by_category:
                categories = product_rows.categories_of(cur, source=order["source"], woo_ids=[
                    item["product_id"] for item in document["line_items"]] + [
                    line["product_id"] for refund in held.values() for line in refund["line_items"]])
            if sale is not None and sale["state"] == "posted":
                sale_lines, sale_document = _stored_lines(sale), sale["document_number"]
            else:
                entry = ledger.journal_entry(document, mapping, categories)
                fee = tenders.gateway_fee(document, mapping, ledger.Money(entry.currency))
                if fee is not None and fee.skipped:
                    trail.note(cur, "order.fee_not_booked", fee.skipped)
                journal_entries.save_pending(cur, order_id=order_id, entry=entry)
                pending.append(("sale", entry))
                sale_lines = [(line.account_number, line.amount) for line in entry.lines]
            posted = {b for b, row in recorded.items() if row["state"] == "posted"}
            reversal_rows = [row for row in recorded.values() if row["kind"] in refunds.KINDS]
            # Recorded reversals are sent as recorded (a replay looks each up first), never recomputed.
            pending += [(row["kind"], journal_entries.entry_of(row)) for row in reversal_rows
                        if row["state"] == "pending"]
            currency, mode = currency_of(document, mapping)
            plan = refunds.plan(document, sale_lines,
                                [(row["kind"], row["batch_number"], _stored_lines(row)) for row in reversal_rows],
                                held, mapping, currency=currency, currency_mode=mode, categories=categories)
            for kind, entry in plan.entries:
                journal_entries.save_pending(cur, order_id=order_id, entry=entry, kind=kind)
                pending.append((kind, entry))
            for note in plan.notes:
                trail.note(cur, "order.refund_not_posted", note)
            missing_refunds = plan.missing_refunds
            if sale is not None and sale["state"] == "posted":
                late_fee = tenders.late_fee_entry(document, mapping, sale_lines, posted)
                if late_fee is not None:
                    journal_entries.save_pending(cur, order_id=order_id, entry=late_fee, kind="fees")
                    pending.append(("fees", late_fee))
        except ledger.NothingToPost as exc:
            # A 100%-coupon order and the like: nothing owed, nothing to post — said in the audit log.
            trail.note(cur, "order.nothing_to_post", str(exc))
            return finish("posted", outcome="nothing_to_post", cur=cur)
        except ledger.ProductsUnknown as exc:
            order_rows.release_for_retry(cur, order_id, error=f"waiting for product categories: {exc}",
                                         delay_seconds=0, lease_seconds=lease_seconds, counted=False)
            return PostingResult(order_id, "needs_products", error=str(exc), product_ids=tuple(exc.product_ids))
        except (ledger.NotPostable, PayloadError) as exc:
            return finish("needs_attention", error=str(exc), cur=cur)
        except Exception as exc:  # noqa: BLE001 - an order that cannot be built is a person's, not a loop
            if is_outage(exc):
                raise
            cur.execute("ROLLBACK TO SAVEPOINT build_entries")
            log.warning("order %s cannot be built: %s", order["woo_id"], reason(exc))
            return finish("needs_attention", error=f"the order cannot be made into an entry: {reason(exc)}", cur=cur)
        address_number = address_book.known_address_number(cur, source=order["source"], order=document)
    final = "reversed" if document["status"] in refunds.REVERSED_STATUSES else "posted"
    if not pending:
        if missing_refunds:
            return _wait_for_refunds(db, trail, order_id, missing_refunds, lease_seconds)
        return finish(final, outcome="already_posted")

    # An attempt that may have reached JDE, or a claim taken over from a dead worker: the
    # batch may already be in JDE.
    maybe_posted = order["maybe_in_jde"] or order["previous_state"] == "posting"
    already, reached = [], []
    try:
        ais = make_ais(trail.ais_call)
        if address_number is None:
            address_number = address_book.ensure_for_order(db, ais, mapping, source=order["source"],
                                                           order=document)
        for kind, entry in pending:
            document_number, was_there = _post_entry(ais, mapping, entry, address_number,
                                                     maybe_posted=maybe_posted, reached=reached)
            already.append(was_there)
            with db.transaction() as cur:
                journal_entries.mark_posted(cur, batch_number=entry.batch_number, document_number=document_number,
                                            address_number=address_number)
            if kind == "sale":
                sale_document = document_number
        if missing_refunds:
            # The sale (and what else was due) is in; the reversals wait for WooCommerce's records.
            with db.transaction() as cur:
                order_rows.record_sale(cur, order_id, batch_number=batch, document_number=sale_document)
            return _wait_for_refunds(db, trail, order_id, missing_refunds, lease_seconds)
        return finish(final, outcome="already_posted" if all(already) else None)
    except (ledger.NotPostable, _NeedsAttention) as exc:
        return finish("needs_attention", error=str(exc))
    except AisRejected as exc:
        return finish("needs_attention", error=exc.text)
    except AisError as exc:
        outage = getattr(exc, "outage", False)
        if outage:
            # JDE could not be reached: wait it out, the attempt does not count.
            delay = _outage_delay(breaker, order["attempts"], retry_base)
        elif order["attempts"] >= max_attempts:
            return finish("failed", error=f"gave up after {order['attempts']} attempts: {exc.text}")
        else:
            delay = retry_delay(order["attempts"], retry_base)
        with db.transaction() as cur:
            order_rows.release_for_retry(cur, order_id, error=exc.text, delay_seconds=delay,
                                         lease_seconds=lease_seconds, maybe_in_jde=bool(reached),
                                         counted=not outage, waiting_for_jde=outage)
            trail.state_change(cur, "posting", "ready", f"{'waiting for JDE' if outage else 'retry'} in "
                                                         f"{delay:.1f}s: {exc.text}")
        return PostingResult(order_id, "deferred" if outage else "retry", retry_in=delay, error=exc.text)
    except Exception as exc:  # noqa: BLE001 - an answer or a state nobody foresaw: counted, then parked
        if is_outage(exc):
            raise
        cause = reason(exc)
        log.warning("order %s: posting failed unexpectedly: %s", order["woo_id"], cause)
        if order["attempts"] >= max_attempts:
            return finish("needs_attention", error=f"stopped after {order['attempts']} attempts failing with {cause}")
        delay = retry_delay(order["attempts"], retry_base)
        with db.transaction() as cur:
            # Whatever happened may have reached JDE: the next attempt looks the batch up first.
            order_rows.release_for_retry(cur, order_id, error=cause, delay_seconds=delay,
                                         lease_seconds=lease_seconds, maybe_in_jde=True)
            trail.state_change(cur, "posting", "ready", f"retry in {delay:.1f}s: {cause}")
        return PostingResult(order_id, "retry", retry_in=delay, error=cause)


def _wait_for_refunds(db, trail, order_id: int, refund_ids, lease_seconds: int) -> PostingResult:
    """Back to `ready` (no attempt used) until the refund records are read from WooCommerce."""
    error = f"waiting for WooCommerce's record of refund(s) {', '.join(map(str, refund_ids))}"
    with db.transaction() as cur:
        order_rows.release_for_retry(cur, order_id, error=error, delay_seconds=0, lease_seconds=lease_seconds,
                                     counted=False)
        trail.state_change(cur, "posting", "ready", error)
    return PostingResult(order_id, "needs_refunds", error=error, refund_ids=tuple(refund_ids))


UNREACHABLE = "JDE is unreachable: waiting for it to answer again (no attempt used)"


def _outage_delay(breaker, attempts: int, retry_base: float) -> float:
    """When to try again after an outage: the breaker's probe interval while it is open (the
    probe re-sends the backlog the moment JDE answers, this is only the safety net); a short
    backoff while it is not open yet."""
    if breaker is not None and not breaker.allow():
        return breaker.probe_seconds * random.uniform(1.0, 2.0)
    return retry_delay(max(attempts, 1), retry_base)
