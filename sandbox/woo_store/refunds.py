"""Order refunds as WooCommerce makes them (`wc_create_refund`) and its REST API v3 serves them.

A refund is a record of its own beside the order: the refunded items copied with negative
amounts, each pointing back at the order's item with a `_refunded_item_id` meta, its own tax
summary, and a positive `amount`. The order only lists it in `refunds[]` (newest first, total
negative) and turns `refunded` once its refunds reach its total. Amounts are Decimals to the
cent, written as strings.

The second half builds the requests a shop owner makes (one item, the shipping, an amount,
everything), in the body shape of `POST /orders/{id}/refunds`, for the tests and the demo.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sandbox.woo_store.catalog import error

CENT = Decimal("0.01")
# Refunds are posts in WordPress, numbered from the sequence orders use, so a refund id is never
# an order id. The sandbox numbers orders from its own counter (tests from 1000, the demo below
# 1 000 000 plus its count), so refunds count from far above any order id.
FIRST_REFUND_ID = 90_000_001
# Refund items and their meta take ids from one counter of their own, far above the order
# items' (order id × 10 + n): unique is all a reader can rely on.
FIRST_REFUND_ITEM_ID = 900_000_001
# Whether each gateway gives money back through its API (`supports('refunds')`): the sandbox's
# bank transfer, cheque and cash on delivery cannot; Stripe and PayPal can.
GATEWAY_REFUNDS = {"bacs": False, "cheque": False, "cod": False, "stripe": True, "paypal": True}
# What `wc_order_fully_refunded` writes on the refund it makes when an order is set to refunded.
FULLY_REFUNDED_REASON = "Order fully refunded."
# The refund object's fields, in the order the v3 controller writes them.
FIELDS = ("id", "date_created", "date_created_gmt", "amount", "reason", "refunded_by", "refunded_payment",
          "meta_data", "line_items", "shipping_lines", "tax_lines", "fee_lines")
# Fields whose schema context is `view` only: left out of answers in the `edit` context (the 201
# of a create is written in that context).
VIEW_ONLY = frozenset({"refunded_payment"})
_KINDS = ("line_items", "shipping_lines", "fee_lines")


class RefundRefused(Exception):
    """A refund request WooCommerce turns down: the REST answer's status, code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @property
    def body(self) -> dict:
        return error(self.code, self.message, self.status)


def _cannot_create(message: str) -> RefundRefused:
    # wc_create_refund's failures all reach the client as this one 500 with the function's message.
    return RefundRefused(500, "woocommerce_rest_cannot_create_order_refund", message)


