"""Refunds and cancellations after posting: reversing entries with their own batch numbers.

A posted sale is never changed in JDE; money going back is a new entry. Each WooCommerce
refund becomes `WC-<order>-R<refund id>`; a paid order cancelled afterwards has what was not
refunded yet reversed as `WC-<order>-C`. The order payload gives a refund's total but not how
it splits over items, shipping and tax, so the reversal takes the posted sale's credit lines
pro rata (exact for a full refund), the cent of rounding going to the largest line, and
credits the payment's clearing account.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from connector.ledger.entry import EXPLANATION_LENGTH, JournalEntry, JournalLine, NotPostable, gl_date
from connector.mapping import Mapping, currency_places

REVERSED_STATUSES = frozenset({"cancelled", "refunded"})


@dataclass(frozen=True)
class Reversal:
    kind: str          # refund | cancellation
    batch_number: str
    amount: Decimal    # positive: the money going back
    label: str


def refund_batch(woo_id: int, refund_id: int) -> str:
    return f"WC-{woo_id}-R{refund_id}"


def cancellation_batch(woo_id: int) -> str:
    return f"WC-{woo_id}-C"


def due(order: dict, posted_batches: set[str], sale_total: Decimal) -> list[Reversal]:
    """The reversing entries an order (a loaded payload) needs beyond those already posted."""
    reversals = []
    refunded = Decimal(0)
    for refund in order.get("refunds") or []:
        amount = abs(refund["total"])
        refunded += amount
        batch = refund_batch(order["id"], refund["id"])
        if amount and batch not in posted_batches:
            reversals.append(Reversal("refund", batch, amount, f"refund {refund['id']}"))
    remaining = sale_total - refunded
    batch = cancellation_batch(order["id"])
    if order.get("status") == "cancelled" and remaining > 0 and batch not in posted_batches:
        reversals.append(Reversal("cancellation", batch, remaining, "cancellation"))
    return reversals


def reversing_entry(reversal: Reversal, sale_lines: list[tuple[str, Decimal]], order: dict,
                    mapping: Mapping) -> JournalEntry:
    """The entry giving `reversal.amount` back, mirroring the posted sale's lines pro rata."""
    unit = Decimal(1).scaleb(-currency_places(mapping.store.currency))
    total = sum((amount for _, amount in sale_lines if amount > 0), Decimal(0))
    if total <= 0 or reversal.amount > total:
        raise NotPostable(f"{reversal.label} of {reversal.amount} exceeds the posted sale of {total}: "
                          "check the order in WooCommerce")
    factor = reversal.amount / total
    lines = [(account, -(amount * factor).quantize(unit, rounding=ROUND_HALF_UP)) for account, amount in sale_lines]
    difference = -sum(amount for _, amount in lines)
    if difference:
        # The cent of rounding goes to the largest of the lines being debited back.
        index = max((i for i, (_, amount) in enumerate(lines) if amount > 0), key=lambda i: lines[i][1])
        lines[index] = (lines[index][0], lines[index][1] + difference)
    woo_id = order["id"]
    journal_lines = tuple(
        JournalLine(n, account, amount, f"WC {woo_id} {reversal.label}"[:EXPLANATION_LENGTH])
        for n, (account, amount) in enumerate(((a, v) for a, v in lines if v != 0), start=1))
    assert sum(line.amount for line in journal_lines) == 0, "reversing entry does not balance"
    when = dict(order, date_paid_gmt=order.get("date_modified_gmt") or order.get("date_paid_gmt"))
    return JournalEntry(
        batch_number=reversal.batch_number, company=mapping.store.company,
        document_type=mapping.posting.document_type, gl_date=gl_date(when, mapping),
        currency=mapping.store.currency,
        explanation=f"WooCommerce order {order.get('number') or woo_id} {reversal.label}"[:EXPLANATION_LENGTH],
        lines=journal_lines)
