"""SQL of alerts: the facts noticed, each channel's place in them, the messages sent; and the
scans of the tables the facts come from (audit_log, reconciliation_runs)."""
from __future__ import annotations

import json


def note(cur, *, kind: str, fact: str, subject: str | None, detail: dict, occurred_at) -> bool:
    """Record a fact once; False when it was noticed before."""
    cur.execute(
        """
        INSERT INTO alert_events (kind, fact, subject, detail, occurred_at) VALUES (%s, %s, %s, %s::jsonb, %s)
        ON CONFLICT (kind, fact) DO NOTHING RETURNING id
        """,
        (kind, fact, subject, json.dumps(detail), occurred_at),
    )
    return cur.fetchone() is not None


def last_event_id(cur) -> int:
    cur.execute("SELECT COALESCE(max(id), 0) AS id FROM alert_events")
    return cur.fetchone()["id"]


def open_place(cur, channel: str, kind: str, *, after: int) -> None:
    """A channel seen for the first time starts after event `after`: a channel added later is not
    sent the history."""
    cur.execute("INSERT INTO alert_channels (channel, kind, sent_upto) VALUES (%s, %s, %s) "
                "ON CONFLICT (channel, kind) DO NOTHING", (channel, kind, after))


def place(cur, channel: str, kind: str) -> dict:
    """{"sent_upto", "last_sent_at"}: the last event sent to `channel` about `kind`, and when."""
    cur.execute("SELECT sent_upto, last_sent_at FROM alert_channels WHERE channel = %s AND kind = %s",
                (channel, kind))
    return cur.fetchone()


def pending(cur, kind: str, *, after: int, first: int) -> dict:
    """The events of `kind` after event `after`: how many, over how many subjects, the last id, and
    the first `first` of them."""
    cur.execute(
        """
        SELECT count(*) AS count, count(DISTINCT subject) AS subjects, COALESCE(max(id), %s) AS last_id
        FROM alert_events WHERE kind = %s AND id > %s
        """,
        (after, kind, after),
    )
    summary = cur.fetchone()
    cur.execute(
        "SELECT id, subject, detail, occurred_at FROM alert_events WHERE kind = %s AND id > %s AND id <= %s "
        "ORDER BY id LIMIT %s",
        (kind, after, summary["last_id"], first),
    )
    return dict(summary, events=cur.fetchall())


def record_sent(cur, channel: str, kind: str, *, upto: int, events: int, at, body: str) -> None:
    cur.execute("UPDATE alert_channels SET sent_upto = %s, last_sent_at = %s WHERE channel = %s AND kind = %s",
                (upto, at, channel, kind))
    cur.execute("INSERT INTO alert_messages (at, channel, kind, outcome, events, last_event, body) "
                "VALUES (%s, %s, %s, 'sent', %s, %s, %s)", (at, channel, kind, events, upto, body))


def record_failed(cur, channel: str, kind: str, *, upto: int, events: int, at, error: str) -> None:
    """A failed attempt moves nothing: the same events (and any newer) go in the next attempt."""
    cur.execute("INSERT INTO alert_messages (at, channel, kind, outcome, events, last_event, error) "
                "VALUES (%s, %s, %s, 'failed', %s, %s, %s)", (at, channel, kind, events, upto, error[:500]))


def audit_settled_id(cur, *, after: int, lookback_seconds: float) -> int:
    """The newest audit row written more than `lookback_seconds` ago (else `after`): every row
    before it has committed, so a scan may start after it. A pk scan backwards, over the last
    `lookback_seconds` of rows."""
    cur.execute(
        "SELECT id FROM audit_log WHERE id > %s AND at < now() - make_interval(secs => %s) "
        "ORDER BY id DESC LIMIT 1",
        (after, lookback_seconds),
    )
    row = cur.fetchone()
    return after if row is None else row["id"]


def audit_rows(cur, *, after: int, action: str, outcomes: tuple[str, ...] | None = None) -> list[dict]:
    cur.execute(
        """
        SELECT id, at, subject_id, outcome, response, detail FROM audit_log
        WHERE id > %s AND action = %s AND (%s::text[] IS NULL OR outcome = ANY(%s::text[]))
        ORDER BY id
        """,
        (after, action, None if outcomes is None else list(outcomes), None if outcomes is None else list(outcomes)),
    )
    return cur.fetchall()


def database_now(cur):
    cur.execute("SELECT now() AS now")
    return cur.fetchone()["now"]


def reconciliation_runs_to_tell(cur, *, finished_after) -> list[dict]:
    """Runs finished after `finished_after` that failed or found a difference, with their items by
    kind and their first batch numbers."""
    cur.execute(
        """
        SELECT r.id, r.state, r.gl_date_from, r.gl_date_to, r.discrepancies, r.finished_at,
               COALESCE((SELECT jsonb_object_agg(kind, n) FROM (
                   SELECT kind, count(*) AS n FROM reconciliation_items WHERE run_id = r.id GROUP BY kind) k),
                   '{}'::jsonb) AS by_kind,
               ARRAY(SELECT batch_number FROM reconciliation_items
                     WHERE run_id = r.id AND batch_number IS NOT NULL ORDER BY id LIMIT 5) AS batches
        FROM reconciliation_runs r
        WHERE r.finished_at > %s AND (r.state = 'failed' OR r.discrepancies > 0)
        ORDER BY r.finished_at, r.id
        """,
        (finished_after,),
    )
    return cur.fetchall()
