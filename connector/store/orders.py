"""SQL of the `orders` table: one row per (store, WooCommerce order id)."""
from __future__ import annotations

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
