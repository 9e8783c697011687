"""SQL of the append-only `audit_log` (callers pass redacted summaries only)."""
from __future__ import annotations

import json
from decimal import Decimal


def _json(value):
    if value is None:
        return None
    return json.dumps(value, default=lambda v: str(v) if isinstance(v, Decimal) else repr(v))


def record(cur, *, subject_type: str, subject_id, action: str, outcome: str | None = None,
           duration_ms: int | None = None, request=None, response=None, detail: str | None = None,
           actor: str | None = None) -> None:
    """`actor`: the operator who asked for it (`web:<user>`, `cli:<user>`); None is the connector."""
    cur.execute(
        """
        INSERT INTO audit_log (subject_type, subject_id, action, outcome, duration_ms, request, response, detail,
                               actor)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (subject_type, None if subject_id is None else str(subject_id), action, outcome, duration_ms,
         _json(request), _json(response), detail, actor),
    )


def for_subject(cur, subject_type: str, subject_id) -> list[dict]:
    cur.execute(
        "SELECT * FROM audit_log WHERE subject_type = %s AND subject_id = %s ORDER BY at, id",
        (subject_type, str(subject_id)),
    )
    return cur.fetchall()


def last_ais_error(cur, subject_type: str, subject_id):
    """The latest AIS call of a subject that did not answer `ok` (JDE's own words are in its
    response), or None."""
    cur.execute(
        "SELECT * FROM audit_log WHERE subject_type = %s AND subject_id = %s AND action LIKE 'ais.%%' "
        "AND outcome IS DISTINCT FROM 'ok' ORDER BY at DESC, id DESC LIMIT 1",
        (subject_type, str(subject_id)),
    )
    return cur.fetchone()
