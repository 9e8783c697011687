"""What an operator may do to the connector's work: replay an order, requeue an order or a
delivery, mark an order resolved.

`connector replay | requeue | orders resolve` and the admin pages' buttons call these same
functions, so both do the same thing and leave the same audit rows. Each action commits its
change with an audit row naming the operator, then hands the work to the workers: after the
commit, so that a worker finds the row as the action left it. A broker that is down loses
nothing: the row waits for the sweeper. The core knows no Celery: `Workers` is how the work is
handed over (tasks/workers.py builds the real one).
"""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Callable

from connector import replay as replays
from connector.audit_trail import AuditTrail
from connector.store import audit
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows

UNFINISHED = ("received", "queued")
# The longest reason kept: a sentence or two for the person who reads the story later.
MAX_REASON = 1000
BROKER_DOWN = "the broker is down: the sweeper will send it"


@dataclass(frozen=True)
class Workers:
    """How work reaches the workers: each returns False when the broker cannot take it now."""
    post_order: Callable[[int], bool]
    process_delivery: Callable[[int], bool]


@dataclass(frozen=True)
class Outcome:
    subject: int        # the order's WooCommerce id, or the delivery id
    done: bool
    what: str           # what happened, in the operator's words


def shell_operator() -> str:
    """The operator of a `connector` command: the OS user who typed it."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):   # a container's uid with no passwd entry and no $USER
        name = f"uid {os.getuid()}"
    return f"cli:{name}"


def web_operator(user: str) -> str:
    """The operator of an admin page: the signed-in admin user."""
    return f"web:{user}"


# --- when an action applies (the order page shows only the buttons that do) ----------------

def replay_refusal(order) -> str | None:
    return replays.refusal(order)


def resolve_refusal(order) -> str | None:
    if order["state"] in order_rows.NEEDS_A_PERSON:
        return None
    return (f"it is {order['state']}: only an order that waits for a person "
            f"({' or '.join(order_rows.NEEDS_A_PERSON)}) can be marked resolved")


def requeue_refusal(order) -> str | None:
    if order["state"] == "ready":
        return None
    return f"it is {order['state']}, not ready: nothing waits to be sent (replay posts it again)"


def delivery_requeue_refusal(delivery) -> str | None:
    if delivery["state"] in UNFINISHED + ("error",):
        return None
    return f"it is {delivery['state']}: a processed delivery is left as it is"


def reason_problem(reason: str | None) -> str | None:
    """Why a resolution's reason is not acceptable, or None."""
    text = (reason or "").strip()
    if not text:
        return "say why the order is resolved (what was done in JDE, or why it must not be posted)"
    if len(text) > MAX_REASON:
        return f"the reason is {len(text):,} characters long: keep it under {MAX_REASON:,}"
    return None


# --- the actions -------------------------------------------------------------------------

def replay_order(db, workers: Workers, *, source: str, woo_id: int, actor: str) -> Outcome:
    """Back to `ready` and to the worker, which looks the batch up in JDE before sending anything."""
    with db.transaction() as cur:
        [decision] = replays.prepare(cur, db, source=source, woo_ids=[woo_id], actor=actor)
    if not decision.queued:
        return Outcome(woo_id, False, decision.reason)
    if not workers.post_order(woo_id):
        return Outcome(woo_id, True, f"ready; {BROKER_DOWN}")
    return Outcome(woo_id, True, decision.reason)


def requeue_deliveries(db, workers: Workers, delivery_ids: list[int], *, actor: str) -> list[Outcome]:
    """Send deliveries to the worker again: unfinished ones as they are, ones in `error` back to
    `queued` (their cause may have been fixed). A processed one is left as it is."""
    with db.transaction() as cur:
        taken = _requeue_in(cur, delivery_ids, actor=actor)
    outcomes = []
    for delivery_id in delivery_ids:
        if delivery_id not in taken:
            outcomes.append(Outcome(delivery_id, False, "already processed (or unknown): nothing to do"))
        elif workers.process_delivery(delivery_id):
            outcomes.append(Outcome(delivery_id, True, f"queued ({taken[delivery_id]})"))
        else:
            outcomes.append(Outcome(delivery_id, True, f"{taken[delivery_id]}; {BROKER_DOWN}"))
    return outcomes


def _requeue_in(cur, delivery_ids: list[int], *, actor: str) -> dict[int, str]:
    """{delivery id: what it was} of the deliveries requeued, with an audit row each."""
    taken = {i: "was unfinished" for i in delivery_rows.requeue(cur, list(delivery_ids))}
    for row in delivery_rows.reopen_errors(cur, [i for i in delivery_ids if i not in taken]):
        taken[row["id"]] = f"was in error: {row['error']}" if row["error"] else "was in error"
    for delivery_id, was in sorted(taken.items()):
        audit.record(cur, subject_type="delivery", subject_id=delivery_id, action="operator.requeue", detail=was,
                     actor=actor)
    return taken


def requeue_order(db, workers: Workers, *, source: str, woo_id: int, actor: str, lease_seconds: int) -> Outcome:
    """Send a `ready` order to the worker now, as it is (no state reset, unlike replay): one
    waiting for its retry, for JDE, or whose message a dead broker lost."""
    with db.transaction() as cur:
        order = order_rows.lock(cur, source=source, woo_id=woo_id)
        if order is None:
            return Outcome(woo_id, False, "no such order here (try `connector poll`)")
        if not order_rows.take_for_requeue(cur, order["id"], lease_seconds=lease_seconds):
            return Outcome(woo_id, False, requeue_refusal(order))
        AuditTrail(db, "order", woo_id).note(cur, "operator.requeue", "sent to the worker again", actor=actor)
    if not workers.post_order(woo_id):
        return Outcome(woo_id, True, f"ready; {BROKER_DOWN}")
    return Outcome(woo_id, True, "sent to the worker again")


def resolve_order(db, *, source: str, woo_id: int, reason: str, actor: str) -> Outcome:
    """Settle an order a person fixed in JDE by hand, or that must not be posted: `resolved`,
    with the reason and the operator in its story. Nothing is sent to JDE."""
    problem = reason_problem(reason)
    if problem:
        return Outcome(woo_id, False, problem)
    reason = reason.strip()
    with db.transaction() as cur:
        order = order_rows.lock(cur, source=source, woo_id=woo_id)
        if order is None:
            return Outcome(woo_id, False, "no such order here (try `connector poll`)")
        refused = resolve_refusal(order)
        if refused or not order_rows.resolve(cur, order["id"]):
            return Outcome(woo_id, False, refused or f"it is {order['state']}")
        AuditTrail(db, "order", woo_id).state_change(cur, order["state"], "resolved", reason, actor=actor)
    return Outcome(woo_id, True, f"was {order['state']}: resolved ({reason})")
