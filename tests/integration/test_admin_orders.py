"""/admin/orders: the searchable list, an order's page, and the operator's actions on it (through
connector/operator_actions.py, like the CLI), each with its audit row naming the operator."""
from __future__ import annotations

import copy
import json
import re

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.store import orders as order_rows
from connector.woo.schemas import load_order
from tests.integration.test_admin import csrf_token
from tests.support import one_line_failure, query

SOURCE_ROWS = "SELECT woo_id, state, attempts, maybe_in_jde, last_error, lease_until IS NULL AS unleased FROM orders"


def _sign_in(client):
    response = client.post("/admin/login", data={"username": "admin", "password": "sandbox",
                                                 "csrf_token": csrf_token(client)})
    assert response.status_code == 302


@pytest.fixture
def signed_in(client):
    _sign_in(client)
    return client


def _order(fixture_payload, woo_id: int, **changes) -> dict:
    document = copy.deepcopy(fixture_payload("order-727"))
    document.update(id=woo_id, number=str(woo_id), **changes)
    return document


def _store(runtime, *documents, state: str | None = None, **columns) -> list[int]:
    """The orders as a webhook would store them, then set to `state` and `columns`; their row ids."""
    ids = []
    with runtime.db.transaction() as cur:
        for document in documents:
            row = order_rows.upsert(cur, source=runtime.mapping.store.source, order=load_order(document),
                                    payload_json=json.dumps(document), delivery_id=None,
                                    payable=document["status"] in runtime.mapping.posting.statuses)
            ids.append(row["id"])
            if state or columns:
                sets = {"state": state, **columns} if state else columns
                cur.execute(f"UPDATE orders SET {', '.join(f'{k} = %s' for k in sets)} WHERE id = %s",
                            [*sets.values(), row["id"]])
    return ids


def _entry(runtime, order_id: int, batch: str, *, kind="refund", document=None):
    with runtime.db.transaction() as cur:
        cur.execute("INSERT INTO journal_entries (order_id, kind, batch_number, company, document_type, gl_date, "
                    "currency, total_debit, lines, state, document_number) VALUES (%s, %s, %s, '00001', 'JE', "
                    "'2026-11-30', 'USD', 1, '[]', %s, %s)",
                    (order_id, kind, batch, "posted" if document else "pending", document))


def _listed(page: str) -> list[str]:
    """The order ids the list shows, in its order."""
    return re.findall(r'<tr class="order"><td><a class="order-link" href="/admin/orders/(\d+)"', page)


def _problems(page: str) -> list[str]:
    return re.findall(r'<p class="bad problem">([^<]*)', page)


# --- the list --------------------------------------------------------------------------------

@pytest.fixture
def shop(runtime, fixture_payload):
    """Six orders: 1001–1006, one of them (1004) refunded, 1005 with another customer."""
    docs = [_order(fixture_payload, n, billing=dict(fixture_payload("order-727")["billing"],
                                                     email=f"Buyer{n}@Example.com")) for n in range(1001, 1007)]
    docs[4]["billing"]["email"] = "finance_dept@other.example"
    ids = _store(runtime, *docs)
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE orders SET state = 'posted', batch_number = 'WC-' || woo_id, "
                    "document_number = (40000 + woo_id)::text WHERE woo_id IN (1003, 1004)")
    _entry(runtime, ids[3], "WC-1004-R9", document="50001")
    return ids


