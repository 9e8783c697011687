"""The buttons of an order's page: replay, requeue, mark resolved; and requeue of a delivery.

The pages carry no script (CSP), so a button is a link to a confirmation page (GET) that says
what will happen; its form POSTs, with the CSRF token (web/admin/auth.py refuses a POST without
it). The work is connector/operator_actions.py's, as for `connector replay | requeue | orders
resolve`: the same code, the same audit rows, the operator named `web:<admin user>`. After an
action the browser goes back to the order's page, which shows what was done.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for

from connector import operator_actions as actions
from connector.store import deliveries as delivery_rows
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.orders import find_order, not_found, order_id_of
from web.admin.pages import page

# What each action of an order's page does, said before it is done.
ORDER_ACTIONS = {
    "replay": ("Replay", "post it again, safely: the order goes back to ready with a fresh set of attempts, and "
                         "the worker looks its batch up in the JDE general ledger (F0911) before sending anything. "
                         "An order already in JDE is recorded as posted, never posted twice. A mapping fixed since "
                         "is used."),
    "requeue": ("Requeue", "send it to the worker now, as it is: no state or attempt is reset (replay does that). "
                           "For an order waiting for its next try, for JDE, or whose message the broker lost."),
    "resolve": ("Mark resolved", "settle it by hand: the order becomes resolved, final; nothing is sent to JDE and "
                                 "nothing will post it again. For an order fixed in JDE by hand, or one that must "
                                 "not be posted. If it was posted in JDE under its batch number, replay it "
                                 "instead: the lookup records it as posted."),
}


def _runtime():
    return current_app.config["RUNTIME"]


def _workers():
    """How the work reaches the workers: the app's own (a test's) or the broker's."""
    workers = current_app.config.get("WORKERS")
    if workers is None:
        from tasks.workers import workers as broker_workers   # imported here: the pages need no broker

        workers = current_app.config["WORKERS"] = broker_workers()
    return workers


def _refusal(action: str, order) -> str | None:
    if action == "replay":
        return actions.replay_refusal(order)
    if action == "requeue":
        return actions.requeue_refusal(order)
    return actions.resolve_refusal(order)


@bp.route("/orders/<woo_id>/<any(replay, requeue, resolve):action>", methods=["GET", "POST"])
@login_required
def order_action(woo_id: str, action: str):
    runtime = _runtime()
    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        order = find_order(cur, source, woo_id)
    if order is None:
        return not_found(woo_id)
    number = order["woo_id"]
    label, what = ORDER_ACTIONS[action]
    back = url_for("admin.order", woo_id=number)
    if request.method == "GET":
        return _confirm(f"{label}: order {number}?", what, order=order, action=action, refused=_refusal(action, order),
                        back=back)
    actor = actions.web_operator(g.admin_user)
    if action == "replay":
        outcome = actions.replay_order(runtime.db, _workers(), source=source, woo_id=number, actor=actor)
    elif action == "requeue":
        outcome = actions.requeue_order(runtime.db, _workers(), source=source, woo_id=number, actor=actor,
                                        lease_seconds=runtime.settings.lease_seconds)
    else:
        reason = request.form.get("reason", "")
        problem = actions.reason_problem(reason)
        if problem:
            return _confirm(f"{label}: order {number}?", what, order=order, action=action, refused=None, back=back,
                            problem=problem, reason=reason), 400
        outcome = actions.resolve_order(runtime.db, source=source, woo_id=number, reason=reason, actor=actor)
    flash(f"{label} of order {number}: {outcome.what}" if outcome.done
          else f"{label} of order {number} not done: {outcome.what}")
    return redirect(back)


@bp.route("/deliveries/<delivery_id>/requeue", methods=["GET", "POST"])
@login_required
def delivery_requeue(delivery_id: str):
    runtime = _runtime()
    number = order_id_of(delivery_id)    # a bigint id, like an order's
    delivery = None
    if number is not None:
        with runtime.db.transaction() as cur:
            delivery = delivery_rows.get(cur, number)
    if delivery is None:
        return page("Delivery not found", "admin/not_found.html", asked=delivery_id, woo_id=None,
                    what="delivery"), 404
    # Back to its order when the delivery names one (an unusable body names none).
    order_woo_id = delivery["resource_id"] if delivery["topic"].startswith("order.") else None
    back = url_for("admin.order", woo_id=order_woo_id) if order_woo_id else url_for("admin.orders")
    if request.method == "GET":
        what = ("apply it again: an unfinished delivery is sent to the worker as it is; one in error goes back to "
                "queued with its tries counted from zero (its cause may have been fixed, e.g. the mapping). An "
                "older version of an order than the one held changes nothing.")
        return _confirm(f"Requeue delivery {number}?", what, delivery=delivery, action="requeue",
                        refused=actions.delivery_requeue_refusal(delivery), back=back)
    [outcome] = actions.requeue_deliveries(runtime.db, _workers(), [number], actor=actions.web_operator(g.admin_user))
    flash(f"Requeue of delivery {number}: {outcome.what}" if outcome.done
          else f"Requeue of delivery {number} not done: {outcome.what}")
    return redirect(back)


def _confirm(title: str, what: str, **context):
    context.setdefault("problem", None)
    context.setdefault("reason", "")
    context.setdefault("order", None)
    context.setdefault("delivery", None)
    return page(title, "admin/confirm.html", what=what, mapping_error=_runtime().mapping_error, **context)
