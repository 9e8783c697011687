"""SQL of the `orders` table: one row per (store, WooCommerce order id)."""
from __future__ import annotations

# Every posting state, in the order an order goes through them (the table's CHECK holds the same
# list; README "Order states"). `resolved` is a person's: settled by hand, never touched again.
STATES = ("awaiting_payment", "ready", "posting", "posted", "reversed", "needs_attention", "failed", "resolved")
# The states where an order waits for a person.
NEEDS_A_PERSON = ("needs_attention", "failed")

# A payload replaces the stored one only when it is newer: by date_modified_gmt, and for
# equal timestamps (WooCommerce keeps whole seconds) by the later-received delivery.
_NEWER = """
    (COALESCE(EXCLUDED.date_modified_gmt, '-infinity'), EXCLUDED.last_delivery_id)
  > (COALESCE(orders.date_modified_gmt, '-infinity'), COALESCE(orders.last_delivery_id, 0))
"""


def upsert(cur, *, source: str, order: dict, payload_json: str, delivery_id: int, payable: bool):
    """Insert or update from a payload; returns the row, or None when the payload is stale.

    Posting state follows payment until posting starts: `awaiting_payment` ⇄ `ready`.
    Later states belong to the posting workflow and are left alone here.
    """
    cur.execute(
        f"""
        INSERT INTO orders (source, woo_id, number, status, currency, total, payment_method,
                            customer_id, billing_email, date_created_gmt, date_modified_gmt,
                            date_paid_gmt, date_completed_gmt, payload, state, last_delivery_id)
        VALUES (%(source)s, %(id)s, %(number)s, %(status)s, %(currency)s, %(total)s, %(payment_method)s,
                %(customer_id)s, %(billing_email)s, %(date_created_gmt)s, %(date_modified_gmt)s,
                %(date_paid_gmt)s, %(date_completed_gmt)s, %(payload)s::jsonb,
                CASE WHEN %(payable)s THEN 'ready' ELSE 'awaiting_payment' END, %(delivery_id)s)
        ON CONFLICT (source, woo_id) DO UPDATE SET
            number = EXCLUDED.number, status = EXCLUDED.status, currency = EXCLUDED.currency,
            total = EXCLUDED.total, payment_method = EXCLUDED.payment_method,
            customer_id = EXCLUDED.customer_id, billing_email = EXCLUDED.billing_email,
            date_created_gmt = EXCLUDED.date_created_gmt, date_modified_gmt = EXCLUDED.date_modified_gmt,
            date_paid_gmt = EXCLUDED.date_paid_gmt, date_completed_gmt = EXCLUDED.date_completed_gmt,
            payload = EXCLUDED.payload, deleted = false, last_delivery_id = EXCLUDED.last_delivery_id,
            state = CASE WHEN orders.state IN ('awaiting_payment', 'ready') THEN EXCLUDED.state
                         ELSE orders.state END,
            updated_at = now()
        WHERE {_NEWER}
        RETURNING id, woo_id, state, (xmax = 0) AS inserted
        """,
        {
            "source": source, "id": order["id"], "number": order["number"], "status": order["status"],
            "currency": order["currency"], "total": order["total"],
            "payment_method": order["payment_method"], "customer_id": order["customer_id"],
            "billing_email": (order["billing"].get("email") or None),
            "date_created_gmt": order["date_created_gmt"], "date_modified_gmt": order["date_modified_gmt"],
            "date_paid_gmt": order["date_paid_gmt"], "date_completed_gmt": order["date_completed_gmt"],
            "payload": payload_json, "payable": payable, "delivery_id": delivery_id,
        },
    )
    return cur.fetchone()


def mark_deleted(cur, *, source: str, woo_id: int, delivery_id: int) -> bool:
    """Flag an order deleted unless a later delivery already spoke of it."""
    cur.execute(
        """
        UPDATE orders SET deleted = true, last_delivery_id = %s, updated_at = now()
        WHERE source = %s AND woo_id = %s AND COALESCE(last_delivery_id, 0) < %s
        RETURNING id
        """,
        (delivery_id, source, woo_id, delivery_id),
    )
    return cur.fetchone() is not None


def get(cur, *, source: str, woo_id: int):
    cur.execute("SELECT * FROM orders WHERE source = %s AND woo_id = %s", (source, woo_id))
    return cur.fetchone()


def counts_by_state(cur) -> dict[str, int]:
    cur.execute("SELECT state, count(*) AS n FROM orders GROUP BY state")
    return {row["state"]: row["n"] for row in cur.fetchall()}


