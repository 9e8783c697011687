import json

from sandbox.woo_webhooks import php_json_encode


def test_php_json_encode_escapes_slashes_and_non_ascii():
    body = php_json_encode({"url": "https://example.com/a", "name": "José – Ø 😀"})
    assert body == b'{"url":"https:\\/\\/example.com\\/a","name":"Jos\\u00e9 \\u2013 \\u00d8 \\ud83d\\ude00"}'
    assert json.loads(body) == {"url": "https://example.com/a", "name": "José – Ø 😀"}


def test_php_json_encode_keeps_html_entities_and_numbers(fixture_payload):
    body = php_json_encode(fixture_payload("order-727"))
    assert b"&ndash;" in body and b'"price":12' in body and b"\\/wp-json\\/wc\\/v3\\/orders\\/727" in body
