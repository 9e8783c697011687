"""`connector …`: the operator's shell entry point.

Like web/, this is an adapter: it may start the embedded services and the sandbox, and
enqueue through tasks/ (replay, requeue). The work itself lives in connector/.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys

import click

from connector import embedded
from connector.config import load_settings
from connector.mapping import MappingError, load_mapping
from connector.store import migrations

# One place for the process commands, shared with the Procfile's intent.
WEB_COMMAND = ("{python} -m gunicorn 'web.app:create_app()' --bind {bind} --worker-class gthread "
               "--workers 2 --threads 4 --access-logfile - --log-level info")
WORKER_COMMAND = "{python} -m celery -A tasks worker --loglevel INFO --concurrency 2 --hostname worker@%h"
BEAT_COMMAND = "{python} -m celery -A tasks beat --loglevel INFO"
FLOWER_COMMAND = "{python} -m celery -A tasks flower --address=127.0.0.1 --port={port}"
SANDBOX_AIS_COMMAND = "{python} -m sandbox.ais --port {port} --latency 0.05"
DEMO_COMMAND = "{python} -m connector.cli sandbox demo --url {url} --store-port {store_port} --source {source}"
# The demo store signs with this when no WOO_WEBHOOK_SECRET is set (sandbox only).
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"


def _fail(message: str):
    click.secho(message, fg="red", err=True)
    sys.exit(2)


def _urls(settings):
    try:
        return embedded.resolve_urls(settings)
    except embedded.ServicesNotRunning as exc:
        _fail(str(exc))


@click.group()
def main():
    """WooCommerce → JD Edwards connector."""


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply the numbered SQL migrations not applied yet (idempotent)."""
    settings = load_settings()
    applied = migrations.upgrade(_urls(settings).database_url)
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@main.group()
def services():
    """The embedded Postgres and Redis under var/ (used when DATABASE_URL / REDIS_URL are unset)."""


@services.command("start")
def services_start():
    """Start the embedded Postgres and Redis (or reuse the running ones)."""
    settings = load_settings()
    urls, started = embedded.start(settings.var_dir)
    click.echo(f"DATABASE_URL={urls.database_url}\nREDIS_URL={urls.redis_url}")
    click.echo(f"started: {', '.join(started) or 'none (already running)'}")


@services.command("stop")
def services_stop():
    """Stop the embedded Postgres and Redis."""
    embedded.stop(load_settings().var_dir)
    click.echo("stopped")


@services.command("status")
def services_status():
    """Whether the embedded services run, and their URLs."""
    for name, info in embedded.status(load_settings().var_dir).items():
        click.echo(f"{name}: {'running' if info['running'] else 'stopped'} {info.get('url') or ''}")


@main.command()
@click.option("--port", default=lambda: int(os.environ.get("PORT", 8000)), show_default="$PORT or 8000")
@click.option("--flower-port", default=5555, show_default=True)
@click.option("--demo/--no-demo", default=None,
              help="Feed the sandbox shop's order stream (default: on when running on the sandbox JDE).")
