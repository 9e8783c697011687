"""JDE as Oracle's servers answer: rejections a person must see, outages waited out."""
import random
import subprocess
import sys
from collections import defaultdict

import psycopg2
import pytest

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_webhooks import signed_delivery
from tests.conftest import ROOT, WEBHOOK_SECRET
from tests.support import order_states as _states
from tests.support import wait_for


def _scalar(db_url, sql, *args):
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_rejected_account_needs_attention_with_jdes_text(stack, jde, clean_db, fixture_payload, tmp_path):
    # The sandbox's chart of accounts has no object account starting with 9.
    mapping = (ROOT / "tests" / "fixtures" / "connector.toml").read_text().replace('shipping = "4050"', 'shipping = "9050"')
    (tmp_path / "connector.toml").write_text(mapping)
    stack.env["CONNECTOR_CONFIG"] = str(tmp_path / "connector.toml")
    stack.start()
    stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: _states(clean_db).get("needs_attention") == 1, timeout=60, what="order 727 needs attention")

    orchestrations = jde.stats()["orchestrations"]
    assert sum(orchestrations.values()) <= 2 and orchestrations.get("ORCH_WOO_PostJournalEntry") == 1
    assert jde.f0911_rows() == []
    shown = subprocess.run([sys.executable, "-m", "connector.cli", "orders", "show", "727"], env=stack.env,
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    error = _scalar(clean_db, "SELECT last_error FROM orders WHERE woo_id = 727")
    exception_id = error.split("exceptionId ", 1)[1].split(")")[0]
    text = " ".join(shown.stdout.split())
    assert "Invalid Account Number" in text and "M30.9050" in text and exception_id in text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["proxy_503", "refuse"])
def test_jde_outage_is_waited_out_nothing_failed_lost_or_doubled(stack, jde, clean_db, mode):
    stack.env.update(CONNECTOR_PROBE_SECONDS="2", CONNECTOR_RETRY_BASE_SECONDS="0.2")
    stack.start(workers=1, concurrency=4, beat=True)
    rng = random.Random(31)
    people = shoppers(rng, 15)
    orders = [order_document(rng, 40000 + n, rng.choice(people)) for n in range(90)]
    stack.send_orders(orders[:30])
    wait_for(lambda: _states(clean_db).get("posted", 0) >= 10, timeout=60, what="10 orders posted")

    outage_seconds = 25
    jde.outage(outage_seconds, mode=mode)
    stack.send_orders(orders[30:75])
    # Every webhook is processed while JDE is still down: deliveries never wait behind posting.
    wait_for(lambda: _scalar(clean_db, "SELECT count(*) FROM deliveries WHERE state <> 'done'") == 0,
             timeout=20, what="deliveries processed during the outage")
    assert jde.stats()["outage"] is not None, "the outage ended before the deliveries were processed"
    status = subprocess.run([sys.executable, "-m", "connector.cli", "status"], env=stack.env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert "JDE: unreachable since" in status.stdout, status.stdout + status.stderr
    calls_into_outage = jde.stats().get("outage_answers", 0)

    wait_for(lambda: jde.stats()["outage"] is None, timeout=outage_seconds + 10, what="the outage to end")
    stack.send_orders(orders[75:])
    wait_for(lambda: _states(clean_db).get("posted", 0) == len(orders), timeout=120, interval=0.5,
             what=f"all {len(orders)} orders posted after the outage")

    assert _states(clean_db) == {"posted": len(orders)}                      # 0 failed, 0 lost
    documents = defaultdict(set)
    for line in jde.f0911_rows():
        documents[line["VINV"]].add(line["DOC"])
    assert set(documents) == {f"WC-{o['id']}" for o in orders}
    assert all(len(docs) == 1 for docs in documents.values())               # 0 doubled
    assert _scalar(clean_db, "SELECT max(attempts) FROM orders") <= 2          # the outage used no attempts
    if mode == "proxy_503":
        # One probe every 2 s, plus the few outage answers that opened the breaker: no hammering.
        assert calls_into_outage <= outage_seconds / 2 + 12
