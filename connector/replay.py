"""Replaying orders: put them back in line for posting, safely.

Replay never posts blindly: an order goes back to `ready` with its attempt count kept, so
the posting workflow looks its batch up in F0911 before sending anything (an order that is
in JDE is recorded as posted, not posted again). An order not yet paid, or being posted
right now, is left alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from connector.audit_trail import AuditTrail
from connector.store import journal_entries
from connector.store import orders as order_rows


@dataclass(frozen=True)
class ReplayDecision:
    woo_id: int
    row_id: int | None
    queued: bool
    reason: str


def prepare(cur, db, *, source: str, woo_ids: list[int]) -> list[ReplayDecision]:
    decisions = []
    for woo_id in woo_ids:
        order = order_rows.lock(cur, source=source, woo_id=woo_id)
        if order is None:
            decisions.append(ReplayDecision(woo_id, None, False, "no such order here (try `connector poll`)"))
            continue
        if order["state"] == "awaiting_payment":
            decisions.append(ReplayDecision(woo_id, order["id"], False, f"not paid ({order['status']}): "
                                                                          "nothing to post"))
            continue
        if order["state"] == "posting" and not order["lease_expired"]:
            decisions.append(ReplayDecision(woo_id, order["id"], False, "being posted right now"))
            continue
        order_rows.mark_for_replay(cur, order["id"])
        journal_entries.reopen(cur, order["id"])
        AuditTrail(db, "order", woo_id).state_change(cur, order["state"], "ready", "replay requested")
        decisions.append(ReplayDecision(woo_id, order["id"], True,
                                        f"was {order['state']}: queued (batch looked up in JDE first)"))
    return decisions
