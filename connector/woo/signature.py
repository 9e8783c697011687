"""WooCommerce webhook signatures: base64(HMAC-SHA256(secret, raw body)).

The signature covers the exact bytes PHP wrote (`\\/`, `\\uXXXX`), so it is checked on the
raw request body, never on re-serialised JSON.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_authentic(secrets: Iterable[str], body: bytes, signature: str | None) -> bool:
    """True when `signature` matches under any of `secrets` (several during a rotation).

    Every secret is tried, without stopping at the first match, so the time taken does
    not tell which secret matched; each comparison is constant-time.
    """
    if not signature:
        return False
    given = signature.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(secret, body).encode("ascii"), given)
    return matched
