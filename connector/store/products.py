"""SQL of `products`: the shop's products and the category slugs revenue is mapped by."""
from __future__ import annotations

import json


def upsert(cur, *, source: str, product: dict) -> bool:
    """Store a product (a newer version replaces an older one); True when stored."""
    cur.execute(
        """
        INSERT INTO products (source, woo_id, categories, payload, date_modified_gmt)
        VALUES (%s, %s, %s::jsonb, %s::jsonb, %s)
        ON CONFLICT (source, woo_id) DO UPDATE SET
            categories = EXCLUDED.categories, payload = EXCLUDED.payload,
            date_modified_gmt = EXCLUDED.date_modified_gmt, updated_at = now()
        WHERE COALESCE(EXCLUDED.date_modified_gmt, 'infinity') >= COALESCE(products.date_modified_gmt, '-infinity')
        RETURNING woo_id
        """,
        (source, product["id"], json.dumps([c["slug"] for c in product["categories"]]),
         json.dumps(product, default=str), product.get("date_modified_gmt")),
    )
    return cur.fetchone() is not None


def categories_of(cur, *, source: str, woo_ids) -> dict[int, list[str]]:
    """{product id: [category slugs]} of the products held."""
    cur.execute("SELECT woo_id, categories FROM products WHERE source = %s AND woo_id = ANY(%s::bigint[])",
                (source, sorted(set(woo_ids))))
    return {row["woo_id"]: row["categories"] for row in cur.fetchall()}
