"""Fixed facts of the sandbox shop: statuses, topics, time zone, dates, error bodies.

The store runs in UTC-3 (no daylight saving), like the REST documentation's examples: every
`date_x` field is `date_x_gmt` minus three hours. Dates are written the WordPress way, to
the second and without an offset.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
LOCAL_OFFSET = timedelta(hours=-3)   # store-local time = GMT - 3 h
LOCAL_ZONE = timezone(LOCAL_OFFSET)

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "trash", "checkout-draft", "auto-draft")
HIDDEN_FROM_ANY = frozenset({"trash", "checkout-draft", "auto-draft"})
PAID_STATUSES = frozenset({"processing", "completed"})
WEBHOOK_STATUSES = ("active", "paused", "disabled")
# Topic → the WordPress hooks WooCommerce attaches it to (shown in the webhook JSON).
TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
MAX_DELIVERY_FAILURES = 5   # the woocommerce_max_webhook_delivery_failures default


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def wp_date(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_gmt(text: str | None) -> datetime | None:
    """A `*_gmt` field (no offset, UTC) as an aware datetime."""
    return None if not text else datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def parse_query_date(text: str, *, gmt: bool) -> datetime:
    """A REST date parameter: ISO 8601; without an offset it is GMT or store-local per `dates_are_gmt`."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc if gmt else LOCAL_ZONE)
    return moment.astimezone(timezone.utc)


def with_local_dates(document: dict) -> dict:
    """A copy with every `date_x` written from its `date_x_gmt` in store-local time."""
    out = dict(document)
    for key, value in document.items():
        if key.startswith("date_") and key.endswith("_gmt"):
            moment = parse_gmt(value)
            out[key[:-4]] = None if moment is None else (moment + LOCAL_OFFSET).strftime("%Y-%m-%dT%H:%M:%S")
    return out


def error(code: str, message: str, status: int, **data) -> dict:
    return {"code": code, "message": message, "data": {"status": status, **data}}


def invalid_param(name: str, why: str, code: str = "rest_invalid_param") -> dict:
    """WordPress's answer to a parameter its schema rejects (`code`: why, e.g. rest_out_of_bounds)."""
    return error("rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: why},
                 details={name: {"code": code, "message": why, "data": None}})


NO_ROUTE = error("rest_no_route", "No route was found matching the URL and request method.", 404)
ORDER_NOT_FOUND = error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
CUSTOMER_NOT_FOUND = error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
# The webhooks controller names its errors after the post type shop_webhook. An unknown id is
# 400 "ID is invalid." on GET and PUT (prepare_item_for_response, update_item) but 404
# "Invalid ID." on DELETE (delete_item): WC_REST_Webhooks_V1_Controller, which v3 inherits.
WEBHOOK_INVALID_ID = error("woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.", 400)
WEBHOOK_NOT_FOUND = error("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
WEBHOOK_INVALID_TOPIC = "woocommerce_rest_shop_webhook_invalid_topic"
WEBHOOK_INVALID_DELIVERY_URL = error("woocommerce_rest_shop_webhook_invalid_delivery_url",
                                     "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
PAGE_TOO_LARGE = error("rest_post_invalid_page_number",
                       "The page number requested is larger than the number of pages available.", 400)
# 401 bodies by what the caller tried (WooCommerce's permission callbacks).
UNAUTHORIZED = {
    "list": error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401),
    "view": error("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.", 401),
    "create": error("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.", 401),
    "edit": error("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.", 401),
    "delete": error("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.", 401),
}
