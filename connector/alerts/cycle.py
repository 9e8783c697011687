"""One alerting cycle (beat's `send_alerts`, every CONNECTOR_ALERT_SECONDS): notice the new
facts, then send each channel the digests that are due.

- One cycle at a time, fleet-wide (a Postgres advisory lock): a slow SMTP server never makes
  two cycles send the same digest.
- A channel that fails keeps its place: the same events, and any newer, go in its next attempt
  (next cycle); the other channel and the other kinds go on. After one failure a channel is
  not tried again in the same cycle, so a dead server costs one timeout a cycle, not four.
- A failed send is recorded (alert_messages) and logged with the channel's host and the reason.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from connector.alerts import digest, rules
from connector.alerts.channels import ChannelFailed
from connector.store import alerts as rows

log = logging.getLogger(__name__)

# Any constant: the one lock of the alerting cycle.
_LOCK_ID = 0x414C_4552


def run(db, channels, *, breaker_state: dict, alerts, public_url: str | None = None,
        now: datetime | None = None) -> dict:
    """Scan and send; returns {"noticed": {kind: n}, "sent": [(channel, kind, events)], "failed": [...]}.

    `alerts` is config.AlertSettings; `breaker_state` the JDE breaker's state(); `now` (UTC) is the
    time the window is judged by (tests move it; the scans use the database's clock).
    """
    now = now or datetime.now(timezone.utc)
    outcome = {"noticed": {}, "sent": [], "failed": []}
    with db.transaction() as guard:
        guard.execute("SELECT pg_try_advisory_xact_lock(%s) AS mine", (_LOCK_ID,))
        if not guard.fetchone()["mine"]:
            return {"skipped": "another alerting cycle is under way"}
        with db.transaction() as cur:
            # A channel seen for the first time is sent what this scan notices, not the history.
            known = rows.last_event_id(cur)
            for channel in channels:
                for kind in rules.KINDS:
                    rows.open_place(cur, channel.name, kind, after=known)
            outcome["noticed"] = rules.scan(cur, breaker_state=breaker_state,
                                            jde_down_seconds=alerts.jde_down_seconds, now=now)
        for channel in channels:
            for kind in rules.KINDS:
                try:
                    sent = _send_due(db, channel, kind, alerts=alerts, public_url=public_url, now=now)
                except ChannelFailed as exc:
                    log.warning("alert %s via %s not sent: %s; tried again in the next cycle", kind, channel.name,
                                exc)
                    outcome["failed"].append((channel.name, kind, str(exc)))
                    break
                if sent:
                    outcome["sent"].append((channel.name, kind, sent))
    return outcome


def _send_due(db, channel, kind: str, *, alerts, public_url, now) -> int:
    """Send `channel` the digest of `kind` if one is due; the number of events it carried."""
    failure = None
    with db.transaction() as cur:
        place = rows.place(cur, channel.name, kind)
        if not digest.due(place["last_sent_at"], now, alerts.window_seconds):
            return 0
        pending = rows.pending(cur, kind, after=place["sent_upto"], first=50)
        if not pending["count"]:
            return 0
        message = digest.compose(kind, pending, public_url=public_url, jde_down_seconds=alerts.jde_down_seconds)
        try:
            channel.send(message)
        except ChannelFailed as exc:
            failure = exc
            rows.record_failed(cur, channel.name, kind, upto=pending["last_id"], events=pending["count"], at=now,
                               error=str(exc))
        else:
            rows.record_sent(cur, channel.name, kind, upto=pending["last_id"], events=pending["count"], at=now,
                             body=message.text)
    if failure is not None:
        raise failure
    log.info("alert %s sent via %s (%s events)", kind, channel.name, pending["count"])
    return pending["count"]
