"""SQL of the health facts (connector/health.py): cheap reads, each bounded by an index or by
the newest rows, because /readyz runs them as often as a platform probes it."""
from __future__ import annotations

# The newest rows a "latest …" read looks at: an index on the time columns would cost every
# insert; the newest ids are where the latest webhook and posting are.
RECENT_ROWS = 10_000


def last_webhook_at(cur):
    """When the latest delivery WooCommerce sent as a webhook (not one the poller stored) was
    received; None when none is among the newest deliveries."""
    cur.execute(
        "SELECT max(received_at) AS at FROM (SELECT received_at, webhook_id FROM deliveries "
        "ORDER BY id DESC LIMIT %s) newest WHERE webhook_id IS NOT NULL",
        (RECENT_ROWS,),
    )
    return cur.fetchone()["at"]


def last_posting(cur):
    """The latest journal entry JDE took (batch, document, posted_at), or None."""
    cur.execute(
        "SELECT batch_number, document_number, posted_at FROM (SELECT batch_number, document_number, posted_at "
        "FROM journal_entries ORDER BY id DESC LIMIT %s) newest WHERE posted_at IS NOT NULL "
        "ORDER BY posted_at DESC LIMIT 1",
        (RECENT_ROWS,),
    )
    return cur.fetchone()


def orders_waiting(cur) -> dict[str, int]:
    """Orders that need a person (`failed`, `needs_attention`) and those waiting for JDE
    (`ready`, deferred while it is unreachable)."""
    cur.execute(
        """
        SELECT count(*) FILTER (WHERE state = 'failed') AS failed,
               count(*) FILTER (WHERE state = 'needs_attention') AS needs_attention,
               count(*) FILTER (WHERE state = 'ready' AND deferred) AS waiting_for_jde
        FROM orders WHERE state IN ('failed', 'needs_attention', 'ready')
        """
    )
    return dict(cur.fetchone())


def stale_deliveries(cur, *, older_than_seconds: float) -> dict:
    """Unfinished deliveries received longer ago than that (a worker takes one in milliseconds):
    how many, and the oldest one's time."""
    cur.execute(
        "SELECT count(*) AS n, min(received_at) AS oldest FROM deliveries "
        "WHERE state IN ('received', 'queued') AND received_at < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )
    return dict(cur.fetchone())


def stale_orders(cur, *, lease_seconds: float) -> dict:
    """Orders due for posting (not waiting for JDE) whose lease ran out more than a lease ago:
    the sweeper re-leases due work every sweep, so these are work nobody sends or takes up."""
    cur.execute(
        """
        SELECT count(*) AS n, min(COALESCE(lease_until, updated_at + make_interval(secs => %s))) AS oldest
        FROM orders
        WHERE state IN ('ready', 'posting') AND NOT deferred
          AND COALESCE(lease_until, updated_at + make_interval(secs => %s)) < now() - make_interval(secs => %s)
        """,
        (lease_seconds, lease_seconds, lease_seconds),
    )
    return dict(cur.fetchone())
