"""`connector db upgrade`: numbered SQL files, applied once, on a database it may create."""
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from connector.store import migrations


def test_upgrade_creates_missing_database_and_is_idempotent(database_url):
    name = f"connector_migrations_{os.getpid()}"
    url = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    try:
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
    finally:
        admin = psycopg2.connect(urlunsplit(urlsplit(database_url)._replace(path="/postgres")))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
