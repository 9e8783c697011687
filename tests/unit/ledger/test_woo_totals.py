"""Property: every order WooCommerce's totals rules can produce becomes a balanced entry whose
accounts hold exactly the parts of the order mapped to them, and none is refused.

The generator follows WC_Cart_Totals / WC_Discounts / WC_Tax: prices entered with or without
tax; percent, fixed-cart (split over the items in proportion, the remainder cent by cent) and
fixed-product coupons; one to three rates, the last possibly compound (on top of the others);
taxed shipping; tax rounded per line, or kept unrounded per line and rounded once per rate at
the subtotal ("round tax at subtotal"); fees positive and negative; gift cards paying part of
it; currencies with 0, 2 and 3 decimals. With prices including tax the customer pays the
prices as shown, so the order total can differ from its rounded parts by up to a unit per
rounded amount — as real stores do (WooCommerce issue #25720).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ledger import NothingToPost, journal_entry
from connector.woo.schemas import load_order

CURRENCIES = {"JPY": 0, "USD": 2, "KWD": 3}
RATE_ACCOUNTS = {"R1": "2311", "R2": "2312", "R3": "2313"}


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@st.composite
def woo_orders(draw):
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    dp = CURRENCIES[currency]
    unit = Decimal(1).scaleb(-dp)
    money = st.integers(1, 50_000).map(lambda n: Decimal(n) * unit)
    n_rates = draw(st.integers(0, 3))
    rates = [{"code": f"R{i + 1}", "id": 70 + i, "percent": Decimal(draw(st.integers(0, 2500))) / 100,
              "compound": i == n_rates - 1 and n_rates > 1 and draw(st.booleans()),
              "shipping": draw(st.booleans())} for i in range(n_rates)]
    incl = draw(st.booleans())
    at_subtotal = draw(st.booleans())
    items = [(draw(money), draw(st.integers(1, 5))) for _ in range(draw(st.integers(1, 30)))]

    # Coupons on the line subtotals (in the prices' own terms, with or without tax).
    subtotals = [price * qty for price, qty in items]
    discounts = [Decimal(0)] * len(items)
    kind = draw(st.sampled_from(["none", "percent", "fixed_cart", "fixed_product"]))
    if kind == "percent":
        percent = Decimal(draw(st.integers(1, 100)))
        discounts = [_round(s * percent / 100, dp) for s in subtotals]
    elif kind == "fixed_product":
        amount = draw(money)
        discounts = [min(amount * qty, s) for (_, qty), s in zip(items, subtotals)]
    elif kind == "fixed_cart":
        amount = min(draw(money), sum(subtotals))
        whole = sum(subtotals)
        discounts = [min(s, (amount * s / whole).quantize(unit, rounding="ROUND_DOWN")) for s in subtotals]
        left = amount - sum(discounts)
        for i in range(len(items)):       # the remainder, a unit at a time, in item order
            while left > 0 and discounts[i] < subtotals[i]:
                discounts[i] += unit
                left -= unit
    gross_lines = [s - d for s, d in zip(subtotals, discounts)]

    def split(amount: Decimal, taxable_rates) -> tuple[Decimal, dict]:
        """(amount before tax, {rate: unrounded tax}) of an amount in the prices' terms."""
        simple = sum((r["percent"] for r in taxable_rates if not r["compound"]), Decimal(0)) / 100
        compound = sum((r["percent"] for r in taxable_rates if r["compound"]), Decimal(0)) / 100
        base = amount / (1 + simple) / (1 + compound) if incl else amount
        taxes = {r["code"]: base * r["percent"] / 100 for r in taxable_rates if not r["compound"]}
        on_top = base + sum(taxes.values(), Decimal(0))
        taxes.update({r["code"]: on_top * r["percent"] / 100 for r in taxable_rates if r["compound"]})
        return base, taxes

    line_items, per_rate, gross_total = [], defaultdict(Decimal), Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 40
        for n, ((price, qty), subtotal, gross) in enumerate(zip(items, subtotals, gross_lines), start=1):
            sub_base, _ = split(subtotal, rates)
            base, taxes = split(gross, rates)
            rounded_taxes = {code: _round(t, dp) for code, t in taxes.items()}
            for code in taxes:
                per_rate[code] += taxes[code] if at_subtotal else rounded_taxes[code]
            line_items.append({"id": n, "product_id": 100 + n, "quantity": qty,
                               "subtotal": str(_round(sub_base, dp)), "total": str(_round(base, dp)),
                               "total_tax": str(sum(rounded_taxes.values(), Decimal(0)))})
            gross_total += gross if incl else _round(base, dp)
        shipping_cost = draw(st.sampled_from([Decimal(0), draw(money)]))
        ship_base, ship_taxes = split(shipping_cost, [r for r in rates if r["shipping"]])
        shipping_tax = {code: _round(t, dp) for code, t in ship_taxes.items()}
        gross_total += shipping_cost if incl else _round(ship_base, dp)
        # WC_Cart_Totals::get_fees_from_cart: a negative fee never takes the order below zero —
        # it is capped at the items total plus shipping plus the fees before it (before tax).
        running = sum((Decimal(i["total"]) for i in line_items), Decimal(0)) + _round(ship_base, dp)
        fees = []
        for _ in range(draw(st.integers(0, 3))):
            fee = max(draw(st.integers(-20_000, 20_000)) * unit, -running)
            if fee:
                fees.append(fee)
                running += fee
        item_tax = {code: _round(v, dp) for code, v in per_rate.items()}
        tax_lines = [{"id": i, "rate_code": r["code"], "rate_id": r["id"], "label": r["code"],
                      "compound": r["compound"], "tax_total": str(item_tax.get(r["code"], Decimal(0))),
                      "shipping_tax_total": str(shipping_tax.get(r["code"], Decimal(0)))}
                     for i, r in enumerate(rates, start=1)]
        all_tax = sum(item_tax.values(), Decimal(0)) + sum(shipping_tax.values(), Decimal(0))
        if not incl:
            gross_total += all_tax
        gross_total += sum(fees, Decimal(0))
        gross_total = max(_round(gross_total, dp), Decimal(0))
    gift = min(gross_total, draw(st.sampled_from([Decimal(0), draw(money)])))
    gift_cards = [{"id": 1, "code": "GC-1", "amount": str(gift)}] if gift else []
    return {
        "id": 9, "status": "processing", "currency": currency, "prices_include_tax": incl,
        "date_paid_gmt": "2026-11-20T12:00:00", "payment_method": draw(st.sampled_from(["bacs", "stripe", "cod"])),
        "total": str(gross_total - gift), "total_tax": str(all_tax), "line_items": line_items,
        "shipping_lines": [{"id": 1, "total": str(_round(ship_base, dp)),
                            "total_tax": str(sum(shipping_tax.values(), Decimal(0)))}] if shipping_cost else [],
        "fee_lines": [{"id": i, "name": "fee", "total": str(f)} for i, f in enumerate(fees, start=1)],
        "tax_lines": tax_lines, "gift_cards": gift_cards,
    }


