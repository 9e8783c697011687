"""The /admin pages: behind a login, showing states, failures, reconciliation and an order's story."""
import pytest
from click.testing import CliRunner

from connector.cli import main


def _sign_in(client, username="admin", password="sandbox"):
    return client.post("/admin/login", data={"username": username, "password": password})


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
    assert client.get("/admin/orders/999").status_code == 404
    client.post("/admin/logout")
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