def claim_for_posting(cur, order_id: int, *, lease_seconds: int):
    """Take an order for posting: `ready`, or `posting` whose claim ran out (its worker died).

    Returns the row with the new attempt count and `reclaimed` (true when a previous
    attempt may have reached JDE), or None when the order is not ours to post now.
    """
    cur.execute(
        """
        UPDATE orders o SET state = 'posting', attempts = o.attempts + 1, deferred = false,
                            lease_until = now() + make_interval(secs => %s), updated_at = now()
        FROM (SELECT id, state AS previous_state FROM orders WHERE id = %s FOR UPDATE) prev
        WHERE o.id = prev.id
          AND (o.state = 'ready' OR (o.state = 'posting' AND o.lease_until < now()))
        RETURNING o.*, prev.previous_state
        """,
        (lease_seconds, order_id),
    )
    return cur.fetchone()


def finish_posting(cur, order_id: int, *, state: str, batch_number: str | None = None,
                   document_number=None, error: str | None = None) -> None:
    cur.execute(
        """
        UPDATE orders SET state = %s, batch_number = COALESCE(%s, batch_number),
                          document_number = COALESCE(%s, document_number), last_error = %s,
                          maybe_in_jde = maybe_in_jde AND %s NOT IN ('posted', 'reversed'),
                          lease_until = NULL, updated_at = now()
        WHERE id = %s
        """,
        (state, batch_number, None if document_number is None else str(document_number), error, state, order_id),
    )


def record_sale(cur, order_id: int, *, batch_number: str, document_number) -> None:
    """The sale's JDE document, known while the order is still being worked on (its reversals wait)."""
    cur.execute("UPDATE orders SET batch_number = %s, document_number = COALESCE(%s, document_number), "
                "maybe_in_jde = false, updated_at = now() WHERE id = %s",
                (batch_number, None if document_number is None else str(document_number), order_id))


def release_for_retry(cur, order_id: int, *, error: str, delay_seconds: float, lease_seconds: int,
                      maybe_in_jde: bool = False, counted: bool = True, waiting_for_jde: bool = False) -> None:
    """Back to `ready` after a transient failure; the sweeper leaves it alone until the retry is due.

    `counted=False`: the attempt is given back (nothing JDE could be blamed for happened).
    `waiting_for_jde`: JDE was unreachable; the order is marked deferred, so it is sent again as
    soon as JDE answers. `maybe_in_jde`: the attempt may have reached JDE, so the next one looks
    the batch up first.
    """
    cur.execute(
        """
        UPDATE orders SET state = 'ready', last_error = %s, updated_at = now(),
                          lease_until = now() + make_interval(secs => %s),
                          attempts = attempts - CASE WHEN %s THEN 0 ELSE 1 END,
                          deferred = %s, maybe_in_jde = maybe_in_jde OR %s
        WHERE id = %s AND state = 'posting'
        """,
        (error, delay_seconds + lease_seconds, counted, waiting_for_jde, maybe_in_jde, order_id),
    )


def defer(cur, order_id: int, *, error: str, delay_seconds: float, lease_seconds: int) -> bool:
    """Leave a `ready` order unclaimed while JDE is unreachable (no attempt used)."""
    cur.execute(
        """
        UPDATE orders SET deferred = true, last_error = %s, updated_at = now(),
                          lease_until = now() + make_interval(secs => %s)
        WHERE id = %s AND state = 'ready'
        RETURNING id
        """,
        (error, delay_seconds + lease_seconds, order_id),
    )
    return cur.fetchone() is not None


def take_deferred(cur, *, lease_seconds: int, limit: int) -> list[int]:
    """WooCommerce ids of the orders waiting for JDE to come back, re-leased for sending now."""
    cur.execute(
        """
        UPDATE orders SET lease_until = now() + make_interval(secs => %s)
        WHERE id IN (SELECT id FROM orders WHERE deferred AND state = 'ready'
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING woo_id
        """,
        (lease_seconds, limit),
    )
    return sorted(row["woo_id"] for row in cur.fetchall())


