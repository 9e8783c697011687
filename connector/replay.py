"""Replaying orders: put them back in line for posting, safely.

Replay never posts blindly: an order goes back to `ready` (with a fresh set of attempts) marked
as maybe in JDE, so the posting workflow looks its batch up in F0911 before sending anything
(an order that is in JDE is recorded as posted, not posted again). An order not yet paid, or
being posted right now, is left alone. A `resolved` order may be replayed too: a person settled it, and a
person may change their mind (the lookup records it as posted if it was fixed in JDE under its
batch number).

connector/operator_actions.py calls this for `connector replay` and the admin's Replay button.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from connector.audit_trail import AuditTrail
from connector.store import journal_entries
from connector.store import orders as order_rows


@dataclass(frozen=True)
class ReplayDecision:
    woo_id: int
    row_id: int | None
    queued: bool
    reason: str


def refusal(order) -> str | None:
    """Why an order may not be replayed now, or None when it may. `order` is its row; with no
    `lease_expired` (the database's judgement, under lock), its lease is judged by this clock."""
    if order["state"] == "awaiting_payment":
        return f"not paid ({order['status']}): nothing to post"
    if order["state"] == "posting":
        expired = order.get("lease_expired")
        if expired is None:
            expired = order["lease_until"] is None or order["lease_until"] < datetime.now(timezone.utc)
        if not expired:
            return "being posted right now"
    return None


def prepare(cur, db, *, source: str, woo_ids: list[int], actor: str | None = None) -> list[ReplayDecision]:
    """Put each order back to `ready` (in the caller's transaction); `actor` is the operator who
    asked, recorded with the state change."""
    decisions = []
    for woo_id in woo_ids:
        order = order_rows.lock(cur, source=source, woo_id=woo_id)
        if order is None:
            decisions.append(ReplayDecision(woo_id, None, False, "no such order here (try `connector poll`)"))
            continue
        refused = refusal(order)
        if refused:
            decisions.append(ReplayDecision(woo_id, order["id"], False, refused))
            continue
        order_rows.mark_for_replay(cur, order["id"])
        journal_entries.reopen(cur, order["id"])
        AuditTrail(db, "order", woo_id).state_change(cur, order["state"], "ready", "replay requested", actor=actor)
        decisions.append(ReplayDecision(woo_id, order["id"], True,
                                        f"was {order['state']}: queued (batch looked up in JDE first)"))
    return decisions
