"""Marshmallow schemas of the WooCommerce REST v3 resources that webhooks carry.

Unknown keys are tolerated (live stores add fields and plugins add more). Money arrives as
strings (`"29.35"`) and becomes `Decimal`; the body is decoded with `parse_float=Decimal`
so that numbers such as `line_items[].price` never pass through a float. Dates ending in
`_gmt` carry no offset and are UTC; they load as aware UTC datetimes.
"""
from __future__ import annotations

import json
import re
from datetime import timezone
from decimal import Decimal

from marshmallow import EXCLUDE, Schema, ValidationError, fields
from marshmallow.validate import Range

__all__ = ["ValidationError", "PayloadError", "decode_json", "load_order", "load_customer", "load_deleted",
           "load_product", "load_refund"]


class PayloadError(ValueError):
    """An authentic payload that cannot be used; the message says why, for a person."""


def _money(**kw):
    return fields.Decimal(load_default=Decimal("0"), allow_nan=False, **kw)


BIGINT = 2 ** 63 - 1     # what Postgres bigint (and so every id column) holds


def _int(**kw):
    return fields.Integer(validate=Range(min=-BIGINT - 1, max=BIGINT), **kw)


def _resource_id():
    return fields.Integer(required=True, strict=True,
                          validate=Range(min=1, max=BIGINT, error="must be an id from 1 to 2^63-1"))


def _utc(**kw):
    return fields.AwareDateTime(default_timezone=timezone.utc, load_default=None, allow_none=True, **kw)


class _Tolerant(Schema):
    class Meta:
        unknown = EXCLUDE


class AddressSchema(_Tolerant):
    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")
    company = fields.String(load_default="")
    address_1 = fields.String(load_default="")
    address_2 = fields.String(load_default="")
    city = fields.String(load_default="")
    state = fields.String(load_default="")
    postcode = fields.String(load_default="")
    country = fields.String(load_default="")
    email = fields.String(load_default="", allow_none=True)
    phone = fields.String(load_default="", allow_none=True)


