"""Numbered plain-SQL migrations (connector/store/migrations/NNNN_name.sql)."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from connector.store.database import connect_once

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant: serialises concurrent `release` steps of several dynos.
_LOCK_ID = 0x57_4A_44_45


def available() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def _connect_creating(url: str):
    """Connect, creating the database first when the server says it does not exist
    (a developer's fresh Postgres; a platform's database always exists)."""
    try:
        return connect_once(url)
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = connect_once(urlunsplit(parts._replace(path="/postgres")))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return connect_once(url)


def upgrade(url: str) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; idempotent."""
    applied_now = []
    conn = _connect_creating(url)
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
        try:
            for version, path in available():
                with conn:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
                        if cur.fetchone():
                            continue
                        cur.execute(path.read_text(encoding="utf-8"))
                        cur.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (version, path.name),
                        )
                        applied_now.append(path.name)
        finally:
            with conn:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    finally:
        conn.close()
    return applied_now
