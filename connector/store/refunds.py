"""SQL of `refunds`: the refund records read from WooCommerce, one row per refund."""
from __future__ import annotations

import json

from connector.woo.schemas import load_refund


def store(cur, *, source: str, order_id: int, woo_order_id: int, document: dict, refund: dict) -> None:
    """Keep a refund record (`document` as WooCommerce sent it, `refund` loaded). WooCommerce
    does not edit a refund once made: a record read again replaces the one held."""
    cur.execute(
        """
        INSERT INTO refunds (source, refund_id, order_id, woo_order_id, amount, date_created_gmt,
                             refunded_payment, reason, payload)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
        ON CONFLICT (source, refund_id) DO UPDATE SET
            amount = EXCLUDED.amount, date_created_gmt = EXCLUDED.date_created_gmt,
            refunded_payment = EXCLUDED.refunded_payment, reason = EXCLUDED.reason,
            payload = EXCLUDED.payload, fetched_at = now()
        """,
        (source, refund["id"], order_id, woo_order_id, refund["amount"], refund["date_created_gmt"],
         refund["refunded_payment"], refund.get("reason") or "", json.dumps(document, default=str)),
    )


def of_order(cur, order_id: int) -> dict[int, dict]:
    """{refund id: loaded refund record} held for an order row."""
    return {record["id"]: record for record in map(load_refund, payloads_of_order(cur, order_id))}


def payloads_of_order(cur, order_id: int) -> list[dict]:
    """The refund records of an order row as WooCommerce sent them."""
    cur.execute("SELECT payload FROM refunds WHERE order_id = %s ORDER BY refund_id", (order_id,))
    return [row["payload"] for row in cur.fetchall()]


def rows_of_order(cur, order_id: int) -> list[dict]:
    """The refunds held for an order row, oldest first, for the operator's pages."""
    cur.execute("SELECT refund_id, amount, date_created_gmt, refunded_payment, reason, fetched_at FROM refunds "
                "WHERE order_id = %s ORDER BY date_created_gmt, refund_id", (order_id,))
    return cur.fetchall()