@pytest.mark.parametrize("q, found", [
    ("1003", ["1003"]),                        # the order number
    ("#1003", ["1003"]),                       # as the shop writes it
    ("buyer1002@example.com", ["1002"]),       # the customer's e-mail, in any case
    ("BUYER1002@EXAMPLE.COM", ["1002"]),
    ("buyer100", ["1006", "1004", "1003", "1002", "1001"]),   # the beginning of an e-mail
    ("finance_", ["1005"]),                    # LIKE's wildcard is a plain character here
    ("finance%", []),
    ("wc-1003", ["1003"]),                     # a sale's batch, on the order
    ("WC-1004-R9", ["1004"]),                  # a refund's batch: only on its journal entry
    ("41003", ["1003"]),                       # the JDE document of the sale
    ("50001", ["1004"]),                       # the JDE document of the refund
    ("nobody@nowhere.example", []),
])
def test_orders_list_search_finds_by_each_key(signed_in, shop, q, found):
    response = signed_in.get("/admin/orders", query_string={"q": q})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert _listed(page) == found
    assert f'{len(found)} order{"s" if len(found) != 1 else ""}' in page


def test_orders_list_filters_by_state_and_attention(signed_in, runtime, fixture_payload):
    _store(runtime, _order(fixture_payload, 2001), state="needs_attention")
    _store(runtime, _order(fixture_payload, 2002), state="failed")
    _store(runtime, _order(fixture_payload, 2003), state="posted")
    _store(runtime, _order(fixture_payload, 2004))                       # ready
    assert _listed(signed_in.get("/admin/orders?state=needs_attention").get_data(as_text=True)) == ["2001"]
    assert _listed(signed_in.get("/admin/orders?attention=1").get_data(as_text=True)) == ["2002", "2001"]
    assert _listed(signed_in.get("/admin/orders?state=posted&attention=1").get_data(as_text=True)) == []
    assert _listed(signed_in.get("/admin/orders?state=&q=").get_data(as_text=True)) == ["2004", "2003", "2002", "2001"]


@pytest.mark.parametrize("window, found", [
    ({"from": "2026-11-29", "to": "2026-11-29"}, ["3002"]),   # 07:30 UTC on the 30th is the 29th in Los Angeles
    ({"from": "2026-11-30"}, ["3003"]),
    ({"to": "2026-11-28"}, ["3001"]),
    ({"from": "2026-11-28", "to": "2026-11-30"}, ["3003", "3002", "3001"]),
])
def test_orders_list_date_filter_uses_the_store_time_zone(signed_in, runtime, fixture_payload, window, found):
    for woo_id, created in ((3001, "2026-11-28T20:00:00"), (3002, "2026-11-30T07:30:00"),
                            (3003, "2026-11-30T08:30:00")):
        _store(runtime, _order(fixture_payload, woo_id, date_created_gmt=created))
    assert _listed(signed_in.get("/admin/orders", query_string=window).get_data(as_text=True)) == found


