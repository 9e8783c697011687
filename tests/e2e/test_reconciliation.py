"""Reconciliation finds every injected discrepancy and nothing else; replay mends the ledger."""
import hashlib
from decimal import Decimal
from pathlib import Path
import random
from datetime import date

import pytest
import requests

from connector import deliveries, posting, reconciliation
from connector import replay as replays
from connector.runtime import load_runtime
from connector.store import deliveries as delivery_rows
from sandbox.ais import AisSandbox
from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_webhooks import php_json_encode

ORDERS = 2000
WINDOW = (date(2026, 11, 1), date(2026, 12, 31))


@pytest.fixture
def sandbox_jde():
    """A sandbox JDE with the sandbox login (JDE/JDE), reached as in sandbox mode."""
    with AisSandbox(seed=5) as server:
        yield server


@pytest.fixture
def rt(clean_db, sandbox_jde, monkeypatch, redis_url):
    """The connector runtime in sandbox mode, pointed at `sandbox_jde`."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("SANDBOX_AIS_URL", sandbox_jde.url)
    runtime = load_runtime()
    yield runtime
    runtime.db.close()


def _load(rt, documents) -> list[int]:
    """Store orders as deliveries and process them; the ready order row ids."""
    ready = []
    with rt.db.transaction() as cur:
        for document in documents:
            body = php_json_encode(document)
            delivery_id, _ = delivery_rows.insert(
                cur, source=rt.mapping.store.source, topic="order.created", webhook_id="1", wc_delivery_id=None,
                body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
                state="queued", error=None, lease_seconds=60)
            result = deliveries.process(cur, delivery_id, posting_statuses=rt.mapping.posting.statuses)
            ready.append(result.row_id)
    return ready


def _post(rt, row_ids):
    outcomes = [posting.post_order(rt.db, rt.mapping, rt.ais_client, row_id, lease_seconds=60).outcome
                for row_id in row_ids]
    return outcomes


def _reconcile(rt):
    run = reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=WINDOW[0], date_to=WINDOW[1],
                                   settle_seconds=0)
    return {(item.kind, item.batch_number) for item in run.items}, run


def _docs_by_batch(jde):
    found = {}
    for line in jde.f0911_rows():
        found.setdefault(line["VINV"], set()).add(line["DOC"])
    return found


@pytest.mark.slow
def test_reconcile_reports_each_injected_discrepancy_and_replay_mends(rt, sandbox_jde):
    rng = random.Random(17)
    people = shoppers(rng, 150)
    documents = [order_document(rng, 20000 + n, rng.choice(people)) for n in range(ORDERS + 1)]
    row_ids = _load(rt, documents[:ORDERS])
    assert set(_post(rt, row_ids)) == {"posted"}
    assert _reconcile(rt)[0] == set()   # a clean ledger reconciles to nothing
    row_ids += _load(rt, documents[ORDERS:])

    deleted, changed, doubled, never = "WC-20010", "WC-20020", "WC-20030", f"WC-{20000 + ORDERS}"
    jde_url = sandbox_jde.url
    requests.post(f"{jde_url}/sandbox/f0911/delete", json={"batch": deleted}).raise_for_status()
    requests.post(f"{jde_url}/sandbox/f0911/set-amount", json={"batch": changed, "line": 1, "amount": "1.00"}
                  ).raise_for_status()
    copy = [{k: str(v) if isinstance(v, Decimal) else v for k, v in dict(line, DOC=900001).items()}
            for line in sandbox_jde.f0911_rows() if line["VINV"] == doubled]
    foreign = [{"KCO": "00001", "DCT": "JE", "DOC": 900002, "DGJ": "126330", "JELN": n, "ANI": account,
                "AA": amount, "VINV": "WC-999999", "LT": "AA"}
               for n, (account, amount) in enumerate([("M30.1110.WEB", "50.00"), ("M30.4010", "-50.00")], 1)]
    requests.post(f"{jde_url}/sandbox/f0911/insert", json={"rows": copy + foreign}).raise_for_status()
    # row_ids[ORDERS] is paid but never posted (its message was lost, say).

    found, run = _reconcile(rt)
    assert found == {("missing_in_jde", deleted), ("amount_differs", changed), ("posted_twice", doubled),
                     ("unknown_in_jde", "WC-999999"), ("not_posted", never)}
    # Paged reads, never a call per order: 2,001 debit lines at 1,000 a page.
    assert run.ais_calls <= ORDERS // 1000 + 5

    # Replay what the connector can mend, plus an order that is fine: nothing is posted twice.
    with rt.db.transaction() as cur:
        decisions = replays.prepare(cur, rt.db, source=rt.mapping.store.source,
                                    woo_ids=[int(deleted[3:]), int(never[3:]), 20050])
    assert [d.queued for d in decisions] == [True, True, True]
    assert _post(rt, [d.row_id for d in decisions]) == ["posted", "posted", "already_posted"]
    docs = _docs_by_batch(sandbox_jde)
    assert len(docs[deleted]) == 1 and len(docs[never]) == 1 and len(docs["WC-20050"]) == 1

    # What needs a person in JDE: restore the amount, void the double and the foreign batch.
    line_one = next(l for l in sandbox_jde.f0911_rows() if l["VINV"] == changed and l["JELN"] == 1)
    expected = next(d for d in documents if d["id"] == 20020)["total"]
    requests.post(f"{jde_url}/sandbox/f0911/set-amount", json={"batch": changed, "line": 1, "amount": expected}
                  ).raise_for_status()
    requests.post(f"{jde_url}/sandbox/f0911/delete", json={"batch": "WC-999999"}).raise_for_status()
    requests.post(f"{jde_url}/sandbox/f0911/delete", json={"batch": doubled}).raise_for_status()
    with rt.db.transaction() as cur:
        [decision] = replays.prepare(cur, rt.db, source=rt.mapping.store.source, woo_ids=[int(doubled[3:])])
    assert _post(rt, [decision.row_id]) == ["posted"]
    assert line_one["AA"] != 0 and _reconcile(rt)[0] == set()
    assert all(len(d) == 1 for d in _docs_by_batch(sandbox_jde).values())
    assert len(_docs_by_batch(sandbox_jde)) == ORDERS + 1


@pytest.mark.parametrize("date_format", ["dd.MM.yyyy", "yyyy-MM-dd", "dd/MM/yyyy", "MM/dd/yyyy"])
def test_reconcile_month_in_the_users_date_format_finds_exactly_the_injected(clean_db, redis_url, monkeypatch,
                                                                              date_format):
    """November only, whatever the AIS user's date format; days whose day and month swap
    (3 November / 11 March) and the month's edges are where a wrong format would show."""
    from datetime import datetime, timedelta, timezone

    import redis

    redis.Redis.from_url(redis_url).flushdb()
    days = [datetime(2026, 10, 31, 20, tzinfo=timezone.utc), datetime(2026, 11, 1, 9, tzinfo=timezone.utc),
            datetime(2026, 11, 3, 12, tzinfo=timezone.utc), datetime(2026, 11, 11, 12, tzinfo=timezone.utc),
            datetime(2026, 11, 30, 20, tzinfo=timezone.utc), datetime(2026, 12, 1, 12, tzinfo=timezone.utc),
            datetime(2026, 3, 11, 12, tzinfo=timezone.utc), datetime(2026, 12, 11, 12, tzinfo=timezone.utc)]
    rng = random.Random(23)
    people = shoppers(rng, 20)
    documents = [order_document(rng, 30000 + n, rng.choice(people), created=days[n % len(days)] +
                                timedelta(minutes=n)) for n in range(120)]
    with AisSandbox(seed=9, date_format=date_format) as jde:
        monkeypatch.setenv("SANDBOX_AIS_URL", jde.url)
        rt = load_runtime()
        try:
            row_ids = _load(rt, documents)
            assert set(_post(rt, row_ids)) == {"posted"}
            assert rt.ais_session.date_format == date_format          # learnt from the token response
            november = {f"WC-{d['id']}" for d in documents
                        if datetime.fromisoformat(d["date_paid_gmt"]).replace(tzinfo=timezone.utc).astimezone(
                            rt.mapping.store.timezone).date().month == 11}
            outside = sorted({f"WC-{d['id']}" for d in documents} - november)
            inside = sorted(november)
            run = reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=date(2026, 11, 1),
                                           date_to=date(2026, 11, 30), page_size=7, settle_seconds=0)
            assert run.items == [] and run.entries_checked == len(november) and run.jde_lines >= len(november)
            # Inject: one deleted and one changed inside the month; one deleted outside it (not this
            # month's business).
            requests.post(f"{jde.url}/sandbox/f0911/delete", json={"batch": inside[0]}).raise_for_status()
            requests.post(f"{jde.url}/sandbox/f0911/set-amount", json={"batch": inside[1], "line": 1,
                                                                       "amount": "0.01"}).raise_for_status()
            requests.post(f"{jde.url}/sandbox/f0911/delete", json={"batch": outside[0]}).raise_for_status()
            run = reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=date(2026, 11, 1),
                                           date_to=date(2026, 11, 30), page_size=7, settle_seconds=0)
            assert {(i.kind, i.batch_number) for i in run.items} == {("missing_in_jde", inside[0]),
                                                                    ("amount_differs", inside[1])}
        finally:
            rt.db.close()


