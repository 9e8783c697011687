"""Reconciliation task: prove, on a schedule, that every order is in the GL exactly once."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from celery.utils.log import get_task_logger

from connector import reconciliation
from connector.audit_trail import AuditTrail
from tasks.celery import app, runtime

log = get_task_logger(__name__)


def window(*, days: int | None = None, period: str | None = None, date_from: str | None = None,
           date_to: str | None = None, today: date | None = None) -> tuple[date, date]:
    """GL-date window: explicit dates, the last `days` days, or `previous_month`."""
    today = today or datetime.now(runtime.mapping.store.timezone).date()
    if date_from or date_to:
        start = date.fromisoformat(date_from) if date_from else today - timedelta(days=days or 3)
        return start, date.fromisoformat(date_to) if date_to else today
    if period == "previous_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return today - timedelta(days=days or 3), today


@app.task(name="reconcile_gl")
def reconcile_gl(days: int | None = 3, period: str | None = None, date_from: str | None = None,
                 date_to: str | None = None):
    """Reconcile F0911 against the connector's records for a window of GL dates."""
    start, end = window(days=days, period=period, date_from=date_from, date_to=date_to)
    trail = AuditTrail(runtime.db, "reconciliation", f"{start}..{end}")
    run = reconciliation.reconcile(runtime.db, runtime.ais_client(trail.ais_call), runtime.mapping,
                                   date_from=start, date_to=end)
    if run.items:
        log.warning("reconciliation %s (%s..%s): %s discrepancies", run.run_id, start, end, len(run.items))
    return {"run": run.run_id, "from": str(start), "to": str(end), "discrepancies": len(run.items),
            "ais_calls": run.ais_calls}
