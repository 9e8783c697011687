"""Revenue by product category: the line item's account (and so its cost center).

`[accounts.revenue_by_category]` maps a WooCommerce product category slug to an account,
which may carry its own business unit. A line item takes the account of the first category, in
the mapping file's order, that its product belongs to; a product in none of them goes to
`revenue`. A line item's `product_id` is the parent product of a variation, whose categories
are the ones that count. Categories come from the products REST API (kept in the `products`
table); an order whose product is not known yet raises `ProductsUnknown`, so the posting waits
for them rather than booking to a fallback account silently.
"""
from __future__ import annotations


class ProductsUnknown(LookupError):
    """The categories of these products are not known yet."""

    def __init__(self, product_ids):
        self.product_ids = sorted(set(product_ids))
        super().__init__(f"the categories of product(s) {', '.join(map(str, self.product_ids))} are not known yet")


def item_accounts(order: dict, mapping, categories) -> list:
    """The revenue account of each line item, in order. `categories`: {product id: [slugs]}."""
    return [account_of(item["product_id"], mapping, categories, wanted=[i["product_id"] for i in order["line_items"]])
            for item in order["line_items"]]


def account_of(product_id: int, mapping, categories, *, wanted=()) -> object:
    """The revenue account of a product (`wanted`: every product the caller needs, all reported
    at once when some are unknown)."""
    accounts = mapping.accounts
    if not accounts.revenue_by_category:
        return accounts.revenue
    known = categories or {}
    missing = [p for p in (*wanted, product_id) if p and p not in known]
    if missing:
        raise ProductsUnknown(missing)
    slugs = set(known.get(product_id) or ())
    return next((account for slug, account in accounts.revenue_by_category.items() if slug in slugs),
                accounts.revenue)
