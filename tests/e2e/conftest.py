"""The whole product over HTTP: gunicorn, Celery worker(s) and beat against the sandbox JDE."""
from __future__ import annotations

import os

import pytest
import requests

from sandbox.ais import AisSandbox
from tests.support import RabbitVhost, free_port, start_beat, start_web, start_worker

# A fixed test key: outside the sandbox the vault requires CONNECTOR_SECRET_KEY.
TEST_SECRET_KEY = "mlkxmD3h0Yk0xvJsG4rXH2vS1F0wq3Zb6Yb0hCwQ2kE="
AIS_PASSWORD = "s4ndb0x-Pa55"


@pytest.fixture
def jde():
    """A fresh sandbox JDE AIS server (seeded) in this process."""
    with AisSandbox(seed=7, password=AIS_PASSWORD) as server:
        yield server


# A test runs on each broker with `@pytest.mark.parametrize("broker", BROKERS, indirect=True)`.
BROKERS = ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)]


@pytest.fixture
def rabbitmq():
    """A vhost of this test's own on the machine's RabbitMQ (RABBITMQ_URL), deleted afterwards."""
    with RabbitVhost.from_env() as vhost:
        yield vhost


@pytest.fixture
def broker(request, redis_url):
    """The connector's broker URL: the test Redis unless the test is parametrized with "rabbitmq"."""
    if getattr(request, "param", "redis") == "rabbitmq":
        return request.getfixturevalue("rabbitmq").url
    return redis_url


@pytest.fixture
def stack_env(clean_db, jde, tmp_path, redis_url, request):
    """Environment of the connector's processes: a real (sandbox) AIS server, a short lease; the
    broker of the test's `broker` fixture when it asks for one (modules that import this fixture
    need not have it), else the test Redis."""
    import redis

    broker = request.getfixturevalue("broker") if "broker" in request.fixturenames else redis_url

    redis.Redis.from_url(redis_url).flushdb()
    return dict(os.environ, CELERY_BROKER_URL=broker, AIS_BASE_URL=jde.url, AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD,
                AIS_ENVIRONMENT="JDV920", AIS_ROLE="*ALL", AIS_DEVICE_NAME="connector-e2e",
                CONNECTOR_SECRET_KEY=TEST_SECRET_KEY, CONNECTOR_VAR_DIR=str(tmp_path),
                CONNECTOR_LEASE_SECONDS="5", CONNECTOR_SWEEP_SECONDS="2")


class Stack:
    """Running processes, stopped by the fixture."""

    def __init__(self, env, log_dir):
        self.env, self.log_dir, self.procs = env, log_dir, {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/woocommerce"
        self.http = requests.Session()

    def start(self, *, workers: int = 1, concurrency: int = 2, beat: bool = True):
        self.procs["web"] = start_web(self.env, self.log_dir, self.port)
        for n in range(workers):
            self.procs[f"worker{n}"] = start_worker(self.env, self.log_dir, name=f"worker{n}",
                                                    concurrency=concurrency)
        if beat:
            self.procs["beat"] = start_beat(self.env, self.log_dir)
        return self

    def send(self, headers, body):
        response = self.http.post(self.url, data=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def send_orders(self, documents, topic: str = "order.updated"):
        """Each order as a signed webhook, as WooCommerce delivers it."""
        from sandbox.woo_webhooks import signed_delivery
        from tests.conftest import WEBHOOK_SECRET

        for document in documents:
            self.send(*signed_delivery(document, topic=topic, secret=WEBHOOK_SECRET))

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.procs.values())

    def stop(self):
        for proc in self.procs.values():
            proc.stop()


@pytest.fixture
def stack(stack_env, tmp_path):
    """Start with `stack.start(...)`; everything started is stopped afterwards."""
    running = Stack(stack_env, tmp_path)
    yield running
    running.stop()
