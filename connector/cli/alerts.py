"""`connector alerts …`: the alert channels (connector/alerts/)."""
from __future__ import annotations

import click

from connector.cli.common import OperatorError


@click.group()
def alerts():
    """Alerts by webhook (Slack-compatible) and e-mail."""


@alerts.command("test")
@click.pass_context
def alerts_test(ctx):
    """Send one test message to each configured channel; say per channel whether it went."""
    from connector.alerts.channels import ChannelFailed, configured
    from connector.alerts.digest import trial_message
    from connector.config import load_settings

    channels = configured(load_settings().alerts)
    if not channels:
        raise OperatorError("alerts: no channel is configured. Fix: set CONNECTOR_ALERT_WEBHOOK_URL, or "
                            "CONNECTOR_ALERT_EMAIL and SMTP_URL.")
    failed = False
    for channel in channels:
        label = f"alerts {channel.name} ({channel.where})"
        try:
            channel.send(trial_message(channel.name))
        except ChannelFailed as exc:
            failed = True
            click.secho(f"{label}: failed: {exc}. Fix: {channel.fix}.", fg="red", err=True)
        else:
            click.echo(f"{label}: sent")
    if failed:
        ctx.exit(2)
