"""SQL of `journal_entries`: what the connector posted (or is posting) to JDE."""
from __future__ import annotations

import json
from decimal import Decimal

from connector.ledger.entry import JournalEntry, JournalLine


def save_pending(cur, *, order_id: int, entry, kind: str = "sale") -> None:
    """Record the entry before it is sent; a re-attempt refreshes it while it is not posted."""
    lines = [{"line": l.line_number, "account": l.account_number, "amount": str(l.amount),
              "explanation": l.explanation} for l in entry.lines]
    cur.execute(
        """
        INSERT INTO journal_entries (order_id, kind, batch_number, company, document_type, gl_date,
                                     currency, total_debit, lines, explanation, currency_mode)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)
        ON CONFLICT (batch_number) DO UPDATE SET
            company = EXCLUDED.company, document_type = EXCLUDED.document_type, gl_date = EXCLUDED.gl_date,
            currency = EXCLUDED.currency, total_debit = EXCLUDED.total_debit, lines = EXCLUDED.lines,
            explanation = EXCLUDED.explanation, currency_mode = EXCLUDED.currency_mode, updated_at = now()
        WHERE journal_entries.state = 'pending'
        """,
        (order_id, kind, entry.batch_number, entry.company, entry.document_type, entry.gl_date,
         entry.currency, entry.total_debit, json.dumps(lines), entry.explanation, entry.currency_mode),
    )


def entry_of(row):
    """The JournalEntry a recorded row holds, to send again exactly as recorded."""
    lines = tuple(JournalLine(line["line"], line["account"], Decimal(line["amount"]), line["explanation"])
                  for line in row["lines"])
    return JournalEntry(batch_number=row["batch_number"], company=row["company"], document_type=row["document_type"],
                        gl_date=row["gl_date"], currency=row["currency"],
                        explanation=row.get("explanation") or f"WooCommerce {row['batch_number']}",
                        lines=lines, currency_mode=row.get("currency_mode"))


def mark_posted(cur, *, batch_number: str, document_number, address_number) -> None:
    cur.execute(
        """
        UPDATE journal_entries SET state = 'posted', document_number = %s, address_number = %s,
                                   posted_at = COALESCE(posted_at, now()), updated_at = now()
        WHERE batch_number = %s
        """,
        (None if document_number is None else str(document_number), address_number, batch_number),
    )


def for_order(cur, order_id: int) -> list[dict]:
    cur.execute("SELECT * FROM journal_entries WHERE order_id = %s ORDER BY id", (order_id,))
    return cur.fetchall()


def reopen(cur, order_id: int) -> None:
    """Back to `pending` for a replay: each entry is looked up in JDE again (and re-posted only
    if it is not there)."""
    cur.execute("UPDATE journal_entries SET state = 'pending', updated_at = now() WHERE order_id = %s",
                (order_id,))


def batches(cur, order_id: int) -> set[str]:
    """Every batch recorded for an order, posted or not."""
    cur.execute("SELECT batch_number FROM journal_entries WHERE order_id = %s", (order_id,))
    return {row["batch_number"] for row in cur.fetchall()}


def posted_batches(cur, order_id: int) -> set[str]:
    cur.execute("SELECT batch_number FROM journal_entries WHERE order_id = %s AND state = 'posted'", (order_id,))
    return {row["batch_number"] for row in cur.fetchall()}


def posted_sale(cur, order_id: int):
    """The posted sale entry of an order (total_debit, lines), or None."""
    cur.execute("SELECT total_debit, lines FROM journal_entries WHERE order_id = %s AND kind = 'sale' "
                "AND state = 'posted'", (order_id,))
    return cur.fetchone()


def sale_total(cur, order_id: int):
    cur.execute("SELECT total_debit FROM journal_entries WHERE order_id = %s AND kind = 'sale' AND state = 'posted'",
                (order_id,))
    row = cur.fetchone()
    return None if row is None else row["total_debit"]
