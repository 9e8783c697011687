"""Sales tax, rate by rate: each tax line of the order credits its rate's account.

`[accounts.tax]` maps a rate to an account by the `rate_code` the order's `tax_lines[]` carry
(e.g. `"CA-QC-QST-2"`) or by its `rate_id` as a string; unmapped rates go to `tax_payable`. A
tax line's amount is its `tax_total` (items and fees) plus its `shipping_tax_total`, so a
return for each authority (federal GST and Québec QST, state and county) can be filed from the
ledger. Whatever `total_tax` holds beyond the tax lines (an order without them) goes to
`tax_payable`, as before.
"""
from __future__ import annotations

from connector.ledger.entry import Money, Part


def tax_account(line: dict, mapping):
    accounts = mapping.accounts
    return accounts.tax.get(line.get("rate_code") or "") or accounts.tax.get(str(line.get("rate_id"))) \
        or accounts.tax_payable


def tax_parts(order: dict, mapping, money: Money) -> list[Part]:
    parts, covered = [], money(0)
    for line in order["tax_lines"]:
        amount = money(line["tax_total"]) + money(line["shipping_tax_total"])
        covered += amount
        label = (line.get("label") or line.get("rate_code") or "sales tax").strip()
        parts.append(Part(mapping.account_number(tax_account(line, mapping)), -amount, label))
    rest = money(order["total_tax"]) - covered
    if rest:
        parts.append(Part(mapping.account_number(mapping.accounts.tax_payable), -rest, "sales tax"))
    return parts
