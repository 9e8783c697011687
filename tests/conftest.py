"""Shared fixtures: real Postgres and Redis (the machine's when DATABASE_URL / REDIS_URL are
set, embedded ones under var/test otherwise), a migrated test database, the Flask app."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extras
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "woocommerce"
# One database per test session, so two sessions on one server do not drop each other's.
TEST_DATABASE = f"connector_test_{os.getpid()}"
# Flushed by the tests: two suites running side by side on one Redis need one each.
TEST_REDIS_DB = int(os.environ.get("CONNECTOR_TEST_REDIS_DB") or 15)
WEBHOOK_SECRET = "test-webhook-secret"
# Emptied by `db` and `clean_db`; the reconciliation runs too: /readyz and the dashboard judge the last one.
TABLES = ("audit_log", "journal_entries", "orders", "customers", "deliveries", "sync_state", "credentials", "products",
          "reconciliation_runs", "reconciliation_items")

_started_embedded: list[str] = []
_var_dir = ROOT / "var" / "test"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _fresh_database(server_url: str) -> str:
    """Drop and create the test database on the server of `server_url`; migrate it."""
    from connector.store import migrations

    admin = psycopg2.connect(server_url, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (TEST_DATABASE,),
        )
        cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE}")
        cur.execute(f"CREATE DATABASE {TEST_DATABASE}")
    admin.close()
    url = _with_database(server_url, TEST_DATABASE)
    migrations.upgrade(url)
    return url


def pytest_configure(config):
    """Point the whole test process (and the workers it starts) at the test services."""
    from connector import embedded

    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url and redis_url):
        _var_dir.mkdir(parents=True, exist_ok=True)
        urls, started = embedded.start(_var_dir)
        _started_embedded.extend(started)
        database_url = database_url or urls.database_url
        redis_url = redis_url or urls.redis_url
    redis_url = _with_redis_db(redis_url, TEST_REDIS_DB)
    redis.Redis.from_url(redis_url).flushdb()
    work_dir = ROOT / "var" / "test-run"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    os.environ.update(
        DATABASE_URL=_fresh_database(database_url),
        REDIS_URL=redis_url,
        CONNECTOR_CONFIG=str(ROOT / "tests" / "fixtures" / "connector.toml"),
        CONNECTOR_VAR_DIR=str(work_dir),
        WOO_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    os.environ.pop("CELERY_BROKER_URL", None)


def pytest_unconfigure(config):
    from connector.store.database import connect_once

    url = os.environ.get("DATABASE_URL", "")
    if url.endswith("/" + TEST_DATABASE):
        admin = connect_once(_with_database(url, "postgres"))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        admin.close()
    if _started_embedded:
        from connector import embedded

        embedded.stop(_var_dir, _started_embedded)


@pytest.fixture(scope="session")
def database_url():
    """URL of the migrated test database."""
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def redis_url():
    """URL of the test Redis database."""
    return os.environ["REDIS_URL"]


@pytest.fixture
def db(database_url):
    """A cursor inside a transaction that is rolled back after the test, on empty tables."""
    conn = psycopg2.connect(database_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cur:
            # Inside the transaction: what other tests committed is hidden, and comes back
            # with the rollback.
            cur.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
            yield cur
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def clean_db(database_url):
    """Empty tables, for tests whose code under test commits."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        # TRUNCATE fires no row triggers, so the append-only audit log can be reset here.
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    conn.close()
    return database_url


@pytest.fixture
def runtime(clean_db):
    """The connector's runtime for the test services and the repository's connector.toml."""
    from connector.runtime import load_runtime

    rt = load_runtime()
    yield rt
    rt.db.close()


@pytest.fixture
def enqueued():
    """Delivery ids the app handed to the broker (the test app's enqueue records them)."""
    return []


@pytest.fixture
def app(runtime, enqueued):
    """The Flask app on the test database, with a recording enqueue."""
    from web.app import create_app

    def enqueue(delivery_id):
        enqueued.append(delivery_id)
        return True

    return create_app({"TESTING": True, "RUNTIME": runtime, "ENQUEUE": enqueue, "BROKER_CHECK": lambda: True})


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def mapping_path(tmp_path, monkeypatch):
    """A copy of the tests' mapping file, named by CONNECTOR_CONFIG, that a test may edit while the
    product runs (the runtime reads a changed file again)."""
    path = tmp_path / "connector.toml"
    path.write_text((ROOT / "tests" / "fixtures" / "connector.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_CONFIG", str(path))
    return path


@pytest.fixture
def fixture_payload():
    """Load a WooCommerce fixture document by name (order-727, customer-25, …)."""
    import json

    def load(name: str):
        return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))

    return load


def pytest_collection_modifyitems(config, items):
    """Without RABBITMQ_URL the `rabbitmq` tests are deselected (counted as such in the summary);
    with it, one that cannot reach RabbitMQ fails (tests/support.RabbitVhost)."""
    if os.environ.get("RABBITMQ_URL"):
        return
    kept = [item for item in items if item.get_closest_marker("rabbitmq") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("rabbitmq")])
        items[:] = kept
