"""SQL of the `customers` table: WooCommerce customer (or guest email) ↔ JDE address number."""
from __future__ import annotations

_NEWER = """
    (COALESCE(EXCLUDED.date_modified_gmt, '-infinity'), EXCLUDED.last_delivery_id)
  > (COALESCE(customers.date_modified_gmt, '-infinity'), COALESCE(customers.last_delivery_id, 0))
"""


def upsert(cur, *, source: str, customer: dict, payload_json: str, delivery_id: int):
    """Insert or update a registered customer; None when the payload is stale."""
    cur.execute(
        f"""
        INSERT INTO customers (source, woo_id, email, first_name, last_name, payload,
                               date_modified_gmt, last_delivery_id)
        VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s)
        ON CONFLICT (source, woo_id) WHERE woo_id IS NOT NULL DO UPDATE SET
            email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
            payload = EXCLUDED.payload, date_modified_gmt = EXCLUDED.date_modified_gmt,
            deleted = false, last_delivery_id = EXCLUDED.last_delivery_id, updated_at = now()
        WHERE {_NEWER}
        RETURNING id, woo_id, (xmax = 0) AS inserted
        """,
        (source, customer["id"], customer["email"] or None, customer["first_name"], customer["last_name"],
         payload_json, customer["date_modified_gmt"], delivery_id),
    )
    return cur.fetchone()


def mark_deleted(cur, *, source: str, woo_id: int, delivery_id: int) -> bool:
    cur.execute(
        """
        UPDATE customers SET deleted = true, last_delivery_id = %s, updated_at = now()
        WHERE source = %s AND woo_id = %s AND COALESCE(last_delivery_id, 0) < %s
        RETURNING id
        """,
        (delivery_id, source, woo_id, delivery_id),
    )
    return cur.fetchone() is not None


def lock_for_posting(cur, *, source: str, woo_id: int | None, email: str | None,
                     first_name: str, last_name: str):
    """The customer row of an order, created if missing, locked until the transaction ends.

    A registered customer is keyed by WooCommerce id, a guest by email. The lock makes two
    workers posting two orders of one new customer create one Address Book entry, not two.
    """
    if woo_id:
        cur.execute(
            """
            INSERT INTO customers (source, woo_id, email, first_name, last_name)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (source, woo_id) WHERE woo_id IS NOT NULL DO NOTHING
            """,
            (source, woo_id, email, first_name, last_name),
        )
        cur.execute("SELECT * FROM customers WHERE source = %s AND woo_id = %s FOR UPDATE", (source, woo_id))
    else:
        cur.execute(
            """
            INSERT INTO customers (source, woo_id, email, first_name, last_name)
            VALUES (%s, NULL, %s, %s, %s)
            ON CONFLICT (source, lower(email)) WHERE woo_id IS NULL DO NOTHING
            """,
            (source, email, first_name, last_name),
        )
        cur.execute("SELECT * FROM customers WHERE source = %s AND woo_id IS NULL AND lower(email) = lower(%s) "
                    "FOR UPDATE", (source, email))
    return cur.fetchone()


def set_address_number(cur, customer_id: int, address_number: int) -> None:
    cur.execute("UPDATE customers SET address_number = %s, updated_at = now() WHERE id = %s",
                (address_number, customer_id))


def get_by_id(cur, customer_id: int):
    cur.execute("SELECT * FROM customers WHERE id = %s", (customer_id,))
    return cur.fetchone()


def find(cur, *, source: str, woo_id: int | None, email: str | None):
    """A registered customer by WooCommerce id, a guest by email; no lock."""
    if woo_id:
        cur.execute("SELECT * FROM customers WHERE source = %s AND woo_id = %s", (source, woo_id))
    elif email:
        cur.execute("SELECT * FROM customers WHERE source = %s AND woo_id IS NULL AND lower(email) = lower(%s)",
                    (source, email))
    else:
        return None
    return cur.fetchone()
