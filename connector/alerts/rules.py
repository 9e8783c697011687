"""The four kinds of alert and where each one's facts are found.

| kind | fact | found in |
|---|---|---|
| `orders` | an order went to `needs_attention` or `failed` | audit_log `order.state` rows |
| `webhooks` | WooCommerce had disabled a webhook (beat's upkeep re-activated it) | audit_log `webhooks.ensure` rows |
| `jde` | JDE unreachable for `jde_down_seconds` (15 min) | the circuit breaker (Redis) |
| `reconciliation` | a run found a difference, or failed | reconciliation_runs / items |

Each scan starts at its kind's watermark (sync_state `alerts:<kind>`) and records facts in
alert_events, once each ((kind, fact) is unique). Only whitelisted fields are kept: numbers,
states, topic names, dates, batch numbers of the connector's own form; never an error text, a
payload, a URL or an address. audit_log ids are handed out at insert and become visible at
commit, so a scan looks back LOOKBACK_SECONDS past its watermark: a row committed late is
still seen, and seen once.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from connector.store import alerts as rows
from connector.store import sync_state
from connector.woo.registration import TOPICS as WEBHOOK_TOPICS

KINDS = ("orders", "webhooks", "jde", "reconciliation")
ORDER_STATES = ("needs_attention", "failed")
# Longer than any transaction that writes an audit row runs (they take seconds).
LOOKBACK_SECONDS = 600
RECONCILIATION_KINDS = frozenset({"missing_in_jde", "amount_differs", "posted_twice", "unknown_in_jde",
                                  "not_posted", "not_recorded"})
# The connector's batch numbers: WC-<order>, WC-<order>-R<refund>, … (JDE may hold others: not shown).
BATCH = re.compile(r"WC-[0-9A-Za-z-]{1,22}")


def _watermark(cur, kind: str) -> dict:
    return sync_state.get(cur, f"alerts:{kind}") or {}


def _move(cur, kind: str, mark: dict) -> None:
    sync_state.put(cur, f"alerts:{kind}", mark)


def _audit_facts(cur, kind: str, action: str, outcomes=None) -> list[dict]:
    mark = _watermark(cur, kind)
    # First scan: from the last LOOKBACK_SECONDS, not the whole history.
    after = mark["audit_id"] if "audit_id" in mark else rows.audit_settled_id(cur, after=0,
                                                                             lookback_seconds=LOOKBACK_SECONDS)
    found = rows.audit_rows(cur, after=after, action=action, outcomes=outcomes)
    _move(cur, kind, {"audit_id": rows.audit_settled_id(cur, after=after, lookback_seconds=LOOKBACK_SECONDS)})
    return found


def scan_orders(cur) -> int:
    noticed = 0
    for row in _audit_facts(cur, "orders", "order.state", ORDER_STATES):
        if not (row["subject_id"] or "").isdigit():
            continue
        noticed += rows.note(cur, kind="orders", fact=f"audit:{row['id']}", subject=row["subject_id"],
                             detail={"state": row["outcome"]}, occurred_at=row["at"])
    return noticed


def _off_since(detail: str | None) -> str | None:
    """webhook_upkeep writes `off since <datetime>`; only a date that parses is kept."""
    text = (detail or "").removeprefix("off since ").strip()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return None


def scan_webhooks(cur) -> int:
    noticed = 0
    for row in _audit_facts(cur, "webhooks", "webhooks.ensure"):
        response = row["response"] if isinstance(row["response"], dict) else {}
        topics = sorted(t for t in response.get("reactivated") or [] if t in WEBHOOK_TOPICS)
        if topics:
            noticed += rows.note(cur, kind="webhooks", fact=f"audit:{row['id']}", subject=None,
                                 detail={"topics": topics, "off_since": _off_since(row["detail"])},
                                 occurred_at=row["at"])
    return noticed


def scan_jde(cur, breaker_state: dict, *, down_seconds: float, now: datetime) -> int:
    """One fact per outage (its start), once it has lasted `down_seconds`."""
    since = breaker_state.get("since") if breaker_state.get("state") == "open" else None
    if since is None or now - since < timedelta(seconds=down_seconds):
        return 0
    return int(rows.note(cur, kind="jde", fact=f"since:{since.isoformat()}", subject=None,
                         detail={"since": since.isoformat()}, occurred_at=since))


def scan_reconciliation(cur) -> int:
    mark = _watermark(cur, "reconciliation")
    now = rows.database_now(cur)
    after = datetime.fromisoformat(mark["finished_at"]) if "finished_at" in mark else now
    noticed = 0
    for run in rows.reconciliation_runs_to_tell(cur, finished_after=after - timedelta(seconds=LOOKBACK_SECONDS)):
        detail = {"state": run["state"], "from": run["gl_date_from"].isoformat(), "to": run["gl_date_to"].isoformat(),
                  "discrepancies": int(run["discrepancies"] or 0),
                  "by_kind": {k: int(n) for k, n in sorted(run["by_kind"].items()) if k in RECONCILIATION_KINDS},
                  "batches": [b for b in run["batches"] if BATCH.fullmatch(b)]}
        noticed += rows.note(cur, kind="reconciliation", fact=f"run:{run['id']}", subject=str(run["id"]),
                             detail=detail, occurred_at=run["finished_at"])
    _move(cur, "reconciliation", {"finished_at": now.isoformat()})
    return noticed


def scan(cur, *, breaker_state: dict, jde_down_seconds: float, now: datetime) -> dict[str, int]:
    """Record the facts of every kind that came since the last scan: {kind: facts new}."""
    return {"orders": scan_orders(cur), "webhooks": scan_webhooks(cur),
            "jde": scan_jde(cur, breaker_state, down_seconds=jde_down_seconds, now=now),
            "reconciliation": scan_reconciliation(cur)}
