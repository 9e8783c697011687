"""Webhook deliveries exactly as WooCommerce makes them.

WooCommerce encodes with `wp_json_encode`, i.e. PHP's json_encode without flags: compact,
`/` written as `\\/` and every non-ASCII character as a lowercase `\\uXXXX` escape (UTF-16
surrogate pairs beyond the BMP). It signs those bytes: base64(HMAC-SHA256(key, body)), the
key being the webhook's secret passed through `wp_specialchars_decode($secret, ENT_QUOTES)`
(WC_Webhook::generate_signature), so a secret saved as "a&amp;b" signs as "a&b".

The signing is written out here, not imported from the connector: a stand-in that shares
code with what it tests would hide that code's bugs.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from decimal import Decimal

_delivery_ids = itertools.count(1)

# wp_specialchars_decode( $text, ENT_QUOTES ): numeric entities lose their zero padding, then
# one strtr() pass turns these entities (and only these) into their characters.
_ENTITY_PADDING = [(re.compile(pattern, flags), canonical) for pattern, flags, canonical in (
    (r"&#0*39;", 0, "&#039;"), (r"&#x0*27;", re.I, "&#x27;"), (r"&#0*34;", 0, "&#034;"),
    (r"&#x0*22;", re.I, "&#x22;"), (r"&#0*60;", 0, "&#060;"), (r"&#0*62;", 0, "&#062;"),
    (r"&#0*38;", 0, "&#038;"), (r"&#x0*26;", re.I, "&#x26;"))]
_ENTITIES = {"&#039;": "'", "&#x27;": "'", "&quot;": '"', "&#034;": '"', "&#x22;": '"', "&lt;": "<",
             "&#060;": "<", "&gt;": ">", "&#062;": ">", "&amp;": "&", "&#038;": "&", "&#x26;": "&"}
_ENTITY = re.compile("|".join(re.escape(entity) for entity in sorted(_ENTITIES, key=len, reverse=True)))


def wp_specialchars_decode(text: str) -> str:
    """WordPress's wp_specialchars_decode( $text, ENT_QUOTES )."""
    if "&" not in text:
        return text
    for pattern, canonical in _ENTITY_PADDING:
        text = pattern.sub(canonical, text)
    return _ENTITY.sub(lambda match: _ENTITIES[match.group()], text)


def sign(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature of `body` under the webhook's `secret`."""
    key = wp_specialchars_decode(secret).encode("utf-8")
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


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
