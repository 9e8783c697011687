"""Properties of refunds and cancellations over generated orders and refund sequences.

For realistic orders (the sandbox generator: items, coupons, two tax rates, shipping, fees,
gift cards, Stripe fees) and sequences of refunds as WooCommerce allows them (one item with
its tax, shipping only, an amount only, the rest; through the gateway or by hand; never more
than the order total) with a cancellation somewhere, seen by the connector one payload at a
time: every reversal balances; no account is given back more than the sale put on it; money
returned never exceeds what was paid; an order refunded in full nets every account of the
sale to zero (the gateway's fee aside) and, when the gateway returned all of it, owes nothing.
"""
import os
import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ledger import NotPostable, journal_entry
from connector.ledger import reversals
from connector.mapping import parse_mapping
from tests.unit.ledger.conftest import MAPPING_TEXT
from connector.woo.schemas import load_order, load_refund
from sandbox.woo_orders import order_document, shoppers

EXAMPLES = int(os.environ.get("CONNECTOR_PROPERTY_EXAMPLES", 10_000)) // 10 or 1
CENT = Decimal("0.01")
MAPPING = parse_mapping(MAPPING_TEXT)


def _lines_of(order):
    """(kind, order line, its taxes [(rate, amount)]) of everything a refund can name."""
    lines = [("line_items", item, [(t["id"], Decimal(t["total"])) for t in item["taxes"]])
             for item in order["line_items"]]
    lines += [("shipping_lines", line, [(t["id"], Decimal(t["total"])) for t in line.get("taxes") or []])
              for line in order["shipping_lines"] if Decimal(line["total"])]
    lines += [("fee_lines", line, []) for line in order["fee_lines"]]
    return lines


def _refund_record(refund_id, amount, named, paid, day):
    record = {"id": refund_id, "date_created_gmt": f"2026-12-{day:02d}T12:00:00", "amount": str(amount),
              "refunded_payment": paid, "line_items": [], "shipping_lines": [], "fee_lines": []}
    for kind, line, taxes in named:
        copy = {"id": 10_000 + line["id"], "total": f"-{line['total']}", "subtotal": f"-{line['total']}",
                "taxes": [{"id": rate, "total": f"-{tax}"} for rate, tax in taxes],
                "meta_data": [{"key": "_refunded_item_id", "value": str(line["id"])}]}
        copy.update({k: line[k] for k in ("product_id", "variation_id", "name", "method_id") if k in line})
        record[kind].append(copy)
    return load_refund(record)


def _events(rng, order):
    """A WooCommerce-valid sequence of refunds (and maybe a cancellation) of a paid order."""
    total, left, lines = Decimal(order["total"]), Decimal(order["total"]), _lines_of(order)
    rng.shuffle(lines)
    events, amount_only_seen, risky = [], False, False
    cancel_at = rng.randrange(0, 5) if rng.random() < 0.4 else None
    for n in range(rng.randint(0, 4)):
        if n == cancel_at:
            events.append(("cancel", None))
        if left <= 0:
            break
        choice = rng.choice(["line", "line", "amount", "rest"])
        if choice == "line" and lines:
            named = [lines.pop()]
            amount = sum((Decimal(l["total"]) + sum((t for _, t in tx), Decimal(0)) for _, l, tx in named), Decimal(0))
            if amount <= 0 or amount > left:
                continue
            risky |= amount_only_seen and amount < left
        elif choice == "amount":
            amount, named = (left * Decimal(rng.randint(1, 60)) / 100).quantize(CENT), []
            amount_only_seen = True
            if amount <= 0:
                continue
        else:
            amount, named = left, []
        left -= amount
        events.append(("refund", _refund_record(70_000 + n, amount, named, rng.random() < 0.7, 1 + n)))
    if cancel_at is not None and not any(kind == "cancel" for kind, _ in events):
        events.append(("cancel", None))
    return events, total - left, risky


def _balances(lines):
    balances = {}
    for account, amount in lines:
        balances[account] = balances.get(account, Decimal(0)) + amount
    return balances


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_reversals_never_exceed_the_sale_and_a_full_refund_nets_to_zero(seed):
    mapping = MAPPING
    assert mapping.accounts.refunds_payable is not None
    rng = random.Random(seed)
    document = order_document(rng, 5000 + seed % 1000, shoppers(rng, 1)[0], status="processing")
    order = load_order(document)
    sale = [(l.account_number, l.amount) for l in journal_entry(order, mapping).lines]
    events, refunded, risky = _events(rng, document)
    tender = reversals._tender_accounts(mapping)
    recorded, held, listed, status = [], {}, [], "processing"
    try:
        for kind, refund in events:
            if kind == "cancel":
                status = "cancelled"
            else:
                held[refund["id"]] = refund
                listed.insert(0, {"id": refund["id"], "total": -refund["amount"]})
                if refunded == Decimal(document["total"]) and len(listed) == sum(k == "refund" for k, _ in events):
                    status = "refunded"
            payload = load_order(document | {"status": status, "refunds": listed,
                                             "date_modified_gmt": "2026-12-20T12:00:00"})
            plan = reversals.plan(payload, sale, recorded, held, mapping, currency="USD")
            for entry_kind, entry in plan.entries:
                assert sum(line.amount for line in entry.lines) == 0, entry
                recorded.append((entry_kind, entry.batch_number, [(l.account_number, l.amount) for l in entry.lines]))
    except NotPostable:
        # Only a refund of named lines after an amount-only one (which was spread pro rata) may
        # ask for more than is left on an account: a person decides.
        assert risky, events
        return
    sale_balances = _balances(sale)
    reversed_balances = _balances(line for _, _, lines in recorded for line in lines)
    assert len({batch for _, batch, _ in recorded}) == len(recorded), "a batch recorded twice"
    for account, amount in reversed_balances.items():
        role = tender.get(account)
        if role is None:
            sold = sale_balances.get(account, Decimal(0))
            assert amount * sold <= 0 and abs(amount) <= abs(sold), (account, sold, amount)
        elif role == "clearing":
            assert -amount <= refunded
        elif role == "refunds_payable":
            assert amount <= 0, "refunds_payable paid back more than was owed"
    if refunded == Decimal(document["total"]) and events:
        net = _balances(sale + [line for _, _, lines in recorded for line in lines])
        for account, amount in net.items():
            if tender.get(account) not in ("clearing", "payment_fees", "refunds_payable"):
                assert amount == 0, (account, amount)
        if all(refund["refunded_payment"] for kind, refund in events if kind == "refund"):
            assert net.get(mapping.account_number(mapping.accounts.refunds_payable), Decimal(0)) == 0
