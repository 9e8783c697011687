"""Customers in the JDE Address Book (F0101), found before they are created.

Order of search: the stored cross-reference (no AIS call), then F01151 by email through
the data service (link, do not duplicate), else the AddCustomer orchestration. Emails are
stored and searched lower-cased: WooCommerce treats them case-insensitively, JDE compares
exactly.
"""
from __future__ import annotations

from connector.jde import inputs
from connector.jde.errors import AisError, AisRejected, AisUnavailable, AisWarning
from connector.ledger import NotPostable
from connector.store import customers as customer_rows

ALPHA_NAME_LENGTH = 40   # F0101.ALPH


def _email(order_or_customer: dict) -> str | None:
    email = (order_or_customer.get("email") or order_or_customer.get("billing", {}).get("email") or "").strip()
    return email.lower() or None


def alpha_name(billing: dict, fallback: str) -> str:
    """JDE's convention: 'Last, First', or the company name for a business customer."""
    company = (billing.get("company") or "").strip()
    last, first = (billing.get("last_name") or "").strip(), (billing.get("first_name") or "").strip()
    name = company or ", ".join(p for p in (last, first) if p) or fallback
    return name[:ALPHA_NAME_LENGTH]


def customer_input(billing: dict, email: str) -> dict:
    return {
        "AlphaName": alpha_name(billing, email), "SearchType": "C", "Email": email,
        "Phone": billing.get("phone") or "", "AddressLine1": billing.get("address_1") or "",
        "AddressLine2": billing.get("address_2") or "", "City": billing.get("city") or "",
        "State": billing.get("state") or "", "PostalCode": billing.get("postcode") or "",
        "Country": billing.get("country") or "", "TaxId": "",
    }


def find_by_email(ais, email: str) -> int | None:
    for row in ais.browse("F01151", columns=["AN8", "EMAL"], conditions=[("EMAL", "EQUAL", [email])],
                          page_size=10):
        return int(row["F01151_AN8"])
    return None


def ensure_customer(db, ais, mapping, *, source: str, woo_customer_id: int | None, billing: dict,
                    email: str | None) -> int:
    """The JDE address number of a customer, linking or creating the Address Book entry."""
    if not email:
        raise NotPostable("the order has no billing email, so its customer cannot be found in or added "
                          "to the JDE Address Book")
    with db.transaction() as cur:
        row = customer_rows.lock_for_posting(
            cur, source=source, woo_id=woo_customer_id or None, email=email,
            first_name=billing.get("first_name") or "", last_name=billing.get("last_name") or "")
        if row["address_number"]:
            return int(row["address_number"])
        address_number = find_by_email(ais, email)
        if address_number is None:
            address_number = _add_customer(ais, mapping, billing, email)
        customer_rows.set_address_number(cur, row["id"], address_number)
        return address_number


def _add_customer(ais, mapping, billing: dict, email: str) -> int:
    name = mapping.orchestrations.add_customer
    values = customer_input(billing, email)
    try:
        answer = ais.orchestrate(name, inputs.encode(values, input_format=mapping.orchestrations.input_format),
                                 summary=values)
        return int(answer["AddressNumber"])
    except AisError as exc:
        if not getattr(exc, "maybe_done", True):
            raise   # nothing reached JDE
        # It may have been added all the same (a timeout after the commit, a warning): look first.
        found = find_by_email(ais, email)
        if found is not None:
            return found
        if isinstance(exc, (AisRejected, AisWarning)):
            raise NotPostable(f"JDE did not add the customer {email} to the Address Book: {exc.text}") from None
        raise
    except (KeyError, TypeError, ValueError):
        found = find_by_email(ais, email)
        if found is None:
            raise AisUnavailable(f"{name} answered without an AddressNumber") from None
        return found


def known_address_number(cur, *, source: str, order: dict) -> int | None:
    """The stored cross-reference of an order's customer, without locking or calling JDE."""
    row = customer_rows.find(cur, source=source, woo_id=order.get("customer_id") or None, email=_email(order))
    return int(row["address_number"]) if row and row["address_number"] else None


def ensure_for_order(db, ais, mapping, *, source: str, order: dict) -> int:
    return ensure_customer(db, ais, mapping, source=source, woo_customer_id=order.get("customer_id") or None,
                           billing=order.get("billing") or {}, email=_email(order))


def ensure_for_customer_row(db, ais, mapping, customer_id: int) -> int | None:
    """`customer.created/updated`: create or link the Address Book entry of a registered customer."""
    with db.transaction() as cur:
        row = customer_rows.get_by_id(cur, customer_id)
    if row is None or row["deleted"]:
        return None
    if row["address_number"]:
        return int(row["address_number"])
    payload = row["payload"] or {}
    billing = dict(payload.get("billing") or {})
    billing.setdefault("first_name", row["first_name"] or "")
    billing.setdefault("last_name", row["last_name"] or "")
    return ensure_customer(db, ais, mapping, source=row["source"], woo_customer_id=row["woo_id"],
                           billing=billing, email=_email(payload) or (row["email"] or "").lower() or None)
