"""`connector ledger preview`: what would be posted for an order, touching nothing."""
from __future__ import annotations

import json
from pathlib import Path

import click

from connector.cli.common import OperatorError


def _read_json(path: str, what: str):
    from connector.woo.schemas import PayloadError, decode_json

    try:
        return decode_json(Path(path).read_bytes())
    except OSError as exc:
        raise OperatorError(f"cannot read {what} {path}: {exc.strerror}") from None
    except PayloadError as exc:
        raise OperatorError(f"{what} {path}: {exc}") from None


def _categories_from_list(products) -> dict[int, list[str]]:
    if not isinstance(products, list):
        raise OperatorError("--products must be a `GET /products` list (a JSON array)")
    return {int(p["id"]): [c["slug"] for c in p.get("categories") or []] for p in products
            if isinstance(p, dict) and "id" in p}


def _categories_from_store(settings, product_ids) -> dict[int, list[str]]:
    """Without --products: from the configured store's REST API (environment credentials only)."""
    from connector.vault import effective_woo
    from connector.woo.client import WooClient, WooError

    creds = effective_woo(settings, None)
    if not creds.store_url:
        raise OperatorError("revenue is mapped by product category: give --products (a `GET /products` list) or "
                            "set WOO_STORE_URL and its REST key")
    woo = WooClient(creds.store_url, creds.consumer_key or "", creds.consumer_secret or "", max_tries=1)
    try:
        return {pid: [c["slug"] for c in woo.product(pid).get("categories") or []] for pid in sorted(set(product_ids))}
    except WooError as exc:
        raise OperatorError(f"WooCommerce: {exc}. Fix: give --products instead") from None


@click.group()
def ledger():
    """The journal-entry rules."""


@ledger.command("preview")
@click.argument("order_json", type=click.Path(dir_okay=False))
@click.option("--refunds", "refunds_json", type=click.Path(dir_okay=False),
              help="A `GET /orders/{id}/refunds` list: the reversal of each refund in it.")
@click.option("--products", "products_json", type=click.Path(dir_okay=False),
              help="A `GET /products` list, for revenue by category (else the store's REST API).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def preview(order_json, refunds_json, products_json, fmt):
    """What the connector would post for ORDER_JSON (a webhook body or `GET /orders/{id}`)."""
    from connector.cli.console import Console
    from rich.markup import escape
    from rich.table import Table

    from connector.config import load_settings
    from connector.ledger import ProductsUnknown
    from connector.ledger.preview import preview as build
    from connector.mapping import load_mapping
    from connector.woo.schemas import PayloadError

    settings = load_settings(dotenv=True)
    mapping = load_mapping(settings.config_path)
    document = _read_json(order_json, "order")
    refunds = None
    if refunds_json:
        refunds = _read_json(refunds_json, "refunds")
        if not isinstance(refunds, list) or not all(isinstance(r, dict) and "id" in r for r in refunds):
            raise OperatorError("--refunds must be a `GET /orders/{id}/refunds` list (a JSON array of refunds)")
        if isinstance(document, dict):
            # Every refund of the list is previewed, whether or not this payload already names it
            # (the payload's refunds[] carry their totals negative).
            document = dict(document, refunds=[{"id": r["id"], "reason": r.get("reason") or "",
                                                "total": f"-{str(r.get('amount', '0')).lstrip('-')}"}
                                               for r in refunds])
    categories = _categories_from_list(_read_json(products_json, "products")) if products_json else None
    try:
        try:
            result = build(document, mapping, categories, refunds)
        except ProductsUnknown as exc:
            if products_json:
                raise OperatorError(f"--products lacks {exc}") from None
            result = build(document, mapping, _categories_from_store(settings, exc.product_ids), refunds)
    except PayloadError as exc:
        raise OperatorError(f"{order_json} / {refunds_json}: {exc}" if refunds_json else
                            f"order {order_json}: {exc}") from None
    if fmt == "json":
        click.echo(json.dumps({"entries": result["entries"], "refused": result["refused"]}, indent=2))
        return
    console = Console()
    if result["refused"]:
        console.print(f"[red]refused:[/red] {escape(result['refused'])}")
    if result.get("note"):
        console.print(escape(result["note"]))
    for entry in result["entries"]:
        table = Table(title=f"{entry['batch_number']} ({entry['kind']}) GL date {entry['gl_date']}, {entry['currency']}")
        for column, justify in (("account", "left"), ("debit", "right"), ("credit", "right"), ("explanation", "left")):
            table.add_column(column, justify=justify)
        for line in entry["lines"]:
            amount = line["amount"]
            debit, credit = (amount, "") if not amount.startswith("-") else ("", amount[1:])
            table.add_row(line["account"], debit, credit, escape(line["explanation"]))
        console.print(table)