def invalid_order() -> RefundRefused:
    return RefundRefused(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")


def invalid_refund_id() -> RefundRefused:
    """An id that is no refund or order at all (the CRUD controller's own check)."""
    return RefundRefused(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")


def not_of_order() -> RefundRefused:
    """A refund of another order (or an order's id): the refunds controller's check."""
    return RefundRefused(404, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.")


# -- amounts ----------------------------------------------------------------------------

def money(value) -> Decimal:
    """A request's amount (string or number) to the cent; missing or empty reads as 0, as PHP reads it."""
    if value is None or value == "":
        return Decimal("0.00")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        # PHP would read junk as 0 and refund nothing; a sandbox user is better told.
        raise RefundRefused(400, "woocommerce_rest_invalid_order_refund", f"{value!r} is not an amount.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def text(amount: Decimal) -> str:
    """To the cent; a negated zero reads "0.00" as PHP writes it, not "-0.00"."""
    return str((amount + 0).quantize(CENT, rounding=ROUND_HALF_UP))


def refunded(order: dict) -> Decimal:
    """What the order's refunds add up to (positive)."""
    return sum((-money(r.get("total")) for r in order.get("refunds") or []), Decimal("0.00"))


def remaining(order: dict) -> Decimal:
    """What can still be refunded: the order's total (after gift cards) less its refunds."""
    return money(order.get("total")) - refunded(order)


def _taxes(line: dict) -> dict[int, Decimal]:
    """A request line's `refund_tax` by rate id, zeros left out (WooCommerce filters them away).
    The REST shape is a list of {id, refund_total}; the internal one, {rate id: amount}, is read too."""
    raw = line.get("refund_tax") or []
    pairs = raw.items() if isinstance(raw, dict) else \
        ((t.get("id"), t.get("refund_total")) for t in raw if isinstance(t, dict))
    taxes = {int(rate): money(amount) for rate, amount in pairs if rate is not None}
    return {rate: amount for rate, amount in taxes.items() if amount}


def requested_amount(amount, line_items) -> Decimal:
    """The refund's amount: as given, else its lines' refund_total and refund_tax added up (the
    v3 controller works it out so when the request has none; no lines: 0)."""
    if amount is not None:
        return money(amount)
    return sum((money(line.get("refund_total")) + sum(_taxes(line).values(), Decimal(0))
                for line in line_items or []), Decimal("0.00"))


# -- checks, the record, the order --------------------------------------------------------

def check(order: dict, amount: Decimal, api_refund: bool) -> None:
    """Raise RefundRefused for a refund WooCommerce would not make, in the order it checks."""
    if amount < 0:
        raise RefundRefused(400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.")
    if amount > remaining(order):
        raise _cannot_create("Invalid refund amount.")
    if not api_refund:
        return
    method = order.get("payment_method") or ""
    if method not in GATEWAY_REFUNDS:
        raise _cannot_create("The payment gateway for this order does not exist.")
    if not GATEWAY_REFUNDS[method]:
        raise _cannot_create("The payment gateway for this order does not support automatic refunds.")
    if not order.get("date_paid_gmt"):
        # The gateway has no charge to refund: its API call fails (a sandbox stand-in for a
        # missing transaction).
        raise _cannot_create("An error occurred while attempting to create the refund using the payment gateway "
                             "API.")


def build(order: dict, *, refund_id: int, amount: Decimal, reason: str, line_items, refunded_payment: bool,
          created_gmt: str, ids) -> dict:
    """The refund as stored: the REST fields (dates in GMT only) plus `parent_id`, the order's id.

    Each requested line names an order item (line item, shipping or fee) by its id; ids the order
    does not have and lines asking for nothing are skipped. `ids` yields fresh item and meta ids.
    """
    wanted = {int(line["id"]): line for line in line_items or [] if line.get("id") is not None}
    refund = {"id": refund_id, "parent_id": order["id"], "date_created_gmt": created_gmt, "amount": text(amount),
              "reason": reason or "", "refunded_by": 1, "refunded_payment": bool(refunded_payment), "meta_data": []}
    for kind in _KINDS:
        refund[kind] = [copy for copy in (_refunded_item(kind, item, wanted[item["id"]], ids)
                                          for item in order.get(kind) or [] if item["id"] in wanted) if copy]
    refund["tax_lines"] = _tax_summary(order, refund, ids)
    return refund


def _refunded_item(kind: str, item: dict, line: dict, ids) -> dict | None:
    """The order item copied into the refund with the refunded amounts, negative."""
    quantity = int(line.get("quantity") or line.get("qty") or 0)
    total = money(line.get("refund_total"))
    taxes = {rate: -amount for rate, amount in _taxes(line).items()}
    if not quantity and not total and not taxes:
        return None
    tax_total = sum(taxes.values(), Decimal("0.00"))
    # A copy keeps what identifies the item: name, product, SKU, tax class; method title and id.
    copy = dict(item, id=next(ids), total=text(-total), total_tax=text(tax_total),
                meta_data=[{"id": next(ids), "key": "_refunded_item_id", "value": str(item["id"]),
                            "display_key": "_refunded_item_id", "display_value": str(item["id"])}])
    if kind == "line_items":
        copy.update(quantity=-quantity, subtotal=text(-total), subtotal_tax=text(tax_total),
                    taxes=[{"id": rate, "total": text(v), "subtotal": text(v)} for rate, v in taxes.items()],
                    # A JSON number in the REST shape: the line's total over its quantity.
                    price=float(-total / -quantity) if quantity else 0)
    else:
        # Shipping and fee taxes keep no subtotal: the API writes it empty.
        copy["taxes"] = [{"id": rate, "total": text(v), "subtotal": ""} for rate, v in taxes.items()]
    return copy


def _tax_summary(order: dict, refund: dict, ids) -> list[dict]:
    """The refund's own tax lines: per rate, the items' taxes and the shipping's, negative."""
    item_tax: dict[int, Decimal] = {}
    shipping_tax: dict[int, Decimal] = {}
    for kind in _KINDS:
        sums = shipping_tax if kind == "shipping_lines" else item_tax
        for copy in refund[kind]:
            for tax in copy["taxes"]:
                sums[tax["id"]] = sums.get(tax["id"], Decimal(0)) + Decimal(tax["total"])
    rates = {line.get("rate_id"): line for line in order.get("tax_lines") or []}
    summary = []
    for rate in [*item_tax, *(r for r in shipping_tax if r not in item_tax)]:
        known = rates.get(rate, {})
        summary.append({"id": next(ids), "rate_code": known.get("rate_code", ""), "rate_id": rate,
                        "label": known.get("label", ""), "compound": bool(known.get("compound", False)),
                        "tax_total": text(item_tax.get(rate, Decimal(0))),
                        "shipping_tax_total": text(shipping_tax.get(rate, Decimal(0))), "meta_data": []})
    return summary


def apply(order: dict, refund: dict, *, stamp: str) -> None:
    """The order once refunded: the refund first in `refunds[]`, `refunded` when nothing is left to
    refund (whatever its status, cancelled included), modified at `stamp`. Values are replaced,
    never edited in place: snapshots of the order share them."""
    fully = remaining(order) - money(refund["amount"]) <= 0
    summary = {"id": refund["id"], "reason": refund["reason"], "total": f"-{refund['amount']}"}
    order["refunds"] = [summary, *(order.get("refunds") or [])]
    if fully:
        order["status"] = "refunded"
    order["date_modified_gmt"] = stamp


def in_context(document: dict, context: str) -> dict:
    """A rendered refund as the API writes it in `context` (view or edit)."""
    if context != "edit":
        return document
    return {key: value for key, value in document.items() if key not in VIEW_ONLY}


# -- the requests a shop owner makes --------------------------------------------------------
# Each returns the body of `POST /orders/{id}/refunds`, whose keys are also those of
# `WooStore.refund_order`: `shop.refund_order(order["id"], **request)`.

def _request(amount: Decimal, lines: list[dict], reason: str, api_refund: bool) -> dict:
    return {"amount": text(amount), "reason": reason, "line_items": lines, "api_refund": api_refund}


def _line(item: dict, *, quantity: int = 0, less: dict | None = None) -> dict:
    """A request line giving back `item`'s total and each of its taxes, less what `less` (the
    item's earlier refunds, see `_refunded_by_item`) already gave back."""
    less = less or {"total": Decimal(0), "taxes": {}}
    taxes = [{"id": tax["id"], "refund_total": text(money(tax["total"]) - less["taxes"].get(tax["id"], Decimal(0)))}
             for tax in item.get("taxes") or []]
    line = {"id": item["id"], "quantity": quantity} if quantity else {"id": item["id"]}
    return line | {"refund_total": text(money(item["total"]) - less["total"]),
                   "refund_tax": [tax for tax in taxes if money(tax["refund_total"])]}


def _line_sum(lines: list[dict]) -> Decimal:
    return requested_amount(None, lines)


def item_refund(order: dict, item_id: int | None = None, *, reason: str = "", api_refund: bool = True) -> dict:
    """One line item given back whole: its quantity, total and each rate's tax (the first line
    unless `item_id` names one)."""
    items = order.get("line_items") or []
    item = next((i for i in items if item_id is None or i["id"] == item_id), None)
    if item is None:
        raise ValueError(f"order {order['id']} has no line item {item_id}")
    line = _line(item, quantity=int(item.get("quantity") or 0))
    return _request(_line_sum([line]), [line], reason, api_refund)


def shipping_refund(order: dict, *, reason: str = "", api_refund: bool = True) -> dict:
    """The shipping given back: each shipping line's total and tax."""
    lines = [_line(s) for s in order.get("shipping_lines") or [] if money(s.get("total")) or s.get("taxes")]
    if not lines:
        raise ValueError(f"order {order['id']} has no shipping charge to refund")
    return _request(_line_sum(lines), lines, reason, api_refund)


def amount_refund(order: dict, amount, *, reason: str = "", api_refund: bool = True) -> dict:
    """An amount given back without naming any item (a goodwill gesture, a price match)."""
    return _request(money(amount), [], reason, api_refund)


def full_refund(order: dict, *, refunds: list[dict] = (), reason: str = "", api_refund: bool = True) -> dict:
    """Everything left given back: every line item, shipping and fee with its taxes, less what
    `refunds` (the order's refund objects, as `WooStore.refunds` lists them) gave back already.

    The amount is what is left to refund (the order's total less its refunds). It can be less
    than the lines add up to: gift cards paid part of the order (they lower its total, not its
    items), or an earlier refund named no item. The lines stay as they are and the amount is
    capped, as a shop owner must do."""
    given = _refunded_by_item(refunds)
    lines = []
    for kind in _KINDS:
        for item in order.get(kind) or []:
            less = given.get(item["id"])
            quantity = int(item.get("quantity") or 0) - (less["quantity"] if less else 0)
            line = _line(item, quantity=max(quantity, 0) if kind == "line_items" else 0, less=less)
            if line.get("quantity") or money(line["refund_total"]) or line["refund_tax"]:
                lines.append(line)
    return _request(max(remaining(order), Decimal("0.00")), lines, reason, api_refund)


def _refunded_by_item(refunds) -> dict[int, dict]:
    """Per order item id: quantity, total and taxes by rate its refunds gave back (positive)."""
    given: dict[int, dict] = {}
    for refund in refunds:
        for kind in _KINDS:
            for copy in refund.get(kind) or []:
                origin = next((int(m["value"]) for m in copy.get("meta_data") or []
                               if m.get("key") == "_refunded_item_id"), None)
                if origin is None:
                    continue
                sums = given.setdefault(origin, {"quantity": 0, "total": Decimal(0), "taxes": {}})
                sums["quantity"] -= int(copy.get("quantity") or 0)
                sums["total"] -= money(copy.get("total"))
                for tax in copy.get("taxes") or []:
                    sums["taxes"][tax["id"]] = sums["taxes"].get(tax["id"], Decimal(0)) - money(tax["total"])
    return given
