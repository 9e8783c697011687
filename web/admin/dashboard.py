"""The dashboard: counts by state, the latest failures, the last reconciliation."""
from __future__ import annotations

from flask import current_app

from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from connector.store import reconciliation as reconciliation_rows
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.pages import page


@bp.get("")
@bp.get("/")
@login_required
def dashboard():
    runtime = current_app.config["RUNTIME"]
    with runtime.db.transaction() as cur:
        states = [("deliveries", delivery_rows.counts_by_state(cur)), ("orders", order_rows.counts_by_state(cur))]
        failures = order_rows.latest_failures(cur, limit=20)
        errors = delivery_rows.latest_errors(cur, limit=20)
        run = reconciliation_rows.latest_run(cur)
        items = reconciliation_rows.items_of_run(cur, run["id"]) if run else []
    from connector.jde.breaker import describe

    return page("Dashboard", "admin/dashboard.html", states=states, failures=failures, errors=errors, run=run, items=items,
                 jde=describe(runtime.breaker.state()))
