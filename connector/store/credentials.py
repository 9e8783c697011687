"""SQL of the `credentials` table. It only ever sees ciphertext: encryption is connector.vault's."""
from __future__ import annotations


def _bytes(row):
    # psycopg2 returns bytea as memoryview; callers want plain bytes.
    if row is not None:
        row["ciphertext"] = bytes(row["ciphertext"])
    return row


def put(cur, name: str, ciphertext: bytes, key_fingerprint: str) -> None:
    cur.execute(
        """
        INSERT INTO credentials (name, ciphertext, key_fingerprint, updated_at)
        VALUES (%s, %s, %s, now())
        ON CONFLICT (name) DO UPDATE
           SET ciphertext = EXCLUDED.ciphertext,
               key_fingerprint = EXCLUDED.key_fingerprint,
               updated_at = EXCLUDED.updated_at
        """,
        (name, ciphertext, key_fingerprint),
    )


def get(cur, name: str) -> bytes | None:
    cur.execute("SELECT ciphertext FROM credentials WHERE name = %s", (name,))
    row = cur.fetchone()
    return None if row is None else bytes(row["ciphertext"])


def all(cur, *, for_update: bool = False) -> list[dict]:  # noqa: A001 - the module's vocabulary
    """Every row (name, ciphertext, key_fingerprint, updated_at), by name.

    `for_update` locks the rows so that a concurrent `set` cannot be overwritten by a
    rotation that read the old value."""
    cur.execute(
        "SELECT name, ciphertext, key_fingerprint, updated_at FROM credentials ORDER BY name"
        + (" FOR UPDATE" if for_update else "")
    )
    return [_bytes(row) for row in cur.fetchall()]


def delete(cur, name: str) -> bool:
    cur.execute("DELETE FROM credentials WHERE name = %s", (name,))
    return cur.rowcount > 0
