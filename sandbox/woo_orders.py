"""Realistic WooCommerce orders and customers, seeded, shaped like the REST v3 resources.

Line items with quantities and coupons, per-line sales tax rounded to the cent at two rates
(a state rate, which also taxes shipping, and a county rate compounded on top of it), shipping,
fees, a gift card now and then, Stripe's fee in the order meta of Stripe orders, guests and
registered customers (returning ones too), names with non-ASCII letters and HTML entities,
every payment method of the demo mapping and one it does not name. Totals add up the way
WooCommerce adds them: items + shipping + fees + tax − gift cards. Every item of an order (line,
shipping, fee, coupon, tax) has its own id, order id × 10 + n, as items share one id sequence in
WooCommerce: a refund names the items it gives back by these ids.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.0725")          # the state rate, items and shipping
COUNTY_RATE = Decimal("0.01")         # compound: on the item plus its state tax
PRODUCTS = [
    (93, "Woo Single #1", Decimal("3.00")), (22, "Ship Your Idea &ndash; Black", Decimal("12.00")),
    (31, "Café au lait mug", Decimal("14.50")), (40, "Hoodie with Logo", Decimal("45.00")),
    (41, "Beanie", Decimal("18.00")), (57, "Sunglasses", Decimal("90.00")), (60, "Album", Decimal("15.00")),
]
FIRST = ["John", "Zoë", "Jürgen", "Ana", "Søren", "Chloé", "Mei", "Óscar", "Priya", "Łukasz"]
LAST = ["Doe", "Müller", "García", "Nørgaard", "Lefèvre", "Chen", "O'Brien", "Kowalski", "Silva", "Patel"]
METHODS = ["bacs", "stripe", "stripe", "paypal", "cod"]
EPOCH = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def _gmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Shopper:
    customer_id: int          # 0 = guest
    first_name: str
    last_name: str
    email: str

    def address(self) -> dict:
        return {"first_name": self.first_name, "last_name": self.last_name, "company": "",
                "address_1": "969 Market", "address_2": "", "city": "San Francisco", "state": "CA",
                "postcode": "94103", "country": "US"}


def shoppers(rng: random.Random, count: int, *, guests: float = 0.3) -> list[Shopper]:
    people = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        guest = rng.random() < guests
        email = f"{first.lower()}.{n}@example.com".encode("ascii", "ignore").decode()
        people.append(Shopper(0 if guest else 100 + n, first, last, email))
    return people


def customer_document(shopper: Shopper, modified: datetime = EPOCH) -> dict:
    """A `customer.*` payload of a registered shopper."""
    billing = shopper.address() | {"email": shopper.email, "phone": "(555) 555-5555"}
    return {"id": shopper.customer_id, "email": shopper.email, "first_name": shopper.first_name,
            "last_name": shopper.last_name, "role": "customer", "username": shopper.email.split("@")[0],
            "date_created_gmt": _gmt(modified), "date_modified_gmt": _gmt(modified),
            "billing": billing, "shipping": shopper.address(), "is_paying_customer": True, "meta_data": []}


def order_document(rng: random.Random, order_id: int, shopper: Shopper, *, status: str = "processing",
                   created: datetime | None = None) -> dict:
    """An order as `GET /wp-json/wc/v3/orders/{id}` returns it."""
    created = created or EPOCH + timedelta(minutes=order_id % 10_000)
    paid = created + timedelta(seconds=6) if status in ("processing", "completed") else None
    coupon = rng.random() < 0.2
    items, taxes, county_taxes = [], Decimal(0), Decimal(0)
    for line, (product_id, name, price) in enumerate(rng.sample(PRODUCTS, rng.randint(1, 3)), start=1):
        quantity = rng.randint(1, 3)
        subtotal = price * quantity
        total = (subtotal * Decimal("0.9")).quantize(CENT, rounding=ROUND_HALF_UP) if coupon else subtotal
        tax = (total * TAX_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        county = ((total + tax) * COUNTY_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        taxes += tax
        county_taxes += county
        items.append({"id": order_id * 10 + line, "name": name, "product_id": product_id, "variation_id": 0,
                      "quantity": quantity, "tax_class": "", "subtotal": _money(subtotal),
                      "subtotal_tax": _money((subtotal * TAX_RATE)), "total": _money(total),
                      "total_tax": _money(tax + county),
                      "taxes": [{"id": 75, "total": _money(tax), "subtotal": _money(tax)},
                                {"id": 76, "total": _money(county), "subtotal": _money(county)}],
                      "meta_data": [], "sku": f"SKU-{product_id}", "price": float(price)})
    shipping = rng.choice([Decimal("0.00"), Decimal("5.00"), Decimal("10.00")])
    shipping_tax = (shipping * TAX_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
    fees = [Decimal("2.50")] if rng.random() < 0.1 else []
    method = rng.choice(METHODS)
    items_total = sum(Decimal(i["total"]) for i in items)
    all_tax = taxes + county_taxes + shipping_tax
    total = items_total + shipping + sum(fees, Decimal(0)) + all_tax
    # A gift card now and then pays part of it (the WooCommerce Gift Cards extension).
    gift = min(total, Decimal("25.00")) if rng.random() < 0.08 else Decimal(0)
    total -= gift
    discount = sum(Decimal(i["subtotal"]) - Decimal(i["total"]) for i in items)
    meta = []
    if method == "stripe" and total > 0:
        # What WooCommerce Stripe writes once the charge succeeds: its fee, in the charge's currency.
        fee = (total * Decimal("0.029") + Decimal("0.30")).quantize(CENT, rounding=ROUND_HALF_UP)
        meta = [{"id": 1, "key": "_stripe_fee", "value": _money(fee)},
                {"id": 2, "key": "_stripe_net", "value": _money(total - fee)},
                {"id": 3, "key": "_stripe_currency", "value": "USD"}]
    billing = shopper.address() | {"email": shopper.email, "phone": "(555) 555-5555"}
    return {
        "id": order_id, "parent_id": 0, "number": str(order_id), "order_key": f"wc_order_{order_id:x}",
        "created_via": "checkout", "version": "9.4.0", "status": status, "currency": "USD",
        "date_created": None, "date_created_gmt": _gmt(created),
        "date_modified_gmt": _gmt(paid or created), "discount_total": _money(discount),
        "discount_tax": "0.00", "shipping_total": _money(shipping), "shipping_tax": _money(shipping_tax),
        "cart_tax": _money(taxes + county_taxes), "total": _money(total), "total_tax": _money(all_tax),
        "prices_include_tax": False, "customer_id": shopper.customer_id, "customer_note": "",
        "billing": billing, "shipping": shopper.address(), "payment_method": method,
        "payment_method_title": "", "transaction_id": "", "date_paid_gmt": _gmt(paid),
        "date_completed_gmt": None, "cart_hash": "", "meta_data": meta,
        "line_items": items,
        "tax_lines": [{"id": order_id * 10 + 7, "rate_code": "US-CA-STATE TAX-1", "rate_id": 75, "label": "State Tax",
                       "compound": False, "tax_total": _money(taxes), "shipping_tax_total": _money(shipping_tax),
                       "meta_data": []},
                      {"id": order_id * 10 + 8, "rate_code": "US-CA-COUNTY TAX-2", "rate_id": 76, "label": "County Tax",
                       "compound": True, "tax_total": _money(county_taxes), "shipping_tax_total": "0.00",
                       "meta_data": []}],
        "shipping_lines": [{"id": order_id * 10 + 4, "method_title": "Flat Rate", "method_id": "flat_rate",
                            "total": _money(shipping), "total_tax": _money(shipping_tax),
                            "taxes": [{"id": 75, "total": _money(shipping_tax)}] if shipping_tax else [],
                            "meta_data": []}],
        "fee_lines": [{"id": order_id * 10 + 5, "name": "Gift wrap", "tax_class": "", "tax_status": "none",
                       "total": _money(f), "total_tax": "0.00", "taxes": []} for f in fees],
        "coupon_lines": [{"id": order_id * 10 + 6, "code": "save10", "discount": _money(discount),
                          "discount_tax": "0.00"}] if coupon else [],
        "refunds": [],
        "gift_cards": [{"id": 1, "code": f"GC-{order_id}", "amount": _money(gift)}] if gift else [],
    }


def paid_version(document: dict, *, status: str = "processing") -> dict:
    """The `order.updated` of a pending order once payment arrived."""
    created = datetime.fromisoformat(document["date_created_gmt"]).replace(tzinfo=timezone.utc)
    paid = created + timedelta(minutes=3)
    return document | {"status": status, "date_paid_gmt": _gmt(paid), "date_modified_gmt": _gmt(paid)}
