"""Reversing entries for refunds and cancellations after posting (docs/design.md §8)."""
from decimal import Decimal
from pathlib import Path

import pytest

from connector.ledger import reversals as refunds
from connector.ledger import NotPostable, journal_entry
from connector.mapping import load_mapping
from connector.woo.schemas import load_order

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "fixtures" / "connector.toml")


def _sale(order):
    entry = journal_entry(order, MAPPING)
    return [(line.account_number, line.amount) for line in entry.lines]


def _order(fixture_payload, **changes):
    return load_order(fixture_payload("order-727") | changes)


def test_full_refund_is_the_exact_negation_of_the_sale(fixture_payload):
    order = _order(fixture_payload, status="refunded", date_modified_gmt="2017-03-25T18:00:00",
                   refunds=[{"id": 801, "total": "-29.35"}])
    [reversal] = refunds.due(order, set(), Decimal("29.35"))
    entry = refunds.reversing_entry(reversal, _sale(order), order, MAPPING)
    assert entry.batch_number == "WC-727-R801"
    assert [(l.account_number, l.amount) for l in entry.lines] == [(a, -v) for a, v in _sale(order)]
    assert entry.gl_date_julian == "117084"   # the day of the refund, in Los Angeles


def test_partial_refund_is_pro_rata_and_balances(fixture_payload):
    order = _order(fixture_payload, refunds=[{"id": 802, "total": "-10.00"}])
    [reversal] = refunds.due(order, set(), Decimal("29.35"))
    entry = refunds.reversing_entry(reversal, _sale(order), order, MAPPING)
    amounts = {l.account_number: l.amount for l in entry.lines}
    assert amounts["M30.1110.BANK"] == Decimal("-10.00") and sum(amounts.values()) == 0
    assert amounts["M30.4010"] == Decimal("6.13") and amounts["M30.2310"] == Decimal("0.46")


def test_due_skips_reversals_already_posted_and_cancels_the_rest(fixture_payload):
    order = _order(fixture_payload, status="cancelled", refunds=[{"id": 803, "total": "-5.00"}])
    due = refunds.due(order, {"WC-727-R803"}, Decimal("29.35"))
    assert [(r.kind, r.batch_number, r.amount) for r in due] == [("cancellation", "WC-727-C", Decimal("24.35"))]
    assert refunds.due(order, {"WC-727-R803", "WC-727-C"}, Decimal("29.35")) == []


def test_refund_larger_than_sale_is_not_postable(fixture_payload):
    order = _order(fixture_payload, refunds=[{"id": 804, "total": "-40.00"}])
    [reversal] = refunds.due(order, set(), Decimal("29.35"))
    with pytest.raises(NotPostable, match="exceeds the posted sale"):
        refunds.reversing_entry(reversal, _sale(order), order, MAPPING)
