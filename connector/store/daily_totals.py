"""SQL of the dashboard's chart: orders and amounts per GL day (the store's local day of payment)."""
from __future__ import annotations


def paid_per_day(cur, *, first_day, last_day, timezone: str, currency: str) -> list[dict]:
    """What WooCommerce says was paid, per GL day: orders past `awaiting_payment` (refunded and
    cancelled ones too: they were sold that day) in the company currency."""
    cur.execute(
        """
        SELECT day, count(*) AS orders, sum(total) AS amount FROM (
            SELECT (COALESCE(date_paid_gmt, date_completed_gmt, date_created_gmt) AT TIME ZONE %s)::date AS day,
                   total
            FROM orders
            WHERE state <> 'awaiting_payment' AND NOT deleted AND currency = %s
              AND COALESCE(date_paid_gmt, date_completed_gmt, date_created_gmt)
                  >= (%s::date - 1)::timestamp AT TIME ZONE 'UTC'
        ) paid
        WHERE day BETWEEN %s AND %s GROUP BY day
        """,
        (timezone, currency, first_day, first_day, last_day),
    )
    return cur.fetchall()


def posted_per_day(cur, *, first_day, last_day, currency: str) -> list[dict]:
    """The sales JDE took (an entry with its document number), per GL date, with the totals of
    their orders."""
    cur.execute(
        """
        SELECT e.gl_date AS day, count(*) AS orders, sum(o.total) AS amount
        FROM journal_entries e JOIN orders o ON o.id = e.order_id
        WHERE e.kind = 'sale' AND e.document_number IS NOT NULL AND e.currency = %s
          AND e.gl_date BETWEEN %s AND %s
        GROUP BY e.gl_date
        """,
        (currency, first_day, last_day),
    )
    return cur.fetchall()
