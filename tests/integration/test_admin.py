"""The /admin pages: behind a login, showing states, failures, reconciliation and an order's story.

(Their security, sessions, CSRF, headers, throttle and timing, is tests/integration/test_admin_security.py.)"""
import re

import pytest
from click.testing import CliRunner

from connector.cli import main


def csrf_token(client) -> str:
    """The CSRF token the sign-in page gives this client's session (every admin form carries it)."""
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _sign_in(client, username="admin", password="sandbox"):
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(client)})


def _sign_out(client):
    return client.post("/admin/logout", data={"csrf_token": csrf_token(client)})


def test_admin_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("username, password", [("admin", "wrong"), ("root", "sandbox"), ("", "")])
def test_admin_wrong_login_is_refused(client, username, password):
    response = _sign_in(client, username, password)
    assert response.status_code == 401 and b"wrong user or password" in response.data
    assert client.get("/admin/").status_code == 302


def test_admin_dashboard_and_order_story(client, runtime, fixture_payload):
    from sandbox.woo_webhooks import signed_delivery
    from tests.conftest import WEBHOOK_SECRET
    from connector import deliveries

    headers, body = signed_delivery(fixture_payload("order-727") | {"currency": "EUR"}, topic="order.created",
                                    secret=WEBHOOK_SECRET)
    delivery_id = client.post("/webhooks/woocommerce", data=body, headers=headers).json["delivery_id"]
    with runtime.db.transaction() as cur:
        deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses)
        cur.execute("UPDATE orders SET state = 'needs_attention', last_error = 'order currency EUR <b>x</b>'")
    assert _sign_in(client).status_code == 302
    page = client.get("/admin/").get_data(as_text=True)
    assert "needs_attention" in page and "order currency EUR &lt;b&gt;x&lt;/b&gt;" in page   # escaped
    story = client.get("/admin/orders/727").get_data(as_text=True)
    assert "order.created" in story and "needs_attention" in story
    # Not posted: the page shows what would be posted, here the ledger's refusal.
    assert "What would be posted" in story and "EUR is not the company currency" in story
    assert client.get("/admin/orders/999").status_code == 404
    assert _sign_out(client).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_admin_stored_login_replaces_the_sandbox_one(client, runtime):
    result = CliRunner().invoke(main, ["credentials", "set", "admin", "--username", "finance"],
                                input="correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0, result.output
    assert _sign_in(client).status_code == 401                                    # sandbox login gone
    assert _sign_in(client, "finance", "correct horse battery").status_code == 302
    with runtime.db.transaction() as cur:
        cur.execute("SELECT ciphertext FROM credentials WHERE name = 'admin'")
        assert b"correct horse" not in bytes(cur.fetchone()["ciphertext"])


@pytest.fixture
def login_failures(runtime):
    """The admin login's failure counts for `admin` and `finance`, cleared before and after."""
    from connector import login_attempts

    def clear():
        for name in ("admin", "finance"):
            login_attempts.clear(runtime.redis, name)

    clear()
    yield runtime.redis
    clear()


def test_admin_login_refused_after_ten_wrong_passwords(client, login_failures):
    from connector.login_attempts import MAX_FAILURES, WINDOW_SECONDS

    for _ in range(MAX_FAILURES):
        assert _sign_in(client, "admin", "guess").status_code == 401
    response = _sign_in(client)                       # the right password, too late
    assert response.status_code == 429 and b"too many wrong passwords" in response.data
    assert 0 < int(response.headers["Retry-After"]) <= WINDOW_SECONDS
    assert client.get("/admin/").status_code == 302   # not signed in
    assert _sign_in(client, "finance", "guess").status_code == 401   # other names are not affected


def test_admin_login_success_starts_the_count_again(client, login_failures):
    from connector.login_attempts import MAX_FAILURES

    for _ in range(MAX_FAILURES - 1):
        _sign_in(client, "admin", "guess")
    assert _sign_in(client).status_code == 302
    for _ in range(MAX_FAILURES - 1):
        assert _sign_in(client, "ADMIN", "guess").status_code == 401
    assert _sign_in(client).status_code == 302


def test_admin_login_works_while_redis_is_down(runtime):
    from connector.runtime import Runtime
    from web.app import create_app

    no_redis = Runtime(settings=runtime.settings, mapping=runtime.mapping,
                       database_url=runtime.database_url, redis_url="redis://127.0.0.1:1/0")
    client = create_app({"RUNTIME": no_redis, "ENQUEUE": lambda i: True, "BROKER_CHECK": lambda: True}).test_client()
    assert _sign_in(client, "admin", "guess").status_code == 401
    assert _sign_in(client).status_code == 302


def test_admin_order_page_previews_the_entry_of_an_unposted_order(client, runtime, fixture_payload):
    from connector import deliveries
    from sandbox.woo_webhooks import signed_delivery
    from tests.conftest import WEBHOOK_SECRET

    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET)
    delivery_id = client.post("/webhooks/woocommerce", data=body, headers=headers).json["delivery_id"]
    with runtime.db.transaction() as cur:
        deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses)
    _sign_in(client)
    page = client.get("/admin/orders/727").get_data(as_text=True)
    assert "WC-727 (sale" in page and "M30.1110.BANK" in page and "29.35" in page
    # A credit is shown in the credit column, unsigned: an empty debit cell, then the amount.
    assert re.search(r'<td class="money"></td>\s*<td class="money">18\.00 USD</td>', page)


def test_admin_order_page_lists_each_refund_with_its_entry(client, runtime, fixture_payload):
    from connector import deliveries
    from connector.store import journal_entries
    from connector.store import refunds as refund_rows
    from connector.woo.schemas import load_refund
    from sandbox.woo_webhooks import signed_delivery
    from tests.conftest import WEBHOOK_SECRET

    document = fixture_payload("order-727") | {"refunds": [{"id": 801, "reason": "damaged", "total": "-12.90"}]}
    headers, body = signed_delivery(document, topic="order.created", secret=WEBHOOK_SECRET)
    delivery_id = client.post("/webhooks/woocommerce", data=body, headers=headers).json["delivery_id"]
    record = {"id": 801, "date_created_gmt": "2017-03-25T18:00:00", "amount": "12.90", "reason": "damaged",
              "refunded_payment": False, "line_items": [], "shipping_lines": [], "fee_lines": []}
    with runtime.db.transaction() as cur:
        row_id = deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses).row_id
        refund_rows.store(cur, source=runtime.mapping.store.source, order_id=row_id, woo_order_id=727,
                          document=record, refund=load_refund(record))
    _sign_in(client)
    page = client.get("/admin/orders/727").get_data(as_text=True)
    # Not posted yet: the preview shows the sale and the refund's reversal to refunds_payable.
    assert "WC-727-R801 (refund" in page
    assert re.search(r'M30\.2460</td>\s*<td class="money"></td>\s*<td class="money">12\.90 USD</td>', page)
    assert "to pay back by hand" in page and "damaged" in page and "none" in page
    from connector.ledger import journal_entry
    from connector.woo.schemas import load_order

    with runtime.db.transaction() as cur:
        journal_entries.save_pending(cur, order_id=row_id, entry=journal_entry(load_order(document), runtime.mapping))
    page = client.get("/admin/orders/727").get_data(as_text=True)
    assert 'id="WC-727"' in page and "What would be posted" not in page