def test_foreign_currency_entry_posts_in_transaction_currency_and_reconciles(clean_db, redis_url, monkeypatch,
                                                                           fixture_payload, tmp_path):
    """[posting] foreign_currency = "transaction": JDE converts, reconciliation compares ACR."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    mapping = (Path(__file__).resolve().parents[1] / "fixtures" / "connector.toml").read_text().replace(
        'document_type = "JE"', 'document_type = "JE"\nforeign_currency = "transaction"')
    (tmp_path / "connector.toml").write_text(mapping)
    monkeypatch.setenv("CONNECTOR_CONFIG", str(tmp_path / "connector.toml"))
    with AisSandbox(seed=12) as jde:
        monkeypatch.setenv("SANDBOX_AIS_URL", jde.url)
        rt = load_runtime()
        try:
            [row_id] = _load(rt, [fixture_payload("order-727") | {"currency": "EUR"}])
            assert _post(rt, [row_id]) == ["posted"]
            lines = jde.f0911_rows()
            assert {l["CRCD"] for l in lines} == {"EUR"} and sum(l["AA"] for l in lines) == 0
            assert sorted(l["ACR"] for l in lines) == sorted([Decimal("29.35"), Decimal("-18.00"),
                                                              Decimal("-10.00"), Decimal("-1.35")])
            assert max(l["AA"] for l in lines) == Decimal("31.70")           # 29.35 EUR at 1.08
            run = reconciliation.reconcile(rt.db, rt.ais_client(), rt.mapping, date_from=date(2017, 3, 1),
                                           date_to=date(2017, 3, 31), settle_seconds=0)
            assert run.items == [] and run.entries_checked == 1
        finally:
            rt.db.close()


def test_refund_entries_are_reconciled_and_replayed_like_the_sale(rt, sandbox_jde):
    from connector.store import refunds as refund_rows
    from connector.woo.schemas import load_refund

    rng = random.Random(23)
    documents = [order_document(rng, 41000 + n, shoppers(rng, 1)[0]) | {"payment_method": "stripe", "gift_cards": []}
                 for n in range(3)]
    for document in documents:    # without a gift card, the total is what was paid
        document["total"] = str(sum(Decimal(document[k]) for k in ("shipping_total", "total_tax"))
                                + sum(Decimal(i["total"]) for i in document["line_items"])
                                + sum(Decimal(f["total"]) for f in document["fee_lines"]))
    row_ids = _load(rt, documents)
    assert set(_post(rt, row_ids)) == {"posted"}
    refunded = [d | {"date_modified_gmt": "2026-11-28T10:00:00",
                     "refunds": [{"id": 77000 + n, "reason": "", "total": "-5.00"}]} for n, d in enumerate(documents)]
    _load(rt, refunded)
    with rt.db.transaction() as cur:
        for n, (row_id, document) in enumerate(zip(row_ids, documents)):
            record = {"id": 77000 + n, "date_created_gmt": "2026-11-28T10:00:00", "amount": "5.00",
                      "refunded_payment": True, "line_items": [], "shipping_lines": [], "fee_lines": []}
            refund_rows.store(cur, source=rt.mapping.store.source, order_id=row_id, woo_order_id=document["id"],
                              document=record, refund=load_refund(record))
    assert set(_post(rt, row_ids)) == {"posted"}
    batches = [f"WC-{d['id']}-R{77000 + n}" for n, d in enumerate(documents)]
    assert set(batches) <= set(_docs_by_batch(sandbox_jde)) and _reconcile(rt)[0] == set()
    before = sorted((l["ANI"], l["AA"]) for l in sandbox_jde.f0911_rows() if l["VINV"] == batches[1])

    requests.post(f"{sandbox_jde.url}/sandbox/f0911/delete", json={"batch": batches[1]}).raise_for_status()
    found, run = _reconcile(rt)
    assert found == {("missing_in_jde", batches[1])}
    assert [item.woo_id for item in run.items] == [documents[1]["id"]]
    with rt.db.transaction() as cur:
        [decision] = replays.prepare(cur, rt.db, source=rt.mapping.store.source, woo_ids=[documents[1]["id"]])
    assert _post(rt, [decision.row_id]) == ["posted"]
    assert sorted((l["ANI"], l["AA"]) for l in sandbox_jde.f0911_rows() if l["VINV"] == batches[1]) == before
    assert _reconcile(rt)[0] == set() and all(len(d) == 1 for d in _docs_by_batch(sandbox_jde).values())
