"""SQL of `sync_state`: watermarks of the pollers."""
from __future__ import annotations

import json


def get(cur, key: str):
    cur.execute("SELECT value FROM sync_state WHERE key = %s", (key,))
    row = cur.fetchone()
    return None if row is None else row["value"]


def put(cur, key: str, value) -> None:
    cur.execute(
        """
        INSERT INTO sync_state (key, value) VALUES (%s, %s::jsonb)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        """,
        (key, json.dumps(value)),
    )