def test_orders_list_pages_of_fifty_newest_first(signed_in, runtime, fixture_payload):
    _store(runtime, *[_order(fixture_payload, n) for n in range(4001, 4121)])     # 120 orders
    first = signed_in.get("/admin/orders?state=ready").get_data(as_text=True)
    assert _listed(first) == [str(n) for n in range(4120, 4070, -1)]
    assert "120 orders · page 1 of 3" in first and 'id="prev-page"' not in first
    following = re.search(r'<a id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "state=ready" in following                                         # the filters go along
    second = signed_in.get(following).get_data(as_text=True)
    assert _listed(second) == [str(n) for n in range(4070, 4020, -1)] and 'id="prev-page"' in second
    last = signed_in.get("/admin/orders?state=ready&page=3").get_data(as_text=True)
    assert _listed(last) == [str(n) for n in range(4020, 4000, -1)] and 'id="next-page"' not in last


def test_orders_list_page_past_the_end_says_so(signed_in, shop):
    response = signed_in.get("/admin/orders?page=9000")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and _listed(page) == []
    assert "Page 9,000 is past the last page" in page and 'href="/admin/orders?page=1"' in page


@pytest.mark.parametrize("args, words", [
    ({"from": "2026-13-01"}, "from &#39;2026-13-01&#39; is not a date"),
    ({"to": "yesterday"}, "to &#39;yesterday&#39; is not a date"),
    ({"from": "0001-01-01"}, "outside 1900–2099"),
    ({"to": "9999-12-31"}, "outside 1900–2099"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "from 2026-11-30 is after to 2026-11-01"),
    ({"state": "lost"}, "&#39;lost&#39; is not a state"),
    ({"page": "0"}, "page &#39;0&#39; is not a page number"),
    ({"page": "-1"}, "is not a page number"),
    ({"page": "two"}, "is not a page number"),
    ({"page": "9" * 30}, "is not a page number"),
    ({"q": "x" * 201}, "the search is 201 characters long"),
    ({"q": "a\x00b"}, "NUL"),
])
def test_orders_list_bad_input_is_a_message_not_an_error(signed_in, shop, args, words):
    response = signed_in.get("/admin/orders", query_string=args)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(words in p for p in _problems(page)), _problems(page)
    assert 'id="orders"' not in page and 'id="order-search"' in page     # the form stays, to correct it


def test_orders_list_shows_money_with_the_currency_places_and_store_times(signed_in, runtime, fixture_payload):
    _store(runtime, _order(fixture_payload, 5001, currency="JPY", total="1500", date_created_gmt="2026-11-30T07:30:00"))
    _store(runtime, _order(fixture_payload, 5002, currency="KWD", total="12.3456"))
    page = signed_in.get("/admin/orders").get_data(as_text=True)
    assert "1,500 JPY" in page and "12.346 KWD" in page
    assert "2026-11-29 23:30:00 PST" in page


def test_orders_list_search_uses_indexes_not_a_scan(runtime):
    """With 20,000 orders, each key the search tries is an index probe: no sequential scan of
    orders or journal_entries, whichever key is typed."""
    from connector.store import order_search

    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        cur.execute("""INSERT INTO orders (source, woo_id, number, status, currency, total, billing_email,
                           date_created_gmt, payload, state, batch_number, document_number)
                       SELECT %s, n, n::text, 'processing', 'USD', 10, 'buyer' || n || '@example.com',
                              now() - n * interval '1 minute', '{}', 'posted', 'WC-' || n, (100000 + n)::text
                       FROM generate_series(1, 20000) n""", (source,))
        cur.execute("INSERT INTO journal_entries (order_id, kind, batch_number, company, document_type, gl_date, "
                    "currency, total_debit, lines, state, document_number) SELECT id, 'sale', batch_number, '00001', "
                    "'JE', '2026-11-30', 'USD', 10, '[]', 'posted', document_number FROM orders")
        cur.execute("ANALYZE orders; ANALYZE journal_entries")
        for text in ("buyer17@example.com", "buyer1734", "WC-1734", "101734", "1734"):
            plan = order_search.explain(cur, source=source, wanted=order_search.OrderFilter(text=text))
            assert "Seq Scan" not in plan, plan
        plan = order_search.explain(cur, source=source, wanted=order_search.OrderFilter(text="buyer1734@"))
        assert "orders_billing_email" in plan, plan


# --- an order's page ---------------------------------------------------------------------------

@pytest.mark.parametrize("asked, words", [
    ("424242", "Order 424242 is not known here"),
    (str(2 ** 63 - 1), "is not known here"),
    ("99999999999999999999", "is not an order number known here"),
    ("abc", "is not an order number known here"),
])
def test_order_page_unknown_order_is_a_404_in_the_admin_shell(signed_in, runtime, asked, words):
    response = signed_in.get(f"/admin/orders/{asked}")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<p id="not-found">' in page and words in page
    assert 'id="nav-orders"' in page and "signed in as admin" in page        # the shell, not Flask's bare 404
    if asked.isdigit() and len(asked) < 20:
        assert "connector poll" in page
    assert "script" not in page.lower() and "style=" not in page


def test_order_page_unknown_order_needs_a_login(client):
    response = client.get("/admin/orders/424242")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_order_page_shows_jde_error_money_and_store_times(signed_in, runtime, fixture_payload):
    _store(runtime, _order(fixture_payload, 727), state="needs_attention",
           last_error="JDE refused: Account M30.4010 is not valid (exceptionId 7)")
    answer = {"message": "ORCH_WOO_PostJournalEntry failed: <Account> not valid", "exceptionId": "b7c1-42",
              "jde__status": "ERROR"}
    with runtime.db.transaction() as cur:
        # As the AIS client's hook records a refused call (audit_log is append-only: its time is given here).
        for at, outcome in (("2026-11-30T07:29:00Z", "rejected"), ("2026-11-30T07:30:00Z", "rejected"),
                            ("2026-11-30T07:31:00Z", "ok")):
            cur.execute("INSERT INTO audit_log (at, subject_type, subject_id, action, outcome, duration_ms, response, "
                        "detail) VALUES (%s, 'order', '727', 'ais.orchestrator', %s, 112, %s, 'HTTP 500')",
                        (at, outcome, json.dumps(answer)))
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert '<span id="order-state">needs_attention</span>' in page
    assert "29.35 USD" in page and "2017-03-22 12:28:02 PDT" in page        # total; created, in Los Angeles
    assert "JDE refused: Account M30.4010 is not valid (exceptionId 7)" in page
    assert "2026-11-29 23:30:00 PST: ais.orchestrator answered <b>rejected</b> (HTTP 500)" in page
    assert "ORCH_WOO_PostJournalEntry failed: &lt;Account&gt; not valid" in page and "b7c1-42" in page


@pytest.mark.parametrize("state, shown", [
    ("needs_attention", {"replay", "resolve"}),
    ("failed", {"replay", "resolve"}),
    ("ready", {"replay", "requeue"}),
    ("posted", {"replay"}),
    ("resolved", {"replay"}),
    ("awaiting_payment", set()),
])
def test_order_page_shows_only_the_actions_that_apply(signed_in, runtime, fixture_payload, state, shown):
    _store(runtime, _order(fixture_payload, 727), state=state)
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert {a for a in ("replay", "requeue", "resolve") if f'<a id="{a}" href="/admin/orders/727/{a}"' in page} == shown
    for action in {"replay", "requeue", "resolve"} - shown:
        confirm = signed_in.get(f"/admin/orders/727/{action}").get_data(as_text=True)
        assert 'id="refused"' in confirm and 'id="confirm"' not in confirm


# --- actions ------------------------------------------------------------------------------------

@pytest.fixture
def sent(monkeypatch):
    """What the actions hand to the broker, through tasks/workers.py as in production."""
    import tasks.enqueue

    calls = []
    monkeypatch.setattr(tasks.enqueue, "send", lambda task, *args, **kw: calls.append((task.name, *args)) or True)
    return calls


def _confirm_and_post(client, path, **form):
    """The button's way: the confirmation page, then its form, with the page's CSRF token."""
    confirm = client.get(path)
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and '<button id="confirm">' in page and 'method="post"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(path, data={"csrf_token": token, **form})


def _audit(db_url, subject_type="order"):
    return query(db_url, "SELECT subject_id, action, outcome, detail, actor, request FROM audit_log "
                         "WHERE subject_type = %s AND actor IS NOT NULL ORDER BY id", subject_type)


def test_order_action_replay_through_the_web(signed_in, runtime, fixture_payload, sent):
    _store(runtime, _order(fixture_payload, 727), state="needs_attention", attempts=3, last_error="JDE refused it")
    response = _confirm_and_post(signed_in, "/admin/orders/727/replay")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/orders/727")
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert re.search(r'<p id="notice">Replay of order 727: was needs_attention: queued', page)
    assert '<span id="order-state">ready</span>' in page
    assert sent == [("post_order", 727)]
    [row] = query(runtime.database_url, SOURCE_ROWS)
    assert (row["state"], row["attempts"], row["maybe_in_jde"], row["last_error"]) == ("ready", 0, True, None)
    assert _audit(runtime.database_url) == [{"subject_id": "727", "action": "order.state", "outcome": "ready",
                                             "detail": "replay requested", "actor": "web:admin",
                                             "request": {"from": "needs_attention"}}]
    assert "<td>web:admin</td>" in page                                     # the story names the operator
    assert 'id="notice"' not in signed_in.get("/admin/orders/727").get_data(as_text=True)   # said once


def test_order_action_requeue_sends_a_ready_order_now(signed_in, runtime, fixture_payload, sent):
    _store(runtime, _order(fixture_payload, 727), attempts=2, last_error="timed out; retry in 30 s")
    assert _confirm_and_post(signed_in, "/admin/orders/727/requeue").status_code == 302
    assert sent == [("post_order", 727)]
    [row] = query(runtime.database_url, SOURCE_ROWS)
    assert (row["state"], row["attempts"], row["unleased"]) == ("ready", 2, False)     # nothing reset
    [audit] = _audit(runtime.database_url)
    assert (audit["action"], audit["actor"]) == ("operator.requeue", "web:admin")
    assert "Requeue of order 727: sent to the worker again" in signed_in.get("/admin/orders/727").get_data(as_text=True)


def test_order_action_resolve_records_reason_and_operator(signed_in, runtime, fixture_payload, sent):
    _store(runtime, _order(fixture_payload, 727), state="failed")
    reason = "posted by hand in JDE as document 4711 <after the outage>"
    assert _confirm_and_post(signed_in, "/admin/orders/727/resolve", reason=reason).status_code == 302
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert '<span id="order-state">resolved</span>' in page and 'id="resolve"' not in page
    assert "posted by hand in JDE as document 4711 &lt;after the outage&gt;" in page
    assert sent == []                                                      # nothing for JDE
    assert _audit(runtime.database_url) == [{"subject_id": "727", "action": "order.state", "outcome": "resolved",
                                             "detail": reason, "actor": "web:admin", "request": {"from": "failed"}}]


@pytest.mark.parametrize("reason, words", [("", "say why"), ("   ", "say why"), ("x" * 1001, "1,001 characters")])
def test_order_action_resolve_without_a_usable_reason_changes_nothing(signed_in, runtime, fixture_payload, reason,
                                                                       words):
    _store(runtime, _order(fixture_payload, 727), state="needs_attention")
    response = _confirm_and_post(signed_in, "/admin/orders/727/resolve", reason=reason)
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert query(runtime.database_url, "SELECT state FROM orders") == [{"state": "needs_attention"}]
    assert _audit(runtime.database_url) == []


@pytest.mark.parametrize("action", ["replay", "requeue", "resolve"])
@pytest.mark.parametrize("token", [None, "forged"])
def test_order_action_without_the_csrf_token_is_refused(signed_in, runtime, fixture_payload, sent, action, token):
    _store(runtime, _order(fixture_payload, 727), state="ready" if action == "requeue" else "needs_attention")
    before = query(runtime.database_url, SOURCE_ROWS)
    form = {"reason": "fixed by hand"} | ({"csrf_token": token} if token else {})
    response = signed_in.post(f"/admin/orders/727/{action}", data=form)
    assert response.status_code == 400 and b"nothing was done" in response.data
    assert query(runtime.database_url, SOURCE_ROWS) == before and _audit(runtime.database_url) == [] and sent == []


def test_order_action_refused_when_it_no_longer_applies(signed_in, runtime, fixture_payload, sent):
    """Confirmed on a page that is out of date: the order was posted meanwhile."""
    _store(runtime, _order(fixture_payload, 727), state="needs_attention")
    confirm = signed_in.get("/admin/orders/727/resolve").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE orders SET state = 'posted'")
    signed_in.post("/admin/orders/727/resolve", data={"csrf_token": token, "reason": "done by hand"})
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert "Mark resolved of order 727 not done: it is posted" in page
    assert '<span id="order-state">posted</span>' in page and _audit(runtime.database_url) == []


def test_delivery_requeue_of_a_delivery_in_error(signed_in, runtime, fixture_payload, sent):
    from tests.integration.test_operator_commands import _processed_delivery

    _store(runtime, _order(fixture_payload, 727))
    delivery_id = _processed_delivery(runtime, _order(fixture_payload, 727))
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET state = 'error', tries = 11, resource_id = 727, "
                    "error = 'parked: taken up 10 times' WHERE id = %s", (delivery_id,))
    order_page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert f'<a class="requeue-delivery" href="/admin/deliveries/{delivery_id}/requeue">' in order_page
    response = _confirm_and_post(signed_in, f"/admin/deliveries/{delivery_id}/requeue")
    assert response.headers["Location"].endswith("/admin/orders/727")
    assert sent == [("process_delivery", delivery_id)]
    [row] = query(runtime.database_url, "SELECT state, tries, error FROM deliveries")
    assert row == {"state": "queued", "tries": 0, "error": None}
    assert _audit(runtime.database_url, "delivery") == [
        {"subject_id": str(delivery_id), "action": "operator.requeue", "outcome": None,
         "detail": "was in error: parked: taken up 10 times", "actor": "web:admin", "request": None}]
    # Processed, it is left as it is.
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET state = 'done'")
    assert 'id="refused"' in signed_in.get(f"/admin/deliveries/{delivery_id}/requeue").get_data(as_text=True)


