"""Replay a needs_attention order after fixing its mapping, and see it posted: the worker and the
admin pages already running read the fixed mapping file, nothing is restarted."""
from __future__ import annotations

import re

import pytest

from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.integration.test_admin import csrf_token
from tests.support import query, start_worker, wait_for


def _order(db_url) -> dict:
    rows = query(db_url, "SELECT state, last_error, document_number FROM orders WHERE woo_id = 727")
    return rows[0] if rows else {}


def test_replay_after_fixing_the_mapping_posts_without_restart(stack_env, jde, mapping_path, tmp_path, clean_db,
                                                               fixture_payload):
    from connector.runtime import load_runtime
    from web.app import create_app

    worker = start_worker(dict(stack_env, CONNECTOR_CONFIG=str(mapping_path)), tmp_path)
    runtime = load_runtime()     # the admin's: the same mapping file (and the sandbox login)
    try:
        client = create_app({"RUNTIME": runtime}).test_client()
        # An order in euros while the mapping refuses other currencies than the company's.
        headers, body = signed_delivery(fixture_payload("order-727") | {"currency": "EUR"}, topic="order.created",
                                        secret=WEBHOOK_SECRET)
        assert client.post("/webhooks/woocommerce", data=body, headers=headers).status_code == 200
        wait_for(lambda: _order(clean_db).get("state") == "needs_attention", timeout=60,
                 what="the EUR order to need attention")
        assert "EUR" in _order(clean_db)["last_error"] and jde.f0911_rows() == []

        assert client.post("/admin/login", data={"username": "admin", "password": "sandbox",
                                                 "csrf_token": csrf_token(client)}).status_code == 302
        page = client.get("/admin/orders/727").get_data(as_text=True)
        assert '<h2>What would be posted</h2><p class="bad">order currency EUR is not the company currency' in page
        assert '<a id="replay"' in page

        # The fix: post foreign orders in their own currency, for JDE to convert.
        text = mapping_path.read_text(encoding="utf-8")
        mapping_path.write_text(text.replace('document_type = "JE"',
                                             'document_type = "JE"\nforeign_currency = "transaction"'),
                                encoding="utf-8")
        page = client.get("/admin/orders/727").get_data(as_text=True)
        # The preview, with the fixed mapping (the order's last error stays until it is posted).
        assert '<h2>What would be posted</h2><p class="bad">' not in page
        assert "WC-727 (sale, GL date 2017-03-22, EUR)" in page

        confirm = client.get("/admin/orders/727/replay").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
        assert client.post("/admin/orders/727/replay", data={"csrf_token": token}).status_code == 302
        # The replay committed `ready` before answering: whatever the worker makes of it comes after.
        wait_for(lambda: _order(clean_db).get("state") not in ("ready", "posting"), timeout=60,
                 what="the worker to post the replayed order")
        assert _order(clean_db)["state"] == "posted", _order(clean_db)
        lines = jde.f0911_rows()
        assert {line["CRCD"] for line in lines} == {"EUR"} and {line["VINV"] for line in lines} == {"WC-727"}
        assert "changed: reloaded" in worker.log()
        page = client.get("/admin/orders/727").get_data(as_text=True)
        assert '<span id="order-state">posted</span>' in page and "<td>web:admin</td>" in page
    finally:
        worker.stop()
        runtime.db.close()
