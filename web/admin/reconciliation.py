"""The reconciliation pages: the runs, one run's findings (each with its order and what mends
it), and the findings as CSV, the same file `connector reconcile --format csv` writes."""
from __future__ import annotations

import io

from flask import Response, abort, current_app, request

from connector import reconciliation_report
from connector.store import reconciliation as reconciliation_rows
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.pages import page

RUNS_PER_PAGE = 50
FINDINGS_PER_PAGE = 500


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@bp.get("/reconciliation")
@login_required
def reconciliation_runs():
    runtime = current_app.config["RUNTIME"]
    number = _page_number()
    with runtime.db.transaction() as cur:
        total = reconciliation_rows.count_runs(cur)
        runs = reconciliation_rows.runs_page(cur, limit=RUNS_PER_PAGE, offset=(number - 1) * RUNS_PER_PAGE)
    return page("Reconciliation", "admin/reconciliation.html", runs=runs, number=number,
                pages=_pages(total, RUNS_PER_PAGE), total=total)


@bp.get("/reconciliation/<int:run_id>")
@login_required
def reconciliation_run(run_id: int):
    runtime = current_app.config["RUNTIME"]
    number = _page_number()
    with runtime.db.transaction() as cur:
        run = reconciliation_rows.get_run(cur, run_id)
        if run is None:
            abort(404)
        total = reconciliation_rows.count_items(cur, run_id)
        findings = reconciliation_rows.findings_page(cur, run_id, source=runtime.mapping.store.source,
                                                     limit=FINDINGS_PER_PAGE, offset=(number - 1) * FINDINGS_PER_PAGE)
    return page(f"Reconciliation run {run_id}", "admin/reconciliation_run.html", run=run, findings=findings,
                total=total, number=number, pages=_pages(total, FINDINGS_PER_PAGE),
                replayable=reconciliation_report.REPLAYABLE, what_to_do=reconciliation_report.WHAT_TO_DO)


@bp.get("/reconciliation/<int:run_id>.csv")
@login_required
def reconciliation_csv(run_id: int):
    runtime = current_app.config["RUNTIME"]
    with runtime.db.transaction() as cur:
        if reconciliation_rows.get_run(cur, run_id) is None:
            abort(404)
        items = reconciliation_rows.items_of_run(cur, run_id)
    out = io.StringIO()
    reconciliation_report.write_csv([reconciliation_report.record(item) for item in items], out)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="reconciliation-{run_id}.csv"'})
