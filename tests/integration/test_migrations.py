"""`connector db upgrade`: numbered SQL files, applied once, on a database it may create."""
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from connector.store import migrations


@pytest.fixture
def scratch_url(database_url):
    """The URL of a database that does not exist yet on the test server; dropped afterwards."""
    name = f"connector_migrations_{os.getpid()}"
    yield urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    admin = psycopg2.connect(urlunsplit(urlsplit(database_url)._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def test_upgrade_creates_missing_database_and_is_idempotent(scratch_url):
    url = scratch_url
    first = migrations.upgrade(url)
    assert first == [path.name for _, path in migrations.available()]
    assert migrations.upgrade(url) == []
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == len(first)
        cur.execute("SELECT to_regclass('reconciliation_items') IS NOT NULL")
        assert cur.fetchone()[0]
    conn.close()


def test_upgrade_0009_keeps_one_body_key_per_body_stored_before(scratch_url, monkeypatch):
    """Deliveries stored before 0009 (one body under two topics) migrate; a repeat finds the first."""
    from connector.store import deliveries as delivery_rows
    from connector.store.database import Database

    url = scratch_url
    before = [entry for entry in migrations.available() if entry[0] < 9]
    monkeypatch.setattr(migrations, "available", lambda: before)
    migrations.upgrade(url)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        for topic in ("order.updated", "customer.updated", "order.deleted"):
            cur.execute("INSERT INTO deliveries (source, topic, body, body_sha256, dedupe_key, state) "
                        "VALUES ('s', %s, 'b', 'h', %s, 'done')",
                        (topic, b"d" if topic != "order.deleted" else b"d-with-delivery-id"))
    monkeypatch.undo()
    assert migrations.upgrade(url) == [path.name for version, path in migrations.available() if version >= 9]
    with conn.cursor() as cur:
        cur.execute("SELECT topic, body_key IS NOT NULL FROM deliveries ORDER BY id")
        assert cur.fetchall() == [("order.updated", True), ("customer.updated", False), ("order.deleted", False)]
    conn.close()
    db = Database(url, size=1)
    with db.transaction() as cur:
        assert delivery_rows.insert(cur, source="s", topic="product.updated", webhook_id=None, wc_delivery_id=None,
                                    body=b"b", body_sha256=b"h", dedupe_key=b"d", state="queued", error=None,
                                    lease_seconds=60) == (1, False)
    db.close()