def run(port, flower_port, demo):
    """The whole product in one terminal: services, migrations, web, worker, beat (and the sandbox)."""
    settings = load_settings()
    try:
        mapping = load_mapping(settings.config_path)
    except MappingError as exc:
        _fail(str(exc))
    started = []
    if settings.database_url and settings.redis_url:
        urls = embedded.resolve_urls(settings)
    else:
        click.echo("starting the embedded Postgres and Redis under var/ …")
        urls, started = embedded.start(settings.var_dir)
        urls = embedded.ServiceUrls(settings.database_url or urls.database_url,
                                    settings.redis_url or urls.redis_url)
    try:
        applied = migrations.upgrade(urls.database_url)
        click.echo(f"database ready ({len(applied)} migration(s) applied)")
        metrics_dir = settings.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env = dict(os.environ, DATABASE_URL=urls.database_url, REDIS_URL=urls.redis_url,
                   PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), PYTHONUNBUFFERED="1")
        python = sys.executable
        processes = {
            "web": WEB_COMMAND.format(python=python, bind=f"127.0.0.1:{port}"),
            "worker": WORKER_COMMAND.format(python=python),
            "beat": BEAT_COMMAND.format(python=python),
            "flower": FLOWER_COMMAND.format(python=python, port=flower_port),
        }
        click.echo(f"Flower: http://127.0.0.1:{flower_port}/")
        if settings.sandbox:
            # No JDE configured: the sandbox AIS server stands in for it, on loopback.
            ais_port = embedded.free_port()
            env["SANDBOX_AIS_URL"] = f"http://127.0.0.1:{ais_port}"
            processes["jde"] = SANDBOX_AIS_COMMAND.format(python=python, port=ais_port)
            click.echo(f"sandbox JDE AIS server: {env['SANDBOX_AIS_URL']}  (tables: /sandbox/tables/F0911)")
        if demo or (demo is None and settings.sandbox):
            env.setdefault("WOO_WEBHOOK_SECRET", settings.woo_webhook_secrets[0] if settings.woo_webhook_secrets
                           else SANDBOX_WEBHOOK_SECRET)
            store_port = embedded.free_port()
            if not settings.woo_store_url:
                # The poller reads the sandbox store's REST API; its webhooks claim the
                # mapping's store identity, as a real shop's X-WC-Webhook-Source would.
                env["SANDBOX_WOO_URL"] = f"http://127.0.0.1:{store_port}/"
            processes["shop"] = DEMO_COMMAND.format(
                python=python, url=f"http://127.0.0.1:{port}/webhooks/woocommerce", store_port=store_port,
                source=shlex.quote(mapping.store.source))
        click.echo(f"admin: http://127.0.0.1:{port}/admin" + ("  (admin / sandbox unless `connector credentials "
                                                            "set admin` stored another)" if settings.sandbox else ""))
        click.echo(f"webhooks: http://127.0.0.1:{port}/webhooks/woocommerce  (Ctrl-C stops everything)")
        from connector.runner import run as run_processes

        code = run_processes(processes, env)
    finally:
        if started:
            click.echo(f"stopping the embedded {' and '.join(started)} …")
            embedded.stop(settings.var_dir, started)
    # Ctrl-C is how a developer stops the demo: that is a clean stop, not a failure.
    sys.exit(0 if code in (130, 143, -2, -15) else code)



@main.command()
@click.option("--failures", default=10, show_default=True, help="How many of the latest failures to list.")
def status(failures):
    """Deliveries and orders by state, and the latest failures with their reasons."""
    from rich.console import Console
    from rich.table import Table

    from connector.store import Database
    from connector.store import deliveries, orders

    import redis

    from connector.jde.breaker import BREAKER_KEY, Breaker, describe

    urls = _urls(load_settings())
    database = Database(urls.database_url, size=1)
    jde = describe(Breaker(redis.Redis.from_url(urls.redis_url, socket_connect_timeout=2), BREAKER_KEY).state())
    with database.transaction() as cur:
        delivery_counts = deliveries.counts_by_state(cur)
        order_counts = orders.counts_by_state(cur)
        latest = orders.latest_failures(cur, limit=failures)
        bad_deliveries = deliveries.latest_errors(cur, limit=failures)
    console = Console()
    console.print(f"JDE: {jde}", style="bold red" if jde.startswith("unreachable") else None, markup=False)
    counts = Table(title="State", show_lines=False)
    counts.add_column("what")
    counts.add_column("state")
    counts.add_column("count", justify="right")
    for what, table in (("deliveries", delivery_counts), ("orders", order_counts)):
        for state, n in sorted(table.items()):
            counts.add_row(what, state, str(n))
    console.print(counts if counts.row_count else "no deliveries and no orders yet")
    if latest:
        table = Table(title="Latest order failures")
        for column in ("order", "state", "attempts", "when", "reason"):
            table.add_column(column, overflow="fold")
        for row in latest:
            table.add_row(str(row["woo_id"]), row["state"], str(row["attempts"]),
                          row["updated_at"].strftime("%Y-%m-%d %H:%M:%S"), row["last_error"] or "")
        console.print(table)
    if bad_deliveries:
        table = Table(title="Latest deliveries that could not be used")
        for column in ("delivery", "topic", "received", "reason"):
            table.add_column(column, overflow="fold")
        for row in bad_deliveries:
            table.add_row(str(row["id"]), row["topic"], row["received_at"].strftime("%Y-%m-%d %H:%M:%S"),
                          row["error"] or "")
        console.print(table)


@main.group()
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
            _fail(str(exc))
    secrets = settings.woo_webhook_secrets
    demo.run(url, secrets[0] if secrets else SANDBOX_WEBHOOK_SECRET, interval=interval, count=count, seed=seed,
             store_port=store_port, source=source)


from connector.credentials_cli import credentials  # noqa: E402  (last: they do not import this module)
from connector.operator_cli import orders, poll, reconcile, replay, requeue  # noqa: E402

for command in (credentials, orders, poll, reconcile, replay, requeue):
    main.add_command(command)


if __name__ == "__main__":
    main()
