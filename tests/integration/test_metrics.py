"""/metrics after a real run: `connector run` (web, worker, beat, Flower) against the sandbox JDE.

Every series of the README's *Metrics* table is read from README.md, so the table and the code
cannot drift apart: each must be exposed, with the value the run implies, and nothing named
connector_* may be exposed that the table does not list. Flower's flower_* series must not leak in.
"""
import os
import random
import re
import signal
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import AIS_PASSWORD, TEST_SECRET_KEY
from tests.e2e.conftest import jde, stack_env  # noqa: F401  (fixtures: the sandbox JDE, the processes' env)
from tests.support import ROOT, Process, free_port, order_states, query, start_web, start_worker, wait_for

ORDERS = 5
POST_ORCHESTRATION = "orchestrator/ORCH_WOO_PostJournalEntry"
FLOWER_AUTH = ("metrics", "flower-s3cret-pw")


def readme_series() -> dict[str, tuple[str, tuple[str, ...]]]:
    """{name: (type, labels)} of the README's table under "## Metrics"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(connector_\w+)` \| (counter|gauge|histogram) \| ([^|]*)\|", section, re.MULTILINE)
    assert len(rows) >= 10, section
    return {name: (kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}


def scrape(url: str) -> tuple[str, dict]:
    """(the text, {sample name: {labels as a sorted tuple: value}})."""
    response = requests.get(url, timeout=20)
    assert response.status_code == 200, response.text
    samples: dict = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return response.text, samples


def exposed_series(text: str) -> dict[str, str]:
    """{name as the README writes it: type} of the connector's series in an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("connector_"):
            found[family.name + ("_total" if family.type == "counter" else "")] = family.type
    return found


def _orders(first_id: int, count: int) -> list[dict]:
    rng = random.Random(first_id)
    people = shoppers(rng, 4)
    return [order_document(rng, first_id + n, rng.choice(people)) for n in range(count)]


def _send(port: int, documents) -> None:
    session = requests.Session()
    for document in documents:
        headers, body = signed_delivery(document, topic="order.created", secret=WEBHOOK_SECRET)
        response = session.post(f"http://127.0.0.1:{port}/webhooks/woocommerce", data=body, headers=headers,
                                timeout=30)
        assert response.status_code == 200, response.text