def take_unfinished(cur, *, lease_seconds: int, limit: int) -> list[int]:
    """WooCommerce ids of orders left `ready` or `posting` past their lease (lost message,
    killed worker), re-leased."""
    cur.execute(
        """
        UPDATE orders SET lease_until = now() + make_interval(secs => %s)
        WHERE id IN (
            SELECT id FROM orders
            WHERE state IN ('ready', 'posting')
              AND COALESCE(lease_until, updated_at + make_interval(secs => %s)) < now()
            ORDER BY id LIMIT %s
            FOR UPDATE SKIP LOCKED)
          AND state = 'ready'
        RETURNING woo_id
        """,
        (lease_seconds, lease_seconds, limit),
    )
    ready = [row["woo_id"] for row in cur.fetchall()]
    # A `posting` row keeps its expired lease: the claim in post_order recognises it as
    # abandoned (and looks the batch up in JDE first).
    cur.execute(
        """
        SELECT woo_id FROM orders WHERE state = 'posting' AND lease_until < now()
        ORDER BY id LIMIT %s
        """,
        (limit,),
    )
    return sorted(set(ready + [row["woo_id"] for row in cur.fetchall()]))


def latest_failures(cur, *, limit: int) -> list[dict]:
    cur.execute(
        """
        SELECT woo_id, state, attempts, last_error, updated_at FROM orders
        WHERE state IN ('failed', 'needs_attention') OR (state = 'ready' AND last_error IS NOT NULL AND NOT deferred)
        ORDER BY updated_at DESC LIMIT %s
        """,
        (limit,),
    )
    return cur.fetchall()


def lock(cur, *, source: str, woo_id: int):
    cur.execute(
        "SELECT *, (lease_until IS NULL OR lease_until < now()) AS lease_expired FROM orders "
        "WHERE source = %s AND woo_id = %s FOR UPDATE",
        (source, woo_id),
    )
    return cur.fetchone()


def mark_for_replay(cur, order_id: int) -> None:
    # A full set of attempts ahead, and the batch looked up in JDE before anything is sent.
    cur.execute(
        """
        UPDATE orders SET state = 'ready', attempts = 0, maybe_in_jde = true, deferred = false,
                          lease_until = NULL, last_error = NULL, updated_at = now()
        WHERE id = %s
        """,
        (order_id,),
    )


def failed_woo_ids(cur, *, since=None) -> list[int]:
    cur.execute(
        "SELECT woo_id FROM orders WHERE state IN ('failed', 'needs_attention') "
        "AND (%s::timestamptz IS NULL OR updated_at >= %s) ORDER BY woo_id",
        (since, since),
    )
    return [row["woo_id"] for row in cur.fetchall()]


def deliveries_of(cur, *, source: str, woo_id: int) -> list[dict]:
    cur.execute(
        "SELECT id, topic, state, error, received_at, processed_at FROM deliveries "
        "WHERE source = %s AND resource_id = %s AND topic LIKE 'order.%%' ORDER BY id",
        (source, woo_id),
    )
    return cur.fetchall()


def versions(cur, *, source: str, woo_ids: list[int]) -> dict[int, object]:
    """{woo_id: date_modified_gmt} of the orders held, for the poller to skip known versions."""
    cur.execute("SELECT woo_id, date_modified_gmt FROM orders WHERE source = %s AND woo_id = ANY(%s::bigint[])",
                (source, woo_ids))
    return {row["woo_id"]: row["date_modified_gmt"] for row in cur.fetchall()}


def reopen_for_reversal(cur, order_id: int) -> None:
    """A posted order that a refund or cancellation reached goes back in line for posting: a new
    posting, with its own attempts (the sale's do not count against its reversals)."""
    cur.execute(
        "UPDATE orders SET state = 'ready', lease_until = NULL, attempts = 0, updated_at = now() "
        "WHERE id = %s AND state IN ('posted', 'reversed')",
        (order_id,),
    )


def resolve(cur, order_id: int) -> bool:
    """Settle an order a person fixed by hand (or that must not be posted): `resolved`, final.
    Only from a state that waits for a person; False when the order is not in one (any more)."""
    cur.execute(
        """
        UPDATE orders SET state = 'resolved', lease_until = NULL, deferred = false, updated_at = now()
        WHERE id = %s AND state = ANY(%s)
        RETURNING id
        """,
        (order_id, list(NEEDS_A_PERSON)),
    )
    return cur.fetchone() is not None


def take_for_requeue(cur, order_id: int, *, lease_seconds: int) -> bool:
    """A `ready` order, leased for sending to the worker now (the sweeper leaves it alone for a
    lease meanwhile); False when it is not `ready`."""
    cur.execute(
        "UPDATE orders SET lease_until = now() + make_interval(secs => %s), updated_at = now() "
        "WHERE id = %s AND state = 'ready' RETURNING id",
        (lease_seconds, order_id),
    )
    return cur.fetchone() is not None
