"""`connector check`: the retailer's first command against the real systems."""
from __future__ import annotations

import json
import sys

import click

from connector.cli.common import Seconds

MARKS = {"ok": ("✓", "green"), "fail": ("✗", "red"), "warn": ("!", "yellow")}


def public_url(settings) -> str | None:
    """CONNECTOR_PUBLIC_URL, or the receiver of a running `connector run` of this checkout."""
    from connector import embedded

    return settings.public_url or embedded.recorded_sandbox(settings.var_dir).get("public_url")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=Seconds(), default=10.0, show_default=True, help="Seconds each check may take.")
def check(fmt, timeout):
    """Check the configuration against JDE and WooCommerce; exit 0 only when nothing fails."""
    from connector.checks import FAIL, run_checks
    from connector.config import load_settings

    settings = load_settings()
    results = run_checks(settings, timeout=timeout, public_url=public_url(settings))
    failed = any(r.status == FAIL for r in results)
    if fmt == "json":
        click.echo(json.dumps({"ok": not failed, "checks": [r.as_dict() for r in results]}, indent=2))
    else:
        for result in results:
            mark, colour = MARKS[result.status]
            line = f"{mark} {result.name}: {result.detail}" + (f" — fix: {result.fix}" if result.fix else "")
            click.secho(line, fg=colour if result.status != "ok" else None)
    sys.exit(1 if failed else 0)
