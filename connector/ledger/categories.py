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
    accounts = mapping.accounts
    if not accounts.revenue_by_category:
        return [accounts.revenue for _ in order["line_items"]]
    known = categories or {}
    missing = [item["product_id"] for item in order["line_items"] if item["product_id"] and item["product_id"]
               not in known]
    if missing:
        raise ProductsUnknown(missing)
    chosen = []
    for item in order["line_items"]:
        slugs = set(known.get(item["product_id"]) or ())
        chosen.append(next((account for slug, account in accounts.revenue_by_category.items() if slug in slugs),
                           accounts.revenue))
    return chosen
