"""`connector …`: the operator's shell entry point, a module per command group.

Like web/, this is an adapter: it may start the embedded services and the sandbox, and
enqueue through tasks/ (replay, requeue). It is the one part of connector/ that may import
tasks/ and sandbox/. The work itself lives in connector/.
"""
from __future__ import annotations

import logging

import click

from connector.cli.common import one_line


class _Commands(click.Group):
    """Expected failures in one line and exit 2; the traceback only with --debug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # A bad option or date: one line, with where to read more — the help of the command
            # that refused it when click knows it (`connector orders show`, not `connector orders`).
            where = exc.ctx.command_path if exc.ctx is not None and exc.ctx.parent is not None else \
                " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
            click.secho(f"{exc.format_message()} (see `{where} --help`)", fg="red", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            line = one_line(exc)
            if line is None or ctx.params.get("debug"):
                raise
            click.secho(line, fg="red", err=True)
            ctx.exit(2)


@click.group(cls=_Commands)
@click.option("--debug", is_flag=True, envvar="CONNECTOR_DEBUG", help="Show tracebacks of expected failures too.")
def main(debug):
    """WooCommerce → JD Edwards connector."""
    # Warnings of the code a command runs, on stderr in the processes' format (stdout is the
    # command's own output: tables, CSV, JSON).
    from connector import logs

    logs.configure(logging.WARNING, stream="stderr")


def _register() -> None:
    from connector.cli.alerts import alerts
    from connector.cli.check import check
    from connector.cli.credentials import credentials
    from connector.cli.ledger import ledger
    from connector.cli.operations import orders, poll, reconcile, replay, requeue, status
    from connector.cli.sandbox import sandbox
    from connector.cli.services import db, run, services
    from connector.cli.woo import woo

    for command in (db, services, run, status, check, sandbox, credentials, woo, ledger, orders, poll, reconcile,
                    replay, requeue, alerts):
        main.add_command(command)


_register()
