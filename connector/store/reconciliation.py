"""SQL of reconciliation: what the connector believes is in the GL, and the run records."""
from __future__ import annotations


def start_run(cur, *, date_from, date_to) -> int:
    cur.execute("INSERT INTO reconciliation_runs (gl_date_from, gl_date_to) VALUES (%s, %s) RETURNING id",
                (date_from, date_to))
    return cur.fetchone()["id"]


def finish_run(cur, run_id: int, *, state: str, ais_calls=None, jde_lines=None, entries_checked=None,
               discrepancies=None, error=None) -> None:
    cur.execute(
        """
        UPDATE reconciliation_runs SET state = %s, finished_at = now(), ais_calls = %s, jde_lines = %s,
               entries_checked = %s, discrepancies = %s, error = %s
        WHERE id = %s
        """,
        (state, ais_calls, jde_lines, entries_checked, discrepancies, error, run_id),
    )


def add_items(cur, run_id: int, items) -> None:
    for item in items:
        cur.execute(
            """
            INSERT INTO reconciliation_items (run_id, kind, batch_number, woo_id, expected, found, documents, detail)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (run_id, item.kind, item.batch_number, item.woo_id, item.expected, item.found,
             list(item.documents) or None, item.detail),
        )


def entries_in_window(cur, *, date_from, date_to) -> list[dict]:
    cur.execute(
        """
        SELECT e.batch_number, e.state, e.total_debit, e.document_number, e.gl_date, e.lines, o.woo_id
        FROM journal_entries e JOIN orders o ON o.id = e.order_id
        WHERE e.gl_date BETWEEN %s AND %s
        """,
        (date_from, date_to),
    )
    return cur.fetchall()


def entries_for_batches(cur, batches: list[str]) -> list[dict]:
    cur.execute(
        """
        SELECT e.batch_number, e.state, e.total_debit, e.document_number, e.gl_date, e.lines, o.woo_id
        FROM journal_entries e JOIN orders o ON o.id = e.order_id
        WHERE e.batch_number = ANY(%s)
        """,
        (batches,),
    )
    return cur.fetchall()


def paid_orders_not_posted(cur, *, statuses, settled_before) -> list[dict]:
    """Paid orders that are not `posted`; in-flight ones (changed after `settled_before`) excluded, and
    `resolved` ones: a person settled them by hand (if they put it in JDE under the order's batch,
    the comparison still reports it as not_recorded)."""
    cur.execute(
        """
        SELECT id, woo_id, state, status, total, last_error, date_paid_gmt, date_completed_gmt,
               date_created_gmt, batch_number
        FROM orders
        WHERE status = ANY(%s) AND NOT deleted AND state NOT IN ('posted', 'resolved')
          AND (state IN ('failed', 'needs_attention') OR updated_at < %s)
        """,
        (list(statuses), settled_before),
    )
    return cur.fetchall()


def woo_ids_known(cur, woo_ids: list[int]) -> set[int]:
    cur.execute("SELECT woo_id FROM orders WHERE woo_id = ANY(%s::bigint[])", (woo_ids,))
    return {row["woo_id"] for row in cur.fetchall()}


def items_of_run(cur, run_id: int) -> list[dict]:
    cur.execute("SELECT * FROM reconciliation_items WHERE run_id = %s ORDER BY kind, batch_number", (run_id,))
    return cur.fetchall()


def latest_run(cur):
    cur.execute("SELECT * FROM reconciliation_runs ORDER BY id DESC LIMIT 1")
    return cur.fetchone()


def latest_finished_run(cur):
    """The latest run that ended (done or failed): a run still `running`, or one whose process
    died, proves nothing yet."""
    cur.execute("SELECT * FROM reconciliation_runs WHERE state <> 'running' ORDER BY id DESC LIMIT 1")
    return cur.fetchone()


def get_run(cur, run_id: int):
    cur.execute("SELECT * FROM reconciliation_runs WHERE id = %s", (run_id,))
    return cur.fetchone()


def count_runs(cur) -> int:
    cur.execute("SELECT count(*) AS n FROM reconciliation_runs")
    return cur.fetchone()["n"]


def runs_page(cur, *, limit: int, offset: int) -> list[dict]:
    """Runs, newest first."""
    cur.execute("SELECT * FROM reconciliation_runs ORDER BY id DESC LIMIT %s OFFSET %s", (limit, offset))
    return cur.fetchall()


def count_items(cur, run_id: int) -> int:
    cur.execute("SELECT count(*) AS n FROM reconciliation_items WHERE run_id = %s", (run_id,))
    return cur.fetchone()["n"]


def findings_page(cur, run_id: int, *, source: str, limit: int | None = None, offset: int = 0) -> list[dict]:
    """A run's items in the order of items_of_run, each with `has_order` (whether the order it
    names is one the connector holds: an unknown_in_jde batch names one it does not) and that
    order's `currency`."""
    cur.execute(
        """
        SELECT i.*, o.woo_id IS NOT NULL AS has_order, o.currency
        FROM reconciliation_items i
        LEFT JOIN orders o ON o.source = %s AND o.woo_id = i.woo_id
        WHERE i.run_id = %s
        ORDER BY i.kind, i.batch_number, i.id LIMIT %s OFFSET %s
        """,
        (source, run_id, limit, offset),
    )
    return cur.fetchall()


def latest_done_run(cur):
    """The run that finished last with a result (`done`), or None (metrics: a failed run counts
    no discrepancies)."""
    cur.execute("SELECT * FROM reconciliation_runs WHERE state = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1")
    return cur.fetchone()
