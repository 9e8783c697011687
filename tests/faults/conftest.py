"""Fault scenarios: the e2e stack (web, worker, beat, sandbox AIS) on services of the test's own,
so that a Redis or a Postgres can be restarted without touching the machine's."""
from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict

import pytest
import requests

from tests.e2e.conftest import AIS_PASSWORD, TEST_SECRET_KEY, Stack, jde  # noqa: F401  (jde: a fixture)
from tests.support import PostgresServer, RedisServer


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own (no persistence: a restart loses everything)."""
    work = tmp_path / "redis"
    work.mkdir()
    server = RedisServer(work).start()
    yield server
    server.stop()


@pytest.fixture
def own_postgres(tmp_path):
    """A Postgres server of this test's own, its database migrated: `.url`."""
    from connector.store import migrations

    server = PostgresServer(tmp_path / "postgres").init().start()
    try:
        server.url = server.create_database("connector")
        migrations.upgrade(server.url)
        yield server
    finally:
        server.stop()


def stack_environment(jde, tmp_path, *, database_url: str, redis_url: str) -> dict:
    return dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, AIS_BASE_URL=jde.url,
                AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD, AIS_ENVIRONMENT="JDV920", AIS_ROLE="*ALL",
                AIS_DEVICE_NAME="connector-faults", CONNECTOR_SECRET_KEY=TEST_SECRET_KEY,
                CONNECTOR_VAR_DIR=str(tmp_path), CONNECTOR_LEASE_SECONDS="5", CONNECTOR_SWEEP_SECONDS="2",
                CONNECTOR_RETRY_BASE_SECONDS="0.2")


@pytest.fixture
def redis_stack(clean_db, jde, own_redis, tmp_path):  # noqa: F811
    """The stack on the test database and this test's own Redis; start with `.start(...)`."""
    running = Stack(stack_environment(jde, tmp_path, database_url=clean_db, redis_url=own_redis.url), tmp_path)
    yield running
    running.stop()


@pytest.fixture
def own_stack(jde, own_postgres, own_redis, tmp_path):  # noqa: F811
    """The stack on this test's own Postgres and Redis (both can be restarted)."""
    running = Stack(stack_environment(jde, tmp_path, database_url=own_postgres.url, redis_url=own_redis.url),
                    tmp_path)
    yield running
    running.stop()


class Sender:
    """Sends signed order webhooks from a thread of its own, as a shop does: one attempt each, and
    keeps what the receiver answered (a status code, or the exception's name)."""

    def __init__(self, url: str, documents, *, pause: float = 0.0):
        self.url, self.documents, self.pause = url, list(documents), pause
        self.answers: dict[int, object] = {}
        self._thread = threading.Thread(target=self._run, name="sender", daemon=True)
        self._http = requests.Session()

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        from sandbox.woo_webhooks import signed_delivery
        from tests.conftest import WEBHOOK_SECRET

        for document in self.documents:
            headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
            try:
                self.answers[document["id"]] = self._http.post(self.url, data=body, headers=headers,
                                                               timeout=15).status_code
            except requests.RequestException as exc:
                self.answers[document["id"]] = type(exc).__name__
            if self.pause:
                time.sleep(self.pause)   # pacing: orders arrive throughout the run, not in one burst

    def sent(self) -> int:
        return len(self.answers)

    def join(self, timeout: float):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the sender did not finish"

    def accepted(self) -> set[str]:
        """Batches of the orders the receiver answered 200 for."""
        return {f"WC-{order_id}" for order_id, answer in self.answers.items() if answer == 200}

    def refused(self) -> Counter:
        return Counter(answer for answer in self.answers.values() if answer != 200)


def jde_documents(jde) -> dict[str, set]:
    """{batch: {JDE document numbers}} of the sandbox's F0911."""
    batches: dict[str, set] = defaultdict(set)
    for line in jde.f0911_rows():
        batches[line["VINV"]].add(line["DOC"])
    return batches