class _BlankIsZero(fields.Decimal):
    """A money field WooCommerce may send as "" (a shipping or fee line's per-rate `subtotal`,
    which those lines do not have)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return Decimal("0") if value == "" else super()._deserialize(value, attr, data, **kwargs)


class TaxSchema(_Tolerant):
    id = _int(required=True)
    total = _BlankIsZero(load_default=Decimal("0"), allow_nan=False)
    subtotal = _BlankIsZero(load_default=Decimal("0"), allow_nan=False)


class LineItemSchema(_Tolerant):
    id = _int(required=True)
    name = fields.String(load_default="")
    product_id = _int(load_default=0)
    variation_id = _int(load_default=0)
    quantity = fields.Decimal(load_default=Decimal("0"), allow_nan=False)
    sku = fields.String(load_default="", allow_none=True)
    subtotal = _money()
    subtotal_tax = _money()
    total = _money()
    total_tax = _money()
    price = fields.Decimal(load_default=None, allow_none=True, allow_nan=False)
    taxes = fields.List(fields.Nested(TaxSchema), load_default=list)


class TaxLineSchema(_Tolerant):
    id = _int(required=True)
    rate_code = fields.String(load_default="")
    rate_id = _int(load_default=0)
    label = fields.String(load_default="")
    compound = fields.Boolean(load_default=False)
    tax_total = _money()
    shipping_tax_total = _money()


class ShippingLineSchema(_Tolerant):
    id = _int(required=True)
    method_id = fields.String(load_default="")
    method_title = fields.String(load_default="")
    total = _money()
    total_tax = _money()


class FeeLineSchema(_Tolerant):
    id = _int(required=True)
    name = fields.String(load_default="")
    total = _money()
    total_tax = _money()


class CouponLineSchema(_Tolerant):
    id = _int(required=True)
    code = fields.String(load_default="")
    discount = _money()
    discount_tax = _money()


class RefundSchema(_Tolerant):
    id = _int(required=True)
    # Live stores send `reason`; the REST documentation's example says `refund`.
    reason = fields.String(load_default="", allow_none=True)
    refund = fields.String(load_default="", allow_none=True)
    total = _money()


class MetaSchema(_Tolerant):
    key = fields.String(load_default="")
    value = fields.Raw(load_default=None, allow_none=True)


class GiftCardSchema(_Tolerant):
    """An entry of `gift_cards[]` (the WooCommerce Gift Cards extension): a card redeemed on the order."""
    id = _int(load_default=0)
    code = fields.String(load_default="")
    amount = _money()


class OrderSchema(_Tolerant):
    id = _resource_id()
    parent_id = _int(load_default=0)
    number = fields.String(load_default=None, allow_none=True)
    status = fields.String(required=True)
    currency = fields.String(required=True)
    prices_include_tax = fields.Boolean(load_default=False)
    customer_id = _int(load_default=0)
    date_created_gmt = _utc()
    date_modified_gmt = _utc()
    date_paid_gmt = _utc()
    date_completed_gmt = _utc()
    discount_total = _money()
    discount_tax = _money()
    shipping_total = _money()
    shipping_tax = _money()
    cart_tax = _money()
    total = fields.Decimal(required=True, allow_nan=False)
    total_tax = _money()
    payment_method = fields.String(load_default="", allow_none=True)
    payment_method_title = fields.String(load_default="", allow_none=True)
    transaction_id = fields.String(load_default="", allow_none=True)
    billing = fields.Nested(AddressSchema, load_default=dict)
    shipping = fields.Nested(AddressSchema, load_default=dict)
    line_items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    tax_lines = fields.List(fields.Nested(TaxLineSchema), load_default=list)
    shipping_lines = fields.List(fields.Nested(ShippingLineSchema), load_default=list)
    fee_lines = fields.List(fields.Nested(FeeLineSchema), load_default=list)
    coupon_lines = fields.List(fields.Nested(CouponLineSchema), load_default=list)
    refunds = fields.List(fields.Nested(RefundSchema), load_default=list)
    meta_data = fields.List(fields.Nested(MetaSchema), load_default=list)
    gift_cards = fields.List(fields.Nested(GiftCardSchema), load_default=list)


class CustomerSchema(_Tolerant):
    id = _resource_id()
    email = fields.String(load_default="", allow_none=True)
    first_name = fields.String(load_default="", allow_none=True)
    last_name = fields.String(load_default="", allow_none=True)
    username = fields.String(load_default="", allow_none=True)
    role = fields.String(load_default="", allow_none=True)
    date_created_gmt = _utc()
    date_modified_gmt = _utc()
    billing = fields.Nested(AddressSchema, load_default=dict)
    shipping = fields.Nested(AddressSchema, load_default=dict)


class _RefundedLine(_Tolerant):
    """A line of a refund (`wc_create_refund` copies the order's item): totals and taxes are
    negative, and `_refunded_item_id` in its meta names the order item it gives back."""
    id = _int(load_default=0)
    name = fields.String(load_default="", allow_none=True)
    total = _money()
    total_tax = _money()
    taxes = fields.List(fields.Nested(TaxSchema), load_default=list)
    meta_data = fields.List(fields.Nested(MetaSchema), load_default=list)


class RefundedItemSchema(_RefundedLine):
    product_id = _int(load_default=0)
    variation_id = _int(load_default=0)
    quantity = fields.Decimal(load_default=Decimal("0"), allow_nan=False)


class RefundedShippingSchema(_RefundedLine):
    method_id = fields.String(load_default="", allow_none=True)


class RefundRecordSchema(_Tolerant):
    """`GET /orders/{id}/refunds` (WC_REST_Order_Refunds_Controller): one refund as WooCommerce
    recorded it. `amount` is positive; `refunded_payment` is true when the gateway returned the money."""
    id = _resource_id()
    date_created_gmt = fields.AwareDateTime(default_timezone=timezone.utc, required=True)
    amount = fields.Decimal(required=True, allow_nan=False, validate=lambda v: v >= 0)
    reason = fields.String(load_default="", allow_none=True)
    refunded_payment = fields.Boolean(load_default=False)
    line_items = fields.List(fields.Nested(RefundedItemSchema), load_default=list)
    shipping_lines = fields.List(fields.Nested(RefundedShippingSchema), load_default=list)
    fee_lines = fields.List(fields.Nested(_RefundedLine), load_default=list)


class CategorySchema(_Tolerant):
    id = _int(load_default=0)
    name = fields.String(load_default="")
    slug = fields.String(required=True)


class ProductSchema(_Tolerant):
    """`GET /products/{id}` and product.* webhooks: what revenue by category needs."""
    id = _resource_id()
    name = fields.String(load_default="")
    parent_id = _int(load_default=0)
    date_modified_gmt = _utc()
    categories = fields.List(fields.Nested(CategorySchema), load_default=list)


class DeletedSchema(_Tolerant):
    """`*.deleted` deliveries carry only the id."""
    id = _resource_id()


# What a payload may hold: Postgres jsonb cannot store \u0000 or a lone UTF-16 surrogate in a
# string, nor a number beyond its numeric range; WooCommerce sends none of them, so they are
# refused before anything is stored, with a reason, rather than failing at insert time.
MAX_NUMBER_CHARS = 40
MAX_EXPONENT = 100
# A \u escape preceded by an even number of backslashes (an odd run would escape the backslash).
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")


def _number(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise PayloadError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = Decimal(text)
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise PayloadError(f"the number {text} is out of range")
    return value


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise PayloadError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _constant(name: str):
    raise PayloadError(f"{name} is not a number JSON allows")


def _lone_surrogate(document) -> bool:
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def decode_json(body: bytes):
    """The JSON document of a body, with every non-integer number as `Decimal`; PayloadError for
    anything that is not JSON or that Postgres jsonb cannot hold."""
    if _NUL.search(body):
        raise PayloadError("body holds \\u0000 in a string, which cannot be stored")
    try:
        document = json.loads(body.decode("utf-8"), parse_float=_number, parse_int=_integer,
                              parse_constant=_constant)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise PayloadError("body is nested deeper than the parser allows") from None
    if _SURROGATE.search(body) and _lone_surrogate(document):
        raise PayloadError("body holds a lone UTF-16 surrogate in a string, which cannot be stored")
    return document


def _load(schema: Schema, document, what: str) -> dict:
    if not isinstance(document, dict):
        raise PayloadError(f"{what} payload must be a JSON object, got {type(document).__name__}")
    try:
        return schema.load(document)
    except ValidationError as exc:
        raise PayloadError(f"{what} payload fails the schema: {_describe(exc.messages)}") from None


def _describe(messages, prefix: str = "") -> str:
    parts = []
    for key, value in (messages.items() if isinstance(messages, dict) else [("", messages)]):
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            parts.append(_describe(value, path))
        else:
            parts.append(f"{path}: {' '.join(map(str, value))}")
    return "; ".join(parts)


_ORDER, _CUSTOMER, _DELETED, _PRODUCT = OrderSchema(), CustomerSchema(), DeletedSchema(), ProductSchema()
_REFUND = RefundRecordSchema()


def load_refund(document) -> dict:
    return _load(_REFUND, document, "refund")


def load_product(document) -> dict:
    return _load(_PRODUCT, document, "product")


def load_order(document) -> dict:
    return _load(_ORDER, document, "order")


def load_customer(document) -> dict:
    return _load(_CUSTOMER, document, "customer")


def load_deleted(document) -> dict:
    return _load(_DELETED, document, "deleted")
