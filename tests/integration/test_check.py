"""`connector check` against the sandbox JDE and the sandbox shop: all ✓, and each fault named."""
import json
import random
import socket

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.embedded import free_port
from connector.woo.registration import TOPICS
from sandbox.ais import AisSandbox
from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_store import WooStoreServer
from tests.conftest import WEBHOOK_SECRET

AIS_PASSWORD = "ch3ck-Pa55"
SECRET_KEY = "mlkxmD3h0Yk0xvJsG4rXH2vS1F0wq3Zb6Yb0hCwQ2kE="


@pytest.fixture
def systems(clean_db, redis_url, monkeypatch):
    """A sandbox JDE and a sandbox shop whose webhooks point at the connector's public URL."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    public_url = f"http://127.0.0.1:{free_port()}"
    with AisSandbox(seed=4, password=AIS_PASSWORD) as jde, WooStoreServer(seed=4) as shop:
        for topic in TOPICS:
            shop.add_webhook(topic, public_url + "/webhooks/woocommerce", WEBHOOK_SECRET)
        rng = random.Random(4)
        shop.place_order(order_document(rng, 501, shoppers(rng, 1)[0]))
        for name, value in dict(AIS_BASE_URL=jde.url, AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD,
                                AIS_ENVIRONMENT="JDV920", AIS_ROLE="*ALL", CONNECTOR_SECRET_KEY=SECRET_KEY,
                                WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY=shop.consumer_key,
                                WOO_CONSUMER_SECRET=shop.consumer_secret, CONNECTOR_PUBLIC_URL=public_url).items():
            monkeypatch.setenv(name, value)
        yield jde, shop


def _check(*args):
    result = CliRunner().invoke(main, ["check", "--format", "json", "--timeout", "2", *args])
    return result.exit_code, json.loads(result.output)


def _failed(report) -> list[dict]:
    return [c for c in report["checks"] if c["status"] != "ok"]


def test_check_sandbox_all_pass(systems):
    code, report = _check()
    assert (code, _failed(report)) == (0, []), report
    names = {c["name"] for c in report["checks"]}
    assert {"AIS reachable", "AIS login", "AIS read F0911", "account M30.1110.BANK", "webhook product.updated",
            "orchestration ORCH_WOO_PostJournalEntry", "WooCommerce refunds"} <= names
    login = next(c for c in report["checks"] if c["name"] == "AIS login")
    assert "dd.MM.yyyy" in login["detail"]


def test_check_text_format_marks_each_line(systems):
    result = CliRunner().invoke(main, ["check", "--timeout", "2"])
    assert result.exit_code == 0 and result.output.count("✓") == len(result.output.strip().splitlines())


def _fault(systems, name, monkeypatch):
    jde, shop = systems
    if name == "wrong password":
        monkeypatch.setenv("AIS_PASSWORD", "not-the-password")
    elif name == "silent port":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)            # connections are accepted by the kernel, never answered
        monkeypatch.setenv("AIS_BASE_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
        return listener
    elif name == "account missing":
        jde.remove_account("M30.4050")
    elif name == "orchestration missing":
        jde.remove_orchestration("ORCH_WOO_AddCustomer")
    elif name == "webhook disabled":
        webhook = next(w for w in shop.store.webhooks() if w["topic"] == "order.updated")
        shop.disable_webhook(webhook["id"])
    elif name == "webhooks elsewhere":
        shop.redirect_webhooks("https://old-connector.example.com/webhooks/woocommerce")
    return None


@pytest.mark.parametrize("fault, failing, words", [
    ("wrong password", "AIS login", ["user JDE", "connector credentials set ais"]),
    ("silent port", "AIS login", ["does not answer", "allow"]),
    ("account missing", "account M30.4050", ["[accounts.shipping]", "F0901"]),
    ("orchestration missing", "orchestration ORCH_WOO_AddCustomer", ["[orchestrations.add_customer]",
                                                                     "Orchestrator Studio"]),
    ("webhook disabled", "webhook order.updated", ["disabled", "connector woo webhooks ensure"]),
    ("webhooks elsewhere", "webhook order.created", ["old-connector.example.com", "CONNECTOR_PUBLIC_URL"]),
])
def test_check_fault_names_cause_and_fix(systems, monkeypatch, fault, failing, words):
    listener = _fault(systems, fault, monkeypatch)
    try:
        code, report = _check()
    finally:
        if listener:
            listener.close()
    assert code == 1
    failed = {c["name"]: c for c in _failed(report)}
    assert failing in failed, report
    text = failed[failing]["detail"] + " " + failed[failing]["fix"]
    for word in words:
        assert word in text, text
