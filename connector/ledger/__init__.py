"""Journal-entry rules: WooCommerce orders → balanced JDE journal entries.

A module per rule family: `entry` (the entry, its parts, batch numbers, GL dates), `sale`
(the sale entry, rounding), `tax` (per rate), `discounts` (net or gross, fees), `categories`
(revenue account per product category), `tenders` (clearing, gift cards, gateway fees),
`reversals` (refunds and cancellations). Every amount is a `Decimal` quantised to the
currency's places; debits are positive, credits negative, and an entry always sums to zero.
"""
from connector.jde.dates import julian
from connector.ledger.categories import ProductsUnknown
from connector.ledger.entry import (EXPLANATION_LENGTH, JournalEntry, JournalLine, Money, NothingToPost, NotPostable,
                                    batch_number, gl_date)
from connector.ledger.sale import journal_entry

__all__ = ["EXPLANATION_LENGTH", "JournalEntry", "JournalLine", "Money", "NothingToPost", "NotPostable",
           "ProductsUnknown", "batch_number", "gl_date", "journal_entry", "julian"]