@pytest.fixture
def connector_run(stack_env, tmp_path):  # noqa: F811
    """`connector run` on the test's database and Redis, the sandbox JDE as its AIS server."""
    port, flower_port = free_port(), free_port()
    env = dict(stack_env, FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    run = Process("run", [sys.executable, "-m", "connector.cli", "run", "--port", str(port),
                          "--flower-port", str(flower_port)], env, tmp_path)
    try:
        wait_for(lambda: run.popen.poll() is not None or (
            " ready." in run.log() and "beat: Starting" in run.log() and "Visit me at" in run.log()
            and "serving web.app" in run.log()), timeout=90, what="connector run's processes")
        assert run.popen.poll() is None, run.log()
        yield {"proc": run, "port": port, "flower": f"http://127.0.0.1:{flower_port}", "var": tmp_path}
    finally:
        run.stop(timeout=30)
        # Children live in sessions of their own (honcho): none may outlive the test.
        for pid in re.findall(r"started \(pid=(\d+)\)", run.log()):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_metrics_after_a_run_show_every_series_of_the_readme(connector_run, clean_db):
    from tasks import app as celery_app

    port = connector_run["port"]
    _send(port, _orders(40001, ORDERS))
    wait_for(lambda: order_states(clean_db).get("posted") == ORDERS, timeout=90, what="the orders to be posted")
    celery_app.send_task("reconcile_gl", kwargs={"date_from": "2026-11-01", "date_to": "2026-12-31"})
    wait_for(lambda: query(clean_db, "SELECT 1 FROM reconciliation_runs WHERE state = 'done'"), timeout=60,
             what="the reconciliation")

    url = f"http://127.0.0.1:{port}/metrics"
    # Beat's sweeps come and go every 2 s: the queues are read until they are found empty.
    text, samples = wait_for(lambda: (lambda t, s: (t, s) if set(s["connector_queue_depth"].values()) == {0}
                                      else None)(*scrape(url)), timeout=30, what="empty queues")

    documented = readme_series()
    exposed = exposed_series(text)
    assert {name: kind for name, (kind, _) in documented.items()} == exposed
    for name, (kind, labels) in documented.items():
        sample = name if kind != "histogram" else name + "_count"
        label_names = {key for key, _ in next(iter(samples[sample]))}
        assert label_names == set(labels), (name, label_names)

    def value(name, **labels):
        return samples[name][tuple(sorted(labels.items()))]

    assert value("connector_webhooks_total", outcome="queued") == ORDERS
    assert value("connector_postings_total", outcome="posted") == ORDERS
    assert value("connector_orders", state="posted") == ORDERS
    assert value("connector_deliveries", state="done") == ORDERS
    assert value("connector_ais_logins_total") == 1
    assert value("connector_ais_calls_total", service=POST_ORCHESTRATION, outcome="ok") == ORDERS
    assert value("connector_ais_call_seconds_count", service=POST_ORCHESTRATION) == ORDERS
    assert 0 < value("connector_ais_call_seconds_sum", service=POST_ORCHESTRATION) < ORDERS * 5
    assert samples["connector_ais_calls_total"][(("outcome", "ok"), ("service", "dataservice/F0911"))] >= 1
    assert value("connector_queue_depth", queue="celery") == 0 and value("connector_queue_depth", queue="posting") == 0
    assert value("connector_ais_circuit_open") == 0
    assert value("connector_reconciliation_discrepancies") == 0
    assert 0 <= value("connector_reconciliation_age_seconds") < 120
    assert set(samples["connector_scrape_source_up"].values()) == {1}

    # Flower keeps its own series (and serves them itself); none reaches the connector's /metrics.
    flower = requests.get(f"{connector_run['flower']}/metrics", auth=FLOWER_AUTH, timeout=20)
    assert flower.status_code == 200 and "flower_" in flower.text
    assert "flower_" not in text
    # web and worker counted into var/prometheus, as `connector run` gave it to them.
    assert any((connector_run["var"] / "prometheus").glob("counter_*.db"))
    log = connector_run["proc"].log()
    assert AIS_PASSWORD not in log and TEST_SECRET_KEY not in log and WEBHOOK_SECRET not in log
    assert "SecurityWarning" not in log


def test_worker_on_its_own_host_serves_its_counters_on_its_port(stack_env, tmp_path, clean_db):  # noqa: F811
    """Web and worker as on two dynos: each its own directory; the worker's counts on its own port."""
    web_env = {k: v for k, v in stack_env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    worker_port = free_port()
    worker_env = dict(web_env, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "worker-metrics"),
                      CONNECTOR_WORKER_METRICS_PORT=str(worker_port), CONNECTOR_WORKER_METRICS_HOST="127.0.0.1")
    port = free_port()
    web = start_web(web_env, tmp_path, port)
    worker = None
    try:
        worker = start_worker(worker_env, tmp_path)
        _send(port, _orders(41001, 2))
        wait_for(lambda: order_states(clean_db).get("posted") == 2, timeout=60, what="the orders to be posted")
        _, on_worker = scrape(f"http://127.0.0.1:{worker_port}/metrics")
        _, on_web = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        web.stop()
        if worker is not None:
            worker.stop()
    assert on_worker["connector_postings_total"][(("outcome", "posted"),)] == 2
    assert on_worker["connector_ais_logins_total"][()] == 1
    # The web process (its own private directory) counts its webhooks, and sees no posting.
    assert on_web["connector_webhooks_total"][(("outcome", "queued"),)] == 2
    assert "connector_postings_total" not in on_web
    assert on_web["connector_orders"][(("state", "posted"),)] == 2
