"""`connector woo …`: the shop's side of the connection."""
from __future__ import annotations

import click

from connector.cli.common import OperatorError


@click.group()
def woo():
    """The WooCommerce store."""


@woo.group()
def webhooks():
    """The webhooks the connector needs."""


@webhooks.command("ensure")
def webhooks_ensure():
    """Register the missing webhooks, re-activate disabled ones, with the connector's secret."""
    from connector.cli.check import public_url
    from connector.runtime import current
    from connector.woo import registration

    rt = current()
    url = public_url(rt.settings)
    if not url:
        raise OperatorError("CONNECTOR_PUBLIC_URL is not set: the webhooks need the receiver's public base URL "
                            "(e.g. https://connector.example.com). Fix: set it, then run this again.")
    secrets = rt.webhook_secrets()
    if not secrets:
        raise OperatorError("no webhook secret: set WOO_WEBHOOK_SECRET (or WOO_CONSUMER_SECRET), or "
                            "`connector credentials set woo`.")
    result = registration.ensure(rt.woo_client(), url=registration.delivery_url(url), secret=secrets[0])
    for what, topics in (("created", result.created), ("re-activated", result.reactivated),
                         ("secret replaced", result.resecured)):
        if topics:
            click.echo(f"{what}: {', '.join(topics)}")
    if not (result.created or result.reactivated or result.resecured):
        click.echo(f"every webhook is registered and active ({registration.delivery_url(url)})")
    elif result.reactivated:
        click.echo("orders placed while a webhook was off are fetched by the next poll (`connector poll` now)")
