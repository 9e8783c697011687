"""The operator's commands: status, the story of an order, replay, requeue, resolve, reconcile, poll.

Each enqueues through tasks/ (the worker does the posting) or runs a service of connector/
in this process (replay, requeue and resolve are connector/operator_actions.py's, as the admin
pages' buttons are); tables and progress bars are drawn with rich.

Text read from the database (JDE's errors, WooCommerce's statuses and topics) is handed to rich
as `Text`, never as a markup string: `[/]` in it would crash the print, and `[red]x[/red]` must
show as it is stored.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click
from connector.cli.console import Console
from rich.progress import track
from rich.table import Table
from rich.text import Text

from connector.cli.common import (COUNT, DELIVERY_ID, ORDER_ID, IdsCommand, OperatorError, ordered_window,
                                  urls_of)
from connector.config import load_settings

console = Console()


def _runtime():
    from connector.runtime import current

    return current()   # a failure to load is reported in one line by the command group


def _table(title: str, columns: list[str], rows) -> Table:
    # A str title or cell would be read as markup; Text is printed as it is (escape() is not
    # enough: it doubles a trailing backslash).
    table = Table(title=Text(title, style="table.title"))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[Text("" if v is None else str(v)) for v in row])
    return table


def _dash(value) -> str:
    return "-" if value is None or value == "" else str(value)


@click.group()
def orders():
    """Orders as the connector knows them."""


@orders.command("show", cls=IdsCommand)
@click.argument("woo_id", type=ORDER_ID)
def orders_show(woo_id):
    """The whole story of order WOO_ID: deliveries, states, entries and every AIS call."""
    from connector.store import audit, journal_entries
    from connector.store import orders as order_rows

    rt = _runtime()
    source = rt.mapping.store.source
    with rt.db.transaction() as cur:
        order = order_rows.get(cur, source=source, woo_id=woo_id)
        if order is None:
            raise OperatorError(f"order {woo_id} is not known here. Fix: check the number, or fetch it from the "
                                "shop with `connector poll`.")
        deliveries = order_rows.deliveries_of(cur, source=source, woo_id=woo_id)
        entries = journal_entries.for_order(cur, order["id"])
        story = audit.for_subject(cur, "order", woo_id)
    console.print(Text.assemble((f"order {woo_id}", "bold"), f"  status {order['status']}  state ",
                                (str(order["state"]), "bold"),
                                f"  total {order['total']} {order['currency']}  batch {_dash(order['batch_number'])}  "
                                f"JDE document {_dash(order['document_number'])}  attempts {order['attempts']}"))
    if order["last_error"]:
        # JDE's own text, exceptionId included.
        console.print(Text.assemble(("last error:", "red"), " ", order["last_error"]))
    console.print(_table("Deliveries", ["id", "topic", "state", "received", "error"],
                         [(d["id"], d["topic"], d["state"], d["received_at"], d["error"]) for d in deliveries]))
    for entry in entries:
        console.print(_table(f"Journal entry {entry['batch_number']} ({entry['kind']}, {entry['state']}, "
                             f"GL date {entry['gl_date']}, document {entry['document_number'] or '-'})",
                             ["line", "account", "amount", "explanation"],
                             [(l["line"], l["account"], l["amount"], l["explanation"]) for l in entry["lines"]]))
    console.print(_table("Story (audit log)", ["when", "action", "outcome", "by", "ms", "detail"],
                         [(a["at"], a["action"], a["outcome"], a["actor"], a["duration_ms"],
                           a["detail"] or (json.dumps(a["response"], default=str)[:160] if a["response"] else ""))
                          for a in story]))


@orders.command("resolve", cls=IdsCommand)
@click.argument("woo_id", type=ORDER_ID)
@click.option("--reason", required=True, help="What was done in JDE, or why the order must not be posted.")
def orders_resolve(woo_id, reason):
    """Mark order WOO_ID resolved: settled by hand (fixed in JDE, or not to be posted). Only an
    order in needs_attention or failed; nothing is sent to JDE, and nothing posts it again."""
    from connector import operator_actions as actions

    problem = actions.reason_problem(reason)
    if problem:
        raise click.UsageError(f"--reason: {problem}")
    rt = _runtime()
    outcome = actions.resolve_order(rt.db, source=rt.mapping.store.source, woo_id=woo_id, reason=reason,
                                    actor=actions.shell_operator())
    if not outcome.done:
        raise OperatorError(f"order {woo_id} not resolved: {outcome.what}")
    console.print(Text(f"order {woo_id} {outcome.what}"))


@click.command(cls=IdsCommand)
@click.argument("woo_ids", type=ORDER_ID, nargs=-1)
@click.option("--failed", is_flag=True, help="Every order in `failed` or `needs_attention`.")
@click.option("--since", type=click.DateTime(), help="With --failed: only those changed since this date (UTC).")
def replay(woo_ids, failed, since):
    """Post orders again, safely: each batch is looked up in JDE before anything is sent."""
    # Judged before tasks/ is imported: importing it resolves the services.
    if not woo_ids and not failed:
        raise click.UsageError("name order ids, or use --failed")
    if since is not None:
        if not failed:
            # Silently ignored it would replay the named orders whatever their date.
            raise click.UsageError("--since selects among the --failed orders: use it with --failed")
        since = since.replace(tzinfo=timezone.utc)
        ordered_window(since, datetime.now(timezone.utc).replace(microsecond=0), first_name="--since",
                       last_name="now", fix="give a date in the past")
    from connector import operator_actions as actions
    from connector.store import orders as order_rows
    from tasks.workers import workers

    rt = _runtime()
    ids = list(woo_ids)
    if failed:
        with rt.db.transaction() as cur:
            ids += order_rows.failed_woo_ids(cur, since=since)
    handover, actor = workers(), actions.shell_operator()
    outcomes = [actions.replay_order(rt.db, handover, source=rt.mapping.store.source, woo_id=woo_id, actor=actor)
                for woo_id in track(ids, description="replaying", console=console, disable=len(ids) < 20)]
    console.print(_table("Replay", ["order", "queued", "what"],
                         [(o.subject, "yes" if o.done else "no", o.what) for o in outcomes]))


@click.command(cls=IdsCommand)
@click.argument("delivery_ids", type=DELIVERY_ID, nargs=-1, required=True)
def requeue(delivery_ids):
    """Send deliveries to the worker again: unfinished ones, and ones in error (their cause may be
    fixed). A processed one is left as it is."""
    from connector import operator_actions as actions
    from tasks.workers import workers

    rt = _runtime()
    outcomes = actions.requeue_deliveries(rt.db, workers(), list(delivery_ids), actor=actions.shell_operator())
    console.print(_table("Requeue", ["delivery", "what"], [(o.subject, o.what) for o in outcomes]))


@click.command()
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), help="First GL date.")
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last GL date.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--page-size", type=COUNT, default=1000, show_default=True, help="F0911 rows per data-service page.")
def reconcile(date_from, date_to, fmt, page_size):
    """Compare the JDE general ledger with the connector's records (default: the last 3 days)."""
    from datetime import timedelta

    from connector import reconciliation, reconciliation_report
    from connector.audit_trail import AuditTrail

    # Before the run is recorded: an inverted window would be read as "no discrepancy". Two
    # dates given are judged before anything is loaded; a default needs the store's time zone.
    if date_from and date_to:
        ordered_window(date_from.date(), date_to.date(), first_name="--from", last_name="--to")
    rt = _runtime()
    today = datetime.now(rt.mapping.store.timezone).date()
    start = date_from.date() if date_from else today - timedelta(days=3)
    end = date_to.date() if date_to else today
    ordered_window(start, end, first_name="--from" if date_from else "the default --from (3 days ago)",
                   last_name="--to" if date_to else "the default --to (today)")
    trail = AuditTrail(rt.db, "reconciliation", f"{start}..{end}")
    with console.status(f"reading F0911 for GL dates {start} to {end} …", spinner="dots") if fmt == "table" \
            else _nothing():
        run = reconciliation.reconcile(rt.db, rt.ais_client(trail.ais_call), rt.mapping, date_from=start,
                                       date_to=end, page_size=page_size)
    records = [reconciliation_report.record(i) for i in run.items]
    if fmt == "json":
        click.echo(json.dumps({"run": run.run_id, "from": str(start), "to": str(end), "ais_calls": run.ais_calls,
                               "jde_lines": run.jde_lines, "entries_checked": run.entries_checked,
                               "discrepancies": records}, indent=2))
    elif fmt == "csv":
        reconciliation_report.write_csv(records, sys.stdout)
    else:
        console.print(f"run {run.run_id}: GL dates {start} to {end}, {run.entries_checked} entries, "
                      f"{run.jde_lines} JDE debit lines, {run.ais_calls} AIS calls")
        if records:
            console.print(_table(f"{len(records)} discrepancies", ["kind", "batch", "order", "expected", "found",
                                                                   "detail"],
                                 [(r["kind"], r["batch"], r["order"], r["expected"], r["found"], r["detail"])
                                  for r in records]))
            console.print("`connector replay ORDER…` re-posts missing and unposted orders (after a lookup); "
                          "posted_twice, amount_differs and unknown_in_jde need a person in JDE.")
        else:
            console.print("[green]no discrepancy: every order is in the general ledger exactly once[/green]")
    sys.exit(1 if records else 0)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@click.command()
