"""The orders: a searchable list, and an order's page (its story, entries or, before posting, the
preview, refunds, JDE's own error text, and the buttons of what an operator may do about it:
web/admin/order_actions.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app, request, url_for

from connector import operator_actions as actions
from connector.ledger import reversals
from connector.store import audit, journal_entries, order_search
from connector.store import orders as order_rows
from connector.store import refunds as refund_rows
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.pages import page

# Dates the filter accepts: JDE's own range (connector/ledger/guards.py); beyond it no order exists,
# and a year 9999 would overflow the end of its day.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2099, 12, 31)
MAX_PAGE = 1_000_000
MAX_SEARCH = 200


def _runtime():
    return current_app.config["RUNTIME"]


@bp.before_request
def _fresh_mapping():
    """A mapping file fixed while the web process runs is in force from the next admin request on
    (a stat, no read, when it did not change), so that "fix the mapping, replay" needs no restart."""
    _runtime().refresh_mapping()


# --- the list ------------------------------------------------------------------------------

@dataclass
class ListRequest:
    form: dict                                # what was asked, as typed (to fill the form again)
    wanted: order_search.OrderFilter = field(default_factory=order_search.OrderFilter)
    page: int = 1
    problems: list[str] = field(default_factory=list)


def _day(args, name: str, label: str, problems: list[str]) -> date | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-30")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        problems.append(f"{label} {day} is outside {FIRST_DAY.year}–{LAST_DAY.year}: no order can be dated there")
        return None
    return day


def read_list_request(args, timezone) -> ListRequest:
    """The list's query string, judged: every value that cannot be used is a problem to show,
    never an error page."""
    form = {"q": args.get("q", ""), "state": args.get("state", ""), "from": args.get("from", ""),
            "to": args.get("to", ""), "attention": args.get("attention", "") == "1"}
    problems: list[str] = []
    text = form["q"].strip()
    if len(text) > MAX_SEARCH:
        problems.append(f"the search is {len(text):,} characters long: an order number, e-mail, batch or JDE "
                        f"document is under {MAX_SEARCH}")
    if "\x00" in text:
        problems.append("the search contains a NUL character, which no order number, e-mail or batch has")
    state = form["state"].strip() or None
    if state is not None and state not in order_rows.STATES:
        problems.append(f"{state!r} is not a state: choose one of {', '.join(order_rows.STATES)}")
    first, last = _day(args, "from", "from", problems), _day(args, "to", "to", problems)
    if first and last and first > last:
        problems.append(f"from {first} is after to {last}: no order is in that window; give the dates in order")
    page_text = args.get("page", "1").strip() or "1"
    number = int(page_text) if page_text.isdigit() and len(page_text) <= 7 else None
    if number is None or not 1 <= number <= MAX_PAGE:
        problems.append(f"page {page_text!r} is not a page number (1 to {MAX_PAGE:,})")
        number = 1
    # A day of the store's time zone runs from its midnight to the next one (23 or 25 hours at
    # a daylight-saving change): compared as instants with the order's creation.
    start = datetime.combine(first, time.min, tzinfo=timezone) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone) if last else None
    wanted = order_search.OrderFilter(text=text, state=state, created_from=start, created_before=end,
                                      attention=form["attention"])
    return ListRequest(form=form, wanted=wanted, page=number, problems=problems)


@bp.get("/orders")
@login_required
def orders():
    runtime = _runtime()
    asked = read_list_request(request.args, runtime.mapping.store.timezone)
    context = dict(form=asked.form, states=order_rows.STATES, problems=asked.problems, rows=None, total=None,
                   pages=None, page=asked.page, past_end=None, mapping_error=runtime.mapping_error,
                   timezone=str(runtime.mapping.store.timezone))
    if asked.problems:
        return page("Orders", "admin/orders.html", **context), 400
    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        total = order_search.count(cur, source=source, wanted=asked.wanted)
        pages = max(1, -(-total // order_search.PAGE_SIZE))
        rows = [] if asked.page > pages else order_search.page(
            cur, source=source, wanted=asked.wanted, offset=(asked.page - 1) * order_search.PAGE_SIZE)
    context.update(rows=rows, total=total, pages=pages)
    if asked.page > pages:
        context["past_end"] = _list_url(asked, pages)
    context.update(prev_url=_list_url(asked, asked.page - 1) if 1 < asked.page <= pages else None,
                   next_url=_list_url(asked, asked.page + 1) if asked.page < pages else None)
    return page("Orders", "admin/orders.html", **context)


def _list_url(asked: ListRequest, number: int) -> str:
    args = {k: v for k, v in asked.form.items() if v and k != "attention"}
    if asked.form["attention"]:
        args["attention"] = "1"
    return url_for("admin.orders", **args, page=number)


# --- an order ------------------------------------------------------------------------------

def order_id_of(text: str) -> int | None:
    """A WooCommerce order id from the URL, or None when no order could have it (the orders
    table's bigint: a larger number would make the query itself fail)."""
    if not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= order_search.BIGINT_MAX else None


def find_order(cur, source: str, text: str) -> dict | None:
    """The order the URL's `text` names, or None: not a number an order could have, or not here."""
    number = order_id_of(text)
    return None if number is None else order_rows.get(cur, source=source, woo_id=number)


def not_found(text: str):
    """The admin's 404 for an order: what is not known, and how to fetch it."""
    return page("Order not found", "admin/not_found.html", asked=text, woo_id=order_id_of(text)), 404


@bp.get("/orders/<woo_id>")
@login_required
def order(woo_id: str):
    runtime = _runtime()
    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        row = find_order(cur, source, woo_id)
        if row is None:
            return not_found(woo_id)
        number = row["woo_id"]
        deliveries = order_rows.deliveries_of(cur, source=source, woo_id=number)
        entries = journal_entries.for_order(cur, row["id"])
        by_batch = {e["batch_number"]: e for e in entries}
        refunds = [dict(r, entry=by_batch.get(reversals.refund_batch(number, r["refund_id"])))
                   for r in refund_rows.rows_of_order(cur, row["id"])]
        story = audit.for_subject(cur, "order", number)
        jde_error = audit.last_ais_error(cur, "order", number)
        preview = None if entries else _preview(cur, runtime, row)
    can = {"replay": actions.replay_refusal(row) is None, "requeue": actions.requeue_refusal(row) is None,
           "resolve": actions.resolve_refusal(row) is None}
    for delivery in deliveries:
        delivery["can_requeue"] = actions.delivery_requeue_refusal(delivery) is None
    return page(f"Order {number}", "admin/order.html", o=row, deliveries=deliveries, entries=entries, story=story,
                preview=preview, refunds=refunds, jde_error=jde_error, jde_words=_jde_words(jde_error), can=can,
                mapping_error=runtime.mapping_error)


# What of an AIS answer is JDE's own wording (the audit log keeps a redacted summary of it).
_JDE_FIELDS = ("message", "exception", "exceptionId", "userDefinedErrorText", "status", "sysErrors",
               "Errors/Warnings", "jde__status")


def _jde_words(row) -> list[tuple[str, str]]:
    response = (row or {}).get("response")
    if not isinstance(response, dict):
        return []
    import json

    return [(key, value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
            for key in _JDE_FIELDS if (value := response.get(key)) not in (None, "", [], {})]


def _preview(cur, runtime, row) -> dict:
    """What would be posted for an order not posted yet (the ledger rules, no JDE call)."""
    from connector.ledger import ProductsUnknown
    from connector.ledger.preview import preview
    from connector.store import products as product_rows
    from connector.woo.schemas import PayloadError

    payload = row["payload"]
    ids = [item.get("product_id") for item in payload.get("line_items") or [] if isinstance(item, dict)]
    categories = product_rows.categories_of(cur, source=row["source"], woo_ids=[i for i in ids if isinstance(i, int)])
    records = refund_rows.payloads_of_order(cur, row["id"])
    try:
        return preview(payload, runtime.mapping, categories, records)
    except ProductsUnknown as exc:
        return {"entries": [], "refused": f"not yet: {exc}"}
    except PayloadError as exc:
        return {"entries": [], "refused": str(exc)}


from web.admin import order_actions  # noqa: E402,F401  (its routes join bp with this module's)