# --- the same actions from the shell ----------------------------------------------------------

@pytest.fixture
def fresh_runtime(runtime, monkeypatch):
    """The commands load their own runtime; start them from none."""
    from connector import runtime as runtimes

    monkeypatch.setattr(runtimes, "_current", None)
    yield runtime
    monkeypatch.setattr(runtimes, "_current", None)


@pytest.mark.parametrize("action, web_form, command", [
    ("replay", {}, ["replay", "{id}"]),
    ("resolve", {"reason": "fixed in JDE by hand"}, ["orders", "resolve", "{id}", "--reason", "fixed in JDE by hand"]),
])
def test_order_action_cli_and_web_give_the_same_result(signed_in, fresh_runtime, fixture_payload, sent, action,
                                                       web_form, command):
    import getpass

    runtime = fresh_runtime
    _store(runtime, _order(fixture_payload, 727), _order(fixture_payload, 728), state="needs_attention", attempts=4,
           last_error="JDE refused it")
    assert _confirm_and_post(signed_in, f"/admin/orders/727/{action}", **web_form).status_code == 302
    result = CliRunner().invoke(main, [word.format(id=728) for word in command])
    assert result.exit_code == 0, result.output
    web, cli = query(runtime.database_url, SOURCE_ROWS + " ORDER BY woo_id")
    assert {**web, "woo_id": 728} == cli
    web_audit, cli_audit = _audit(runtime.database_url)
    assert web_audit["actor"] == "web:admin" and cli_audit["actor"] == f"cli:{getpass.getuser()}"
    assert {**web_audit, "subject_id": "728", "actor": None} == {**cli_audit, "actor": None}
    assert sent == ([("post_order", 727), ("post_order", 728)] if action == "replay" else [])


