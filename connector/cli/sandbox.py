"""`connector sandbox …`: the stand-ins for JDE and WooCommerce, on loopback only."""
from __future__ import annotations

import click

from connector.cli.common import fail
from connector.config import load_settings
from connector.mapping import MappingError, load_mapping

# The demo store signs with this when no WOO_WEBHOOK_SECRET is set (sandbox only).
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"


@click.group()
def sandbox():
    """Stand-ins for JDE and WooCommerce, on loopback only."""


@sandbox.command("ais")
@click.option("--port", type=int, default=8070, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--latency", type=float, default=0.0, show_default=True, help="Seconds added to each AIS call.")
def sandbox_ais(port, seed, latency):
    """Run the sandbox JDE AIS server in the foreground."""
    from sandbox.ais import serve

    serve(port, seed=seed, latency=latency)


@sandbox.command("demo")
@click.option("--url", default="http://127.0.0.1:8000/webhooks/woocommerce", show_default=True)
@click.option("--store-port", type=int, default=0, help="Port of the sandbox store's REST API (0: any free one).")
@click.option("--source", default=None, help="The store's X-WC-Webhook-Source (default: the mapping's [store] source).")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between orders.")
@click.option("--count", type=int, default=None, help="Stop after this many orders.")
@click.option("--seed", type=int, default=None)
def sandbox_demo(url, store_port, source, interval, count, seed):
    """Run the sandbox WooCommerce store and its stream of orders, webhooks to the receiver."""
    from sandbox import demo

    settings = load_settings()
    if source is None:
        try:
            source = load_mapping(settings.config_path).store.source
        except MappingError as exc:
            fail(str(exc))
    secrets = settings.woo_webhook_secrets
    demo.run(url, secrets[0] if secrets else SANDBOX_WEBHOOK_SECRET, interval=interval, count=count, seed=seed,
             store_port=store_port, source=source)
