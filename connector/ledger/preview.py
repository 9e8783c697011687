"""What the connector would post for an order, without posting: `connector ledger preview`
and the admin order page. Touches neither Postgres, Redis nor JDE."""
from __future__ import annotations

from decimal import Decimal

from connector.ledger import reversals
from connector.ledger.entry import NothingToPost, NotPostable
from connector.ledger.sale import journal_entry
from connector.woo.schemas import load_order


def _entry(entry, kind: str) -> dict:
    return {"batch_number": entry.batch_number, "kind": kind, "gl_date": entry.gl_date.isoformat(),
            "currency": entry.currency,
            "lines": [{"account": line.account_number, "amount": str(line.amount), "explanation": line.explanation}
                      for line in entry.lines]}


def preview(document: dict, mapping, categories=None) -> dict:
    """{"entries": [...], "refused": None | the reason} for an order payload (`GET /orders/{id}`).

    Raises PayloadError when the document is no order; ProductsUnknown when revenue is mapped
    by category and a product's categories are not given.
    """
    order = load_order(document)
    try:
        sale = journal_entry(order, mapping, categories)
    except NothingToPost as exc:
        return {"entries": [], "refused": None, "note": str(exc)}
    except NotPostable as exc:
        return {"entries": [], "refused": str(exc)}
    entries = [_entry(sale, "sale")]
    sale_lines = [(line.account_number, line.amount) for line in sale.lines]
    try:
        for reversal in reversals.due(order, set(), sum((a for _, a in sale_lines if a > 0), Decimal(0))):
            entries.append(_entry(reversals.reversing_entry(reversal, sale_lines, order, mapping), reversal.kind))
    except NotPostable as exc:
        return {"entries": entries, "refused": str(exc)}
    return {"entries": entries, "refused": None}
