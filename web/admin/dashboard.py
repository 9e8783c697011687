"""The dashboard: the health strip, the last 30 days in two charts, counts by state, the latest
failures and the deliveries that could not be used."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app

from connector.store import daily_totals
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from web.admin import chart
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.pages import money, page
from web.health import health_facts

DAYS = 30


@bp.get("")
@bp.get("/")
@login_required
def dashboard():
    runtime = current_app.config["RUNTIME"]
    store = runtime.mapping.store
    last = datetime.now(store.timezone).date()
    first = last - timedelta(days=DAYS - 1)
    with runtime.db.transaction() as cur:
        states = [("deliveries", delivery_rows.counts_by_state(cur)), ("orders", order_rows.counts_by_state(cur))]
        failures = order_rows.latest_failures(cur, limit=20)
        errors = delivery_rows.latest_errors(cur, limit=20)
        paid = daily_totals.paid_per_day(cur, first_day=first, last_day=last, timezone=store.timezone.key,
                                         currency=store.currency)
        posted = daily_totals.posted_per_day(cur, first_day=first, last_day=last, currency=store.currency)
    return page("Dashboard", "admin/dashboard.html", health=health_facts(), states=states, failures=failures,
                errors=errors, charts=_charts(first, last, paid, posted, store.currency))


def _charts(first, last, paid: list[dict], posted: list[dict], currency: str) -> list[dict]:
    """The two charts of the last days, by GL date (the store's local day of payment).

    "In JDE" is what JDE confirmed: the sales whose entry JDE answered with a document number
    (journal_entries), counted at their orders' totals, so the gap between the two amount bars
    of a day is what the shop was paid that the ledger does not hold yet. Reconciliation, not
    this chart, proves the amounts in F0911 themselves; its runs keep only the discrepancies,
    not F0911's totals per day.
    """
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    paid_by_day = {row["day"]: row for row in paid}
    posted_by_day = {row["day"]: row for row in posted}

    def of(by_day, column, zero):
        return tuple((by_day[day][column] if day in by_day else zero) for day in days)

    counted = [chart.Series("posted to JDE", of(posted_by_day, "orders", 0), "#2a6f97")]
    amounts = [chart.Series("WooCommerce", of(paid_by_day, "amount", Decimal(0)), "#b5838d"),
               chart.Series("JDE", of(posted_by_day, "amount", Decimal(0)), "#2a6f97")]

    def in_currency(amount):
        return money(amount, currency)

    return [
        {"title": f"Orders posted per day, last {len(days)} days", "svg": chart.bar_chart(
            "chart-orders", f"Orders posted to JDE per GL day, {first} to {last}", days, counted,
            label=lambda n: f"{n} order{'s' if n != 1 else ''}"), "series": counted, "rows": chart.rows(days, counted), "money": False},
        {"title": f"Amount per day in WooCommerce and in JDE ({currency})", "svg": chart.bar_chart(
            "chart-amounts", f"Amount paid in WooCommerce and posted to JDE per GL day, {first} to {last}",
            days, amounts, label=in_currency), "series": amounts, "rows": chart.rows(days, amounts), "money": True},
    ]
