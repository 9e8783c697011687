"""An order's page: its story, entries (or, before posting, the preview) and refunds."""
from __future__ import annotations

from flask import abort, current_app

from connector.ledger import reversals
from connector.store import audit, journal_entries
from connector.store import orders as order_rows
from connector.store import refunds as refund_rows
from web.admin.auth import login_required
from web.admin.blueprint import bp
from web.admin.pages import page


@bp.get("/orders/<int:woo_id>")
@login_required
def order(woo_id: int):
    runtime = current_app.config["RUNTIME"]
    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        row = order_rows.get(cur, source=source, woo_id=woo_id)
        if row is None:
            abort(404)
        deliveries = order_rows.deliveries_of(cur, source=source, woo_id=woo_id)
        entries = journal_entries.for_order(cur, row["id"])
        by_batch = {e["batch_number"]: e for e in entries}
        refunds = [dict(r, entry=by_batch.get(reversals.refund_batch(woo_id, r["refund_id"])))
                   for r in refund_rows.rows_of_order(cur, row["id"])]
        story = audit.for_subject(cur, "order", woo_id)
        preview = None if entries else _preview(cur, runtime, row)
    return page(f"Order {woo_id}", "admin/order.html", o=row, deliveries=deliveries, entries=entries, story=story,
                 preview=preview, refunds=refunds)


def _preview(cur, runtime, row) -> dict:
    """What would be posted for an order not posted yet (the ledger rules, no JDE call)."""
    from connector.ledger import ProductsUnknown
    from connector.ledger.preview import preview
    from connector.store import products as product_rows
    from connector.woo.schemas import PayloadError

    payload = row["payload"]
    ids = [item.get("product_id") for item in payload.get("line_items") or [] if isinstance(item, dict)]
    categories = product_rows.categories_of(cur, source=row["source"], woo_ids=[i for i in ids if isinstance(i, int)])
    records = refund_rows.payloads_of_order(cur, row["id"])
    try:
        return preview(payload, runtime.mapping, categories, records)
    except ProductsUnknown as exc:
        return {"entries": [], "refused": f"not yet: {exc}"}
    except PayloadError as exc:
        return {"entries": [], "refused": str(exc)}
