"""Beat's webhook upkeep: re-register and re-activate the shop's webhooks, then catch up.

WooCommerce disables a webhook after more than 5 consecutive failed deliveries and then sends
nothing more for that topic. Every `CONNECTOR_WEBHOOKS_SECONDS` (15 minutes) the connector puts
its webhooks right (connector/woo/registration.py); when it had to re-activate one, it runs the
polling bridge from the moment that webhook was disabled, and says so in the log, the audit log
and `connector status` (sync_state key `webhooks`, which also keeps the last check's time and
failure for the health facts).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from connector import polling
from connector.store import audit, sync_state
from connector.woo import registration

log = logging.getLogger(__name__)
STATE_KEY = "webhooks"


def run(runtime) -> dict:
    public_url = runtime.settings.public_url
    if not public_url:
        return {"skipped": "CONNECTOR_PUBLIC_URL is not set"}
    secrets = runtime.webhook_secrets()
    if not secrets:
        return {"skipped": "no webhook secret"}
    try:
        result = registration.ensure(runtime.woo_client(), url=registration.delivery_url(public_url),
                                     secret=secrets[0])
    except Exception as exc:
        # Kept for the health facts: a shop that refuses the connector's key, or cannot be
        # reached, leaves the webhooks as they are, possibly disabled, until a person acts.
        try:
            _record_failure(runtime, f"{type(exc).__name__}: {exc}"[:300])
        except Exception:
            pass
        raise
    outcome = {"created": result.created, "reactivated": result.reactivated, "resecured": result.resecured}
    now = datetime.now(timezone.utc)
    with runtime.db.transaction() as cur:
        state = sync_state.get(cur, STATE_KEY) or {}
        state["checked_at"] = now.isoformat()
        # ensure() left every topic the connector needs with an active webhook of its own.
        state.update(active=list(registration.TOPICS), error=None, failing_since=None)
        if result.created or result.reactivated or result.resecured:
            state["last_repair"] = {"at": now.isoformat(), **outcome,
                                    "off_since": result.off_since.isoformat() if result.off_since else None}
            audit.record(cur, subject_type="webhooks", subject_id=registration.delivery_url(public_url),
                         action="webhooks.ensure", outcome="repaired", request=None, response=outcome,
                         detail=f"off since {result.off_since}" if result.off_since else None)
        sync_state.put(cur, STATE_KEY, state)
    if result.reactivated:
        log.warning("webhooks %s were disabled by WooCommerce (since %s): re-activated; polling for the orders "
                    "of that time", ", ".join(result.reactivated), result.off_since)
        polled = polling.poll_orders(runtime.db, runtime.woo_client(), source=runtime.mapping.store.source,
                                     posting_statuses=runtime.mapping.posting.statuses,
                                     lease_seconds=runtime.settings.lease_seconds, since=result.off_since or now,
                                     mapping=runtime.mapping)
        outcome.update(polled=polled.stored, ready=polled.ready)
    elif result.created or result.resecured:
        log.warning("webhooks registered: %s; secret replaced: %s", ", ".join(result.created) or "-",
                    ", ".join(result.resecured) or "-")
    return outcome


def _record_failure(runtime, error: str) -> None:
    now = datetime.now(timezone.utc).isoformat()
    with runtime.db.transaction() as cur:
        state = sync_state.get(cur, STATE_KEY) or {}
        state.update(checked_at=now, error=error, failing_since=state.get("failing_since") or now)
        sync_state.put(cur, STATE_KEY, state)
