"""What the connector would post for an order, without posting: `connector ledger preview`
and the admin order page. Touches neither Postgres, Redis nor JDE."""
from __future__ import annotations

from connector.ledger import reversals
from connector.ledger.entry import NothingToPost, NotPostable
from connector.ledger.sale import currency_of, journal_entry
from connector.woo.schemas import load_order, load_refund


def _entry(entry, kind: str) -> dict:
    return {"batch_number": entry.batch_number, "kind": kind, "gl_date": entry.gl_date.isoformat(),
            "currency": entry.currency,
            "lines": [{"account": line.account_number, "amount": str(line.amount), "explanation": line.explanation}
                      for line in entry.lines]}


def preview(document: dict, mapping, categories=None, refunds=None) -> dict:
    """{"entries": [...], "refused": None | the reason} for an order payload (`GET /orders/{id}`).

    `refunds`: the order's refund records (`GET /orders/{id}/refunds`), for the reversals of the
    refunds its payload names. Raises PayloadError when the document is no order (or a refund no
    refund); ProductsUnknown when revenue is mapped by category and a product's categories are
    not given.
    """
    order = load_order(document)
    records = {record["id"]: record for record in (load_refund(r) for r in refunds or [])}
    try:
        sale = journal_entry(order, mapping, categories)
    except NothingToPost as exc:
        return {"entries": [], "refused": None, "note": str(exc)}
    except NotPostable as exc:
        return {"entries": [], "refused": str(exc)}
    entries = [_entry(sale, "sale")]
    currency, mode = currency_of(order, mapping)
    try:
        plan = reversals.plan(order, [(line.account_number, line.amount) for line in sale.lines], [], records,
                              mapping, currency=currency, currency_mode=mode, categories=categories)
    except NotPostable as exc:
        return {"entries": entries, "refused": str(exc)}
    entries += [_entry(entry, kind) for kind, entry in plan.entries]
    notes = list(plan.notes)
    if plan.missing_refunds:
        notes.append(f"refund(s) {', '.join(map(str, plan.missing_refunds))} need WooCommerce's record of them "
                     "(`GET /orders/{id}/refunds`, --refunds) to be previewed")
    result = {"entries": entries, "refused": None}
    if notes:
        result["note"] = "; ".join(notes)
    return result
