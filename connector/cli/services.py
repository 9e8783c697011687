"""`connector run`, `connector db …`, `connector services …`: the processes and their services."""
from __future__ import annotations

import os
import shlex
import sys

import click

from connector import embedded
from connector.cli.common import OperatorError, fail, urls_of
from connector.cli.sandbox import SANDBOX_WEBHOOK_SECRET
from connector.config import load_settings
from connector.mapping import MappingError, load_mapping
from connector.store import migrations

# One place for the process commands, shared with the Procfile's intent.
# The web server's settings live in web/server.py (why waitress: see there and the README).
WEB_COMMAND = "{python} -m web.server --bind {bind}"
WORKER_COMMAND = "{python} -m celery -A tasks worker --loglevel INFO --concurrency 2 --hostname worker@%h"
# --quiet: beat's banner is a dozen lines a start; what it says is logged in one (tasks/celery.py).
BEAT_COMMAND = "{python} -m celery -A tasks --quiet beat --loglevel INFO"
# Flower only behind basic auth (connector/flower_auth.py: FLOWER_BASIC_AUTH, or the sandbox login).
FLOWER_COMMAND = "{python} -m connector.flower_auth --idle-when-refused --address=127.0.0.1 --port={port}"
SANDBOX_AIS_COMMAND = "{python} -m sandbox.ais --port {port} --latency 0.05 --state-file {state}"
DEMO_COMMAND = "{python} -m connector.cli sandbox demo --url {url} --store-port {store_port} --source {source}"


@click.group()
def db():
    """Database schema."""


@db.command("reset")
@click.option("--sandbox", "sandbox_only", is_flag=True, required=True,
              help="Required: only a database whose postings went to the sandbox JDE is emptied.")
@click.confirmation_option(prompt="Empty every order, delivery, posting and Address Book link of this database?")
def db_reset(sandbox_only):
    """Empty a database that holds the sandbox's postings (credentials are kept)."""
    from connector import ledger_target
    from connector.store import Database, sync_state

    database = Database(urls_of(load_settings()).database_url, size=1)
    try:
        with database.transaction() as cur:
            stored = sync_state.get(cur, ledger_target.KEY)
            if stored is not None and stored.get("kind") != "sandbox":
                fail(f"refusing: this database holds postings made to {ledger_target.describe(stored)}, not the "
                     "sandbox's; they are the books' evidence.")
            # TRUNCATE, not DELETE: the audit log refuses row deletes by design.
            cur.execute("TRUNCATE deliveries, orders, journal_entries, customers, products, audit_log, sync_state, "
                        "reconciliation_runs, reconciliation_items RESTART IDENTITY CASCADE")
    finally:
        database.close()
    click.echo("emptied: the next `connector run` starts on a clean database")


@db.command("upgrade")
def db_upgrade():
    """Apply the numbered SQL migrations not applied yet (idempotent)."""
    settings = load_settings()
    applied = migrations.upgrade(urls_of(settings).database_url)
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@click.group()
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


def _port_free(name: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        # As the web server binds (SO_REUSEADDR): connections of a previous run in TIME_WAIT do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise OperatorError(f"port {port} is in use on 127.0.0.1 (another `connector run`, or another program). "
                                f"Fix: stop it, or choose another port ({name}=…).") from None


def _check_jde_target(settings, mapping, urls) -> None:
    from connector.runtime import Runtime

    runtime = Runtime(settings=settings, mapping=mapping, database_url=urls.database_url, redis_url=urls.redis_url)
    try:
        runtime.check_jde_target()
    finally:
        runtime.db.close()


@click.command()
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", 8000)), show_default="$PORT or 8000")
@click.option("--flower-port", default=5555, show_default=True)
@click.option("--demo/--no-demo", default=None,
              help="Feed the sandbox shop's order stream (default: on when running on the sandbox JDE).")
def run(port, flower_port, demo):
    """The whole product in one terminal: services, migrations, web, worker, beat (and the sandbox)."""
    settings = load_settings()
    try:
        mapping = load_mapping(settings.config_path)
    except MappingError as exc:
        fail(str(exc))
    for name, number in (("PORT", port), ("--flower-port", flower_port)):
        _port_free(name, number)
    started = []
    if settings.database_url and settings.redis_url:
        urls = urls_of(settings)
    else:
        click.echo("starting the embedded Postgres and Redis under var/ …")
        urls, started = embedded.start(settings.var_dir)
        urls = embedded.ServiceUrls(settings.database_url or urls.database_url,
                                    settings.redis_url or urls.redis_url)
    try:
        applied = migrations.upgrade(urls.database_url)
        click.echo(f"database ready ({len(applied)} migration(s) applied)")
        _check_jde_target(settings, mapping, urls)
        from connector.runner import fresh_metrics_dir

        metrics_dir = fresh_metrics_dir(settings.var_dir)   # web and worker's only (connector/runner.py)
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
            # Its ledger lives beside the embedded database, so a second `make run` finds the
            # postings of the first in both.
            processes["jde"] = SANDBOX_AIS_COMMAND.format(python=python, port=ais_port,
                                                          state=shlex.quote(str(settings.var_dir / "sandbox-jde.json")))
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

        sandbox_urls = {key: env[variable] for key, variable in (("ais_url", "SANDBOX_AIS_URL"),
                                                                 ("woo_url", "SANDBOX_WOO_URL")) if variable in env}
        if sandbox_urls:
            # The demo registers its webhooks to this receiver: `connector check` and the webhook
            # upkeep know it as the public URL.
            env.setdefault("CONNECTOR_PUBLIC_URL", f"http://127.0.0.1:{port}")
            embedded.record_sandbox(settings.var_dir, {**sandbox_urls, "public_url": env["CONNECTOR_PUBLIC_URL"]})
        code = run_processes(processes, env)
    finally:
        embedded.forget_sandbox(settings.var_dir)
        if started:
            click.echo(f"stopping the embedded {' and '.join(started)} …")
            embedded.stop(settings.var_dir, started)
    # Ctrl-C is how a developer stops the demo: that is a clean stop, not a failure.
    sys.exit(0 if code in (130, 143, -2, -15) else code)