_MAPPINGS: dict = {}


def _mapping(mapping_with, currency: str, mode: str):
    if (currency, mode) not in _MAPPINGS:
        taxes = "\n".join(f'"{code}" = "{account}"' for code, account in RATE_ACCOUNTS.items())
        mapping = mapping_with(accounts__tax=taxes, posting=f'discounts = "{mode}"')
        _MAPPINGS[currency, mode] = replace(mapping, store=replace(mapping.store, currency=currency))
    return _MAPPINGS[currency, mode]


def _check(order: dict, mapping, mode: str) -> None:
    document = load_order(order)
    try:
        entry = journal_entry(document, mapping)
    except NothingToPost:
        parts = [document["total"], *(i["subtotal" if mode == "gross" else "total"] for i in document["line_items"]),
                 *(f["total"] for f in document["fee_lines"]), document["total_tax"]]
        assert not any(parts), order
        return
    amounts = defaultdict(Decimal)
    for line in entry.lines:
        amounts[line.account_number] += line.amount
    assert sum(amounts.values()) == 0                                         # balances
    dp = CURRENCIES[order["currency"]]
    unit = Decimal(1).scaleb(-dp)
    items = document["line_items"]
    fees = [f["total"] for f in document["fee_lines"]]
    negative = -sum((f for f in fees if f < 0), Decimal(0))
    if mode == "gross":
        assert amounts["M30.4010"] == -sum(i["subtotal"] for i in items)
        assert amounts["M30.4090"] == sum(i["subtotal"] - i["total"] for i in items) + negative
    else:
        assert amounts["M30.4010"] == -sum(i["total"] for i in items)
        assert amounts["M30.4090"] == negative
    assert amounts["M30.4060"] == -sum((f for f in fees if f > 0), Decimal(0))
    assert amounts["M30.4050"] == -sum(s["total"] for s in document["shipping_lines"])
    for line in document["tax_lines"]:
        account = f"M30.{RATE_ACCOUNTS[line['rate_code']]}"
        assert amounts[account] == -(line["tax_total"] + line["shipping_tax_total"])
    clearing = "M30.1110.STRIPE" if order["payment_method"] == "stripe" else \
        "M30.1110.BANK" if order["payment_method"] == "bacs" else "M30.1110.WEB"
    assert amounts[clearing] == document["total"]
    assert amounts["M30.2450"] == sum(c["amount"] for c in document["gift_cards"])
    rounded = len(items) + len(document["shipping_lines"]) + len(fees) + len(document["tax_lines"])
    assert abs(amounts["M30.7990"]) <= unit * rounded                        # WooCommerce's rounding only


EXAMPLES = int(__import__("os").environ.get("CONNECTOR_PROPERTY_EXAMPLES", 10_000))


@pytest.mark.parametrize("mode", ["net", "gross"])
def test_every_woocommerce_order_balances_maps_exactly_and_is_never_refused(mapping_with, mode):
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(order=woo_orders())
    def check(order):
        _check(order, _mapping(mapping_with, order["currency"], mode), mode)

    check()
