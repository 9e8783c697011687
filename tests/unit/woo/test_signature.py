import base64
import hashlib
import hmac

import pytest

from connector.woo.signature import is_authentic, sign

BODY = b'{"id":727,"name":"Ship Your Idea &ndash; Color","url":"https:\\/\\/example.com\\/","n":"Jos\\u00e9"}'


def test_sign_is_base64_hmac_sha256_of_raw_bytes():
    expected = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha256).digest()).decode()
    assert sign("s3cret", BODY) == expected


def test_is_authentic_accepts_exact_bytes():
    assert is_authentic(["s3cret"], BODY, sign("s3cret", BODY))


@pytest.mark.parametrize("position", [0, 10, len(BODY) - 1])
def test_is_authentic_rejects_one_changed_byte(position):
    changed = bytearray(BODY)
    changed[position] ^= 0x01
    assert not is_authentic(["s3cret"], bytes(changed), sign("s3cret", BODY))


def test_is_authentic_rejects_reserialised_json():
    # The same document re-encoded without PHP's escapes is other bytes: it must fail.
    import json

    reencoded = json.dumps(json.loads(BODY), separators=(",", ":"), ensure_ascii=False).encode()
    assert reencoded != BODY
    assert not is_authentic(["s3cret"], reencoded, sign("s3cret", BODY))


@pytest.mark.parametrize("signature", [None, "", "not-base64", sign("other", BODY)])
def test_is_authentic_rejects_missing_or_wrong(signature):
    assert not is_authentic(["s3cret"], BODY, signature)


def test_is_authentic_accepts_any_secret_of_a_rotation():
    secrets = ["new-secret", "old-secret"]
    assert is_authentic(secrets, BODY, sign("old-secret", BODY))
    assert is_authentic(secrets, BODY, sign("new-secret", BODY))
    assert not is_authentic([], BODY, sign("new-secret", BODY))