def test_delivery_requeue_cli_and_web_give_the_same_result(signed_in, fresh_runtime, fixture_payload, sent):
    from tests.integration.test_operator_commands import _processed_delivery

    runtime = fresh_runtime
    ids = [_processed_delivery(runtime, _order(fixture_payload, n)) for n in (727, 728)]
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET state = 'error', tries = 3, error = 'no such account'")
    assert _confirm_and_post(signed_in, f"/admin/deliveries/{ids[0]}/requeue").status_code == 302
    assert CliRunner().invoke(main, ["requeue", str(ids[1])]).exit_code == 0
    web, cli = query(runtime.database_url, "SELECT state, tries, error, lease_until <= now() AS due FROM deliveries "
                                           "ORDER BY id")
    assert web == cli == {"state": "queued", "tries": 0, "error": None, "due": True}
    web_audit, cli_audit = _audit(runtime.database_url, "delivery")
    assert {**web_audit, "subject_id": None, "actor": None} == {**cli_audit, "subject_id": None, "actor": None}
    assert sent == [("process_delivery", ids[0]), ("process_delivery", ids[1])]


def test_orders_resolve_cli_refuses_what_does_not_apply(fresh_runtime, fixture_payload):
    _store(fresh_runtime, _order(fixture_payload, 727), state="posted")
    one_line_failure(CliRunner().invoke(main, ["orders", "resolve", "727", "--reason", "x"]),
                     "order 727 not resolved", "it is posted")
    one_line_failure(CliRunner().invoke(main, ["orders", "resolve", "424242", "--reason", "x"]), "no such order")
    one_line_failure(CliRunner().invoke(main, ["orders", "resolve", "727", "--reason", "  "]), "--reason", "say why")
    assert query(fresh_runtime.database_url, "SELECT state FROM orders") == [{"state": "posted"}]
    assert _audit(fresh_runtime.database_url) == []


