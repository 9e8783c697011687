"""Alerts: tell a person, by a Slack-compatible webhook and/or e-mail, what needs one.

rules.py    the kinds (orders needing attention, webhooks WooCommerce disabled, JDE unreachable,
            reconciliation differences) and the scans that notice their facts
digest.py   the texts, from whitelisted fields only, and the window (one message per kind)
channels.py the webhook and SMTP senders
cycle.py    one cycle: scan, then send what is due (beat's `send_alerts`)
"""
from __future__ import annotations


def run(runtime, *, now=None) -> dict:
    """One alerting cycle for a process's runtime; a no-op when no channel is configured."""
    from connector.alerts import channels, cycle

    configured = channels.configured(runtime.settings.alerts)
    if not configured:
        return {"skipped": "alerts are off"}
    return cycle.run(runtime.db, configured, breaker_state=runtime.breaker.state(), alerts=runtime.settings.alerts,
                     public_url=runtime.settings.public_url, now=now)
