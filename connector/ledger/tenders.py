"""What paid the order: the clearing account of the payment method, gift cards, gateway fees.

- The payment method's clearing account (`[accounts.clearing]`, else its `default`) is debited
  with the order total: what the gateway owes.
- Gift cards (the WooCommerce Gift Cards extension's `gift_cards[]`, `{id, code, amount}`)
  paid part of it: `[accounts] gift_cards`, the liability for cards sold, is debited with the
  redeemed amounts. The order's `total` is what is left to pay, which goes to clearing.
- The gateway's fee (`[posting.fee_meta]`: payment method → the order meta key holding it,
  default `stripe = "_stripe_fee"`; WooPayments writes `_wcpay_transaction_fee`, PayPal
  Payments `_ppcp_paypal_fees` with `paypal_fee.value`): when `[accounts] payment_fees` is
  mapped, the fee debits it and credits clearing, so clearing holds what the gateway pays
  out. A fee in another currency than the order's is not booked (`GatewayFee.skipped` says
  why). A fee that appears only after the sale was posted (the gateway reports it later)
  becomes its own entry, `WC-<order>-F`.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from connector.ledger.entry import JournalEntry, Money, NotPostable, Part, assemble

# The meta key of a fee's currency, for the gateways that keep it beside the fee.
CURRENCY_KEYS = {"_stripe_fee": "_stripe_currency", "_wcpay_transaction_fee": "_wcpay_intent_currency"}


@dataclass(frozen=True)
class GatewayFee:
    amount: Decimal
    key: str
    skipped: str | None = None     # why it is not booked


def meta(order: dict, key: str):
    for item in order.get("meta_data") or []:
        if isinstance(item, dict) and item.get("key") == key:
            return item.get("value")
    return None


def gateway_fee(order: dict, mapping, money: Money) -> GatewayFee | None:
    """The gateway's fee on the order, if its payment method has one in the payload."""
    key = mapping.posting.fee_meta.get(order.get("payment_method") or "")
    value = meta(order, key) if key else None
    if value in (None, ""):
        return None
    currency = None
    if isinstance(value, dict):           # PayPal Payments: {"paypal_fee": {"value", "currency_code"}, …}
        fee = value.get("paypal_fee") or {}
        value, currency = fee.get("value"), fee.get("currency_code")
    elif key in CURRENCY_KEYS:
        currency = meta(order, CURRENCY_KEYS[key])
    try:
        amount = money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return GatewayFee(Decimal(0), key, f"order meta {key} = {value!r} is not an amount")
    if currency and str(currency).upper() != (order.get("currency") or "").upper():
        return GatewayFee(amount, key, f"the gateway fee {amount} is in {str(currency).upper()}, not in the order's "
                                       f"{order.get('currency')}: not booked")
    return GatewayFee(amount, key)


def tender_parts(order: dict, mapping, money: Money) -> tuple[list[Part], GatewayFee | None]:
    accounts = mapping.accounts
    clearing = accounts.clearing_for(order.get("payment_method"))
    if clearing is None:   # unreachable with a validated mapping (it requires a default)
        raise NotPostable(f"no clearing account for payment method {order.get('payment_method')!r}")
    clearing_number = mapping.account_number(clearing)
    parts = [Part(clearing_number, money(order["total"]), "payment")]
    redeemed = money.sum(card.get("amount") for card in order.get("gift_cards") or [])
    if redeemed:
        if accounts.gift_cards is None:
            raise NotPostable(f"the order was paid {redeemed} by gift card: map [accounts] gift_cards (the "
                              "gift-card liability) to post it")
        parts.append(Part(mapping.account_number(accounts.gift_cards), redeemed, "gift cards"))
    fee = gateway_fee(order, mapping, money)
    if fee is not None and fee.skipped is None and fee.amount and accounts.payment_fees is not None:
        parts.append(Part(mapping.account_number(accounts.payment_fees), fee.amount, "gateway fee"))
        parts.append(Part(clearing_number, -fee.amount, "payment"))
    return parts, fee


def fee_batch(woo_id: int) -> str:
    return f"WC-{woo_id}-F"


def late_fee_entry(order: dict, mapping, sale_lines: list[tuple[str, Decimal]],
                   posted_batches: set[str]) -> JournalEntry | None:
    """The entry of a gateway fee the posted sale did not carry, or None."""
    accounts = mapping.accounts
    batch = fee_batch(order["id"])
    if accounts.payment_fees is None or batch in posted_batches:
        return None
    fees_number = mapping.account_number(accounts.payment_fees)
    if any(account == fees_number for account, _ in sale_lines):
        return None     # booked with the sale
    currency = (order.get("currency") or "").upper()
    money = Money(currency)
    fee = gateway_fee(order, mapping, money)
    if fee is None or fee.skipped is not None or not fee.amount:
        return None
    clearing = mapping.account_number(accounts.clearing_for(order.get("payment_method")))
    # Dated by the update that carried it, as a reversal is.
    when = dict(order, date_paid_gmt=order.get("date_modified_gmt") or order.get("date_paid_gmt"))
    return assemble([Part(fees_number, fee.amount, "gateway fee"), Part(clearing, -fee.amount, "gateway fee")],
                    woo_id=order["id"], batch=batch, mapping=mapping, order=order, currency=currency,
                    explanation=f"WooCommerce order {order.get('number') or order['id']} fee", when=when)