def poll():
    """Run one cycle of the polling bridge now (orders whose webhook never arrived)."""
    from connector import polling
    from tasks.enqueue import send
    from tasks.posting import post_order

    rt = _runtime()
    with console.status("polling WooCommerce …", spinner="dots"):
        result = polling.poll_orders(rt.db, rt.woo_client(), source=rt.mapping.store.source,
                                     posting_statuses=rt.mapping.posting.statuses,
                                     lease_seconds=rt.settings.lease_seconds, mapping=rt.mapping,
                                     on_page=lambda p: console.log(f"page {p.page}/{p.total_pages}: "
                                                                   f"{len(p.orders)} orders"))
    sent = sum(send(post_order, order_id) for order_id in result.ready)
    console.print(Text(f"{result.pages} page(s), {result.seen} orders seen, {result.stored} new or changed, "
                       f"{len(result.ready)} ready to post ({sent} sent to the worker); watermark {result.watermark}"))


@click.command()
@click.option("--failures", type=COUNT, default=10, show_default=True, help="How many of the latest failures to list.")
def status(failures):
    """Deliveries and orders by state, and the latest failures with their reasons."""
    import redis

    from connector.jde.breaker import BREAKER_KEY, Breaker, describe
    from connector.store import Database, deliveries, orders, sync_state
    from connector.webhook_upkeep import STATE_KEY

    urls = urls_of(load_settings())
    database = Database(urls.database_url, size=1)
    jde = describe(Breaker(redis.Redis.from_url(urls.redis_url, socket_connect_timeout=2), BREAKER_KEY).state())
    try:
        with database.transaction() as cur:
            delivery_counts = deliveries.counts_by_state(cur)
            order_counts = orders.counts_by_state(cur)
            latest = orders.latest_failures(cur, limit=failures)
            bad_deliveries = deliveries.latest_errors(cur, limit=failures)
            webhooks = sync_state.get(cur, STATE_KEY) or {}
    finally:
        database.close()
    console.print(Text(f"JDE: {jde}", style="bold red" if jde.startswith("unreachable") else ""))
    repair = webhooks.get("last_repair")
    if repair:
        done = "; ".join(f"{what} {', '.join(repair[what])}" for what in ("reactivated", "created", "resecured")
                         if repair.get(what))
        console.print(Text(f"webhooks: {done} at {repair['at'][:19]}"
                           + (f" (off since {repair['off_since'][:19]}; polled for that time)"
                              if repair.get("off_since") else "")))
    counts = [(what, state, n) for what, table in (("deliveries", delivery_counts), ("orders", order_counts))
              for state, n in sorted(table.items())]
    console.print(_table("State", ["what", "state", "count"], counts) if counts
                  else "no deliveries and no orders yet")
    if latest:
        table = _table("Latest order failures", ["order", "state", "attempts", "when", "reason"],
                       [(row["woo_id"], row["state"], row["attempts"], row["updated_at"].strftime("%Y-%m-%d %H:%M:%S"),
                         row["last_error"]) for row in latest])
        console.print(table)
    if bad_deliveries:
        console.print(_table("Latest deliveries that could not be used", ["delivery", "topic", "received", "reason"],
                             [(row["id"], row["topic"], row["received_at"].strftime("%Y-%m-%d %H:%M:%S"), row["error"])
                              for row in bad_deliveries]))