def test_requeue_cli_reopens_a_delivery_in_error(fresh_runtime, fixture_payload, sent):
    from tests.integration.test_operator_commands import _processed_delivery

    delivery_id = _processed_delivery(fresh_runtime, _order(fixture_payload, 727))
    with fresh_runtime.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET state = 'error', error = 'no such account'")
    result = CliRunner().invoke(main, ["requeue", str(delivery_id)])
    assert result.exit_code == 0 and "was in error: no such account" in result.output, result.output
    assert sent == [("process_delivery", delivery_id)]
    assert query(fresh_runtime.database_url, "SELECT state FROM deliveries") == [{"state": "queued"}]


def test_resolved_order_is_final_for_the_connector(runtime, fixture_payload):
    """Neither the sweeper, a later webhook nor reconciliation's not_posted bring it back."""
    from datetime import datetime, timedelta, timezone

    from connector.store import reconciliation as reconciliation_rows

    [resolved] = _store(runtime, _order(fixture_payload, 727), state="resolved",
                        updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    _store(runtime, _order(fixture_payload, 728), state="needs_attention")
    _store(runtime, _order(fixture_payload, 727, date_modified_gmt="2027-01-01T00:00:00"))   # a newer version
    with runtime.db.transaction() as cur:
        assert order_rows.take_unfinished(cur, lease_seconds=0, limit=10) == []
        assert order_rows.claim_for_posting(cur, resolved, lease_seconds=60) is None
        unposted = reconciliation_rows.paid_orders_not_posted(
            cur, statuses=runtime.mapping.posting.statuses, settled_before=datetime.now(timezone.utc) + timedelta(1))
    assert [o["woo_id"] for o in unposted] == [728]
    assert query(runtime.database_url, "SELECT state FROM orders WHERE woo_id = 727") == [{"state": "resolved"}]


def test_order_page_shows_lines_as_debit_or_credit_with_balanced_totals(signed_in, runtime, fixture_payload):
    _store(runtime, _order(fixture_payload, 727), state="ready")
    page = signed_in.get("/admin/orders/727").get_data(as_text=True)
    assert "What would be posted" in page and "<th>debit</th><th>credit</th>" in page
    [(debits, credits, verdict)] = re.findall(r'<tr class="total"><th colspan="1">total</th><td class="money">([^<]*)'
                                              r'</td>\s*<td class="money">([^<]*)</td><td>([^<]*)</td>', page)
    assert debits == credits == "29.35 USD" and verdict == "balanced"     # the clearing debit is the order total
    assert 'class="money">-' not in page                                   # no signed amounts on either side
