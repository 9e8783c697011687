"""`connector …`: the operator's shell entry point.

Like web/, this is an adapter: it may start the embedded services and the sandbox, and
enqueue through tasks/ (replay, requeue). The work itself lives in connector/.
"""
from __future__ import annotations

import os
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
def run(port):
    """The whole product in one terminal: services, migrations, web, worker and beat."""
    settings = load_settings()
    try:
        load_mapping(settings.config_path)
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
        }
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
def status():
    """Counts of deliveries and orders by state."""
    from connector.store import Database
    from connector.store import deliveries, orders

    database = Database(_urls(load_settings()).database_url, size=1)
    with database.transaction() as cur:
        delivery_counts = deliveries.counts_by_state(cur)
        order_counts = orders.counts_by_state(cur)
    click.echo("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(delivery_counts.items())) or "none"))
    click.echo("orders:     " + (", ".join(f"{k} {v}" for k, v in sorted(order_counts.items())) or "none"))


from connector.credentials_cli import credentials  # noqa: E402  (last: it does not import this module)
main.add_command(credentials)
