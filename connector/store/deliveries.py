"""SQL of the `deliveries` table: every authenticated webhook, raw body kept."""
from __future__ import annotations


def insert(cur, *, source, topic, webhook_id, wc_delivery_id, body, body_sha256, dedupe_key,
           state, error, lease_seconds) -> tuple[int, bool]:
    """Store a delivery; an exact repeat returns the existing id and `False`."""
    cur.execute(
        """
        INSERT INTO deliveries (source, topic, webhook_id, wc_delivery_id, body, body_sha256,
                                dedupe_key, body_key, state, error, lease_until)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))
        ON CONFLICT (body_key) DO NOTHING
        RETURNING id
        """,
        (source, topic, webhook_id, wc_delivery_id, body, body_sha256, dedupe_key, dedupe_key, state, error,
         lease_seconds),
    )
    row = cur.fetchone()
    if row:
        return row["id"], True
    cur.execute("SELECT id FROM deliveries WHERE body_key = %s", (dedupe_key,))
    return cur.fetchone()["id"], False


def mark_not_queued(cur, delivery_id: int) -> None:
    """The broker refused the delivery: it waits in `received` for the sweeper."""
    cur.execute("UPDATE deliveries SET state = 'received' WHERE id = %s AND state = 'queued'", (delivery_id,))


def count_try(cur, delivery_id: int, *, max_tries: int) -> bool:
    """Count a worker taking the delivery up (committed before the work, so a worker that dies
    on it still counts); past `max_tries` it is parked as `error`. False when there is nothing
    (more) to do."""
    cur.execute(
        """
        UPDATE deliveries SET tries = tries + 1,
            state = CASE WHEN tries + 1 > %(max)s THEN 'error' ELSE state END,
            error = CASE WHEN tries + 1 > %(max)s THEN
                'parked: taken up ' || tries || ' times without finishing (the worker died or timed out on it '
                || 'each time); ' || COALESCE(error, 'no error recorded') ELSE error END,
            processed_at = CASE WHEN tries + 1 > %(max)s THEN now() ELSE processed_at END
        WHERE id = %(id)s AND state IN ('received', 'queued')
        RETURNING state
        """,
        {"max": max_tries, "id": delivery_id},
    )
    row = cur.fetchone()
    return row is not None and row["state"] != "error"


def claim(cur, delivery_id: int):
    """Lock an unfinished delivery for processing, or return None (done, or being processed)."""
    cur.execute(
        """
        SELECT id, source, topic, body, wc_delivery_id, state, attempts FROM deliveries
        WHERE id = %s AND state IN ('received', 'queued')
        FOR UPDATE SKIP LOCKED
        """,
        (delivery_id,),
    )
    return cur.fetchone()


def finish(cur, delivery_id: int, *, state: str, error: str | None, resource_id: int | None) -> None:
    cur.execute(
        """
        UPDATE deliveries SET state = %s, error = %s, resource_id = %s, processed_at = now(),
                              attempts = attempts + 1
        WHERE id = %s
        """,
        (state, error, resource_id, delivery_id),
    )


def take_expired_leases(cur, *, lease_seconds: int, limit: int) -> list[int]:
    """Unfinished deliveries whose lease ran out, re-leased to the caller (oldest first)."""
    cur.execute(
        """
        UPDATE deliveries SET lease_until = now() + make_interval(secs => %s)
        WHERE id IN (
            SELECT id FROM deliveries
            WHERE state IN ('received', 'queued') AND lease_until < now()
            ORDER BY id LIMIT %s
            FOR UPDATE SKIP LOCKED)
        RETURNING id
        """,
        (lease_seconds, limit),
    )
    return sorted(row["id"] for row in cur.fetchall())


def requeue(cur, delivery_ids: list[int]) -> list[int]:
    """Put unfinished deliveries up for immediate re-enqueueing; returns the ones that are."""
    cur.execute(
        "UPDATE deliveries SET lease_until = now() WHERE id = ANY(%s::bigint[]) AND state IN ('received', 'queued') "
        "RETURNING id",
        (list(delivery_ids),),
    )
    return sorted(row["id"] for row in cur.fetchall())


def counts_by_state(cur) -> dict[str, int]:
    cur.execute("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    return {row["state"]: row["n"] for row in cur.fetchall()}


def latest_errors(cur, *, limit: int) -> list[dict]:
    cur.execute("SELECT id, topic, received_at, error FROM deliveries WHERE state = 'error' "
                "ORDER BY id DESC LIMIT %s", (limit,))
    return cur.fetchall()


def get(cur, delivery_id: int):
    """One delivery as the operator sees it (not its body)."""
    cur.execute("SELECT id, source, topic, state, error, resource_id, tries, received_at, processed_at "
                "FROM deliveries WHERE id = %s", (delivery_id,))
    return cur.fetchone()


def reopen_errors(cur, delivery_ids: list[int]) -> list[dict]:
    """Deliveries in `error` back to `queued` for one more try: an operator asks, because the cause
    (a mapping, a bug) was fixed. Their tries start again from zero, or a parked one would be
    parked again at once. Returns each reopened id with the error it had."""
    cur.execute(
        """
        UPDATE deliveries d SET state = 'queued', error = NULL, tries = 0, lease_until = now()
        FROM (SELECT id, error FROM deliveries WHERE id = ANY(%s::bigint[]) AND state = 'error' FOR UPDATE) old
        WHERE d.id = old.id
        RETURNING d.id, old.error
        """,
        (list(delivery_ids),),
    )
    return sorted(cur.fetchall(), key=lambda row: row["id"])
