"""Webhook deliveries exactly as WooCommerce makes them.

WooCommerce encodes with `wp_json_encode`, i.e. PHP's json_encode without flags: compact,
`/` written as `\\/` and every non-ASCII character as a lowercase `\\uXXXX` escape (UTF-16
surrogate pairs beyond the BMP). It signs those bytes: base64(HMAC-SHA256(secret, body)).
"""
from __future__ import annotations

import itertools
import json
from decimal import Decimal

from connector.woo.signature import sign

_delivery_ids = itertools.count(1)


def _plain(value):
    if isinstance(value, Decimal):
        # PHP keeps money as strings; a Decimal here stands for a JSON number.
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def php_json_encode(document) -> bytes:
    """The bytes `trim(wp_json_encode(document))` gives in PHP."""
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":"), default=_plain)
    # '/' can only occur inside strings in JSON text, so this touches nothing structural.
    return text.replace("/", "\\/").encode("ascii")


def delivery_headers(*, body: bytes, topic: str, secret: str, source: str = "https://shop.example.com/",
                     webhook_id: int = 1, delivery_id: int | None = None) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(secret, body),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": str(delivery_id if delivery_id is not None else next(_delivery_ids)),
    }


def signed_delivery(document, *, topic: str, secret: str, **headers) -> tuple[dict[str, str], bytes]:
    """(headers, body) of one delivery of `document` under `topic`."""
    body = php_json_encode(document)
    return delivery_headers(body=body, topic=topic, secret=secret, **headers), body


def ping(webhook_id: int = 1) -> tuple[dict[str, str], bytes]:
    """The form-encoded ping WooCommerce sends when a webhook is created: no X-WC-* headers."""
    return {"Content-Type": "application/x-www-form-urlencoded"}, f"webhook_id={webhook_id}".encode()
