"""The REST API v3 routes (and the sandbox's own control routes), as plain functions.

Each takes the store and a Request and returns a Reply; the HTTP layer (server.py) does the
framing and the authentication. Collections page the WordPress way: `X-WP-Total`,
`X-WP-TotalPages`, `Link: <…page=N…>; rel="prev"|"next"`, and a page past the last one
answers 400 `rest_post_invalid_page_number` (orders, when there is anything to list).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlsplit

from sandbox.woo_orders import PRODUCTS
from sandbox.woo_store import catalog, refunds
from sandbox.woo_store.catalog import (CUSTOMER_NOT_FOUND, HIDDEN_FROM_ANY, ORDER_NOT_FOUND, ORDER_STATUSES,
                                       PAGE_TOO_LARGE, TOPIC_HOOKS, WEBHOOK_INVALID_DELIVERY_URL, WEBHOOK_INVALID_ID,
                                       WEBHOOK_INVALID_TOPIC, WEBHOOK_NOT_FOUND, WEBHOOK_STATUSES, invalid_param,
                                       parse_gmt, parse_query_date)
from sandbox.woo_store.store import WooStore


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]   # in the order given, as PHP sees them
    body: dict
    base_url: str                  # "http://host:port/"

    @property
    def params(self) -> dict:
        """Query and body parameters together (the body wins), like WP_REST_Request::get_param."""
        return dict(self.query) | self.body


@dataclass
class Reply:
    status: int
    body: object
    headers: list[tuple[str, str]] = field(default_factory=list)


class BadParam(Exception):
    def __init__(self, name: str, why: str, code: str = "rest_invalid_param"):
        super().__init__(why)
        self.body = invalid_param(name, why, code)


# -- parameters -------------------------------------------------------------------------

def _int(params: dict, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadParam(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} (inclusive) and {high} (inclusive)" if high else f"greater than or equal to {low}"
        raise BadParam(name, f"{name} must be {bound}", "rest_out_of_bounds")
    return value


def _choice(params: dict, name: str, default: str, choices) -> str:
    value = str(params.get(name) or default)
    if value not in choices:
        raise BadParam(name, f"{name} is not one of {', '.join(choices[:-1])} and {choices[-1]}.", "rest_not_in_enum")
    return value


def _bool(params: dict, name: str) -> bool:
    value = str(params.get(name, "")).lower()
    if value in ("", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise BadParam(name, f"{name} is not of type boolean.")


def _ids(params: dict, name: str) -> list[int]:
    raw = params.get(name)
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    try:
        return [int(item) for item in items if str(item).strip()]
    except ValueError:
        raise BadParam(name, f"{name}[0] is not of type integer.") from None


def _date(params: dict, name: str, gmt: bool):
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_query_date(str(raw), gmt=gmt)
    except ValueError:
        raise BadParam(name, "Invalid date.") from None


# -- paging -----------------------------------------------------------------------------

def _page(request: Request, items: list, route: str, *, strict: bool, render=lambda item: item) -> Reply:
    params = request.params
    per_page = _int(params, "per_page", 10, 1, 100)
    page = _int(params, "page", 1, 1)
    total = len(items)
    pages = math.ceil(total / per_page)
    if strict and total and page > pages:
        return Reply(400, PAGE_TOO_LARGE)
    headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
    if page > 1:
        headers.append(("Link", f'<{_page_url(request, route, min(page - 1, pages))}>; rel="prev"'))
    if pages > page:
        headers.append(("Link", f'<{_page_url(request, route, page + 1)}>; rel="next"'))
    return Reply(200, [render(item) for item in items[(page - 1) * per_page: page * per_page]], headers)


def _page_url(request: Request, route: str, page: int) -> str:
    """`add_query_arg('page', N, add_query_arg(urlencode_deep($query), rest_url($route)))`."""
    pairs, replaced = [], False
    for key, value in dict(request.query).items():   # PHP keeps the last of repeated keys
        if key == "page":
            value, replaced = str(page), True
        pairs.append(f"{quote_plus(key)}={quote_plus(str(value), safe='')}")
    if not replaced:
        pairs.append(f"page={page}")
    return f"{request.base_url}wp-json{route}?{'&'.join(pairs)}"


# -- orders -----------------------------------------------------------------------------

_ORDER_SORT = {"date": "date_created_gmt", "modified": "date_modified_gmt", "id": "id", "title": "date_created_gmt",
               "slug": "date_created_gmt"}


def list_orders(store: WooStore, request: Request) -> Reply:
    params = request.params
    gmt = _bool(params, "dates_are_gmt")
    windows = [(field, _date(params, name, gmt), later)
               for name, field, later in (("after", "date_created_gmt", True), ("before", "date_created_gmt", False),
                                          ("modified_after", "date_modified_gmt", True),
                                          ("modified_before", "date_modified_gmt", False))]
    statuses = _statuses(params)
    include = _ids(params, "include")
    exclude = set(_ids(params, "exclude"))
    customer = params.get("customer")
    orderby = _choice(params, "orderby", "date", ("date", "id", "include", "title", "slug", "modified"))
    descending = _choice(params, "order", "desc", ("asc", "desc")) == "desc"
    _int(params, "per_page", 10, 1, 100)
    _int(params, "page", 1, 1)

    def wanted(order: dict) -> bool:
        if order["status"] not in statuses or order["id"] in exclude:
            return False
        if include and order["id"] not in include:
            return False
        if customer not in (None, "") and str(order.get("customer_id")) != str(customer):
            return False
        for column, bound, later in windows:   # WP_Date_Query after/before: exclusive
            if bound is not None:
                value = parse_gmt(order.get(column))
                if value is None or (value <= bound if later else value >= bound):
                    return False
        return True

    orders = [order for order in store.order_snapshots() if wanted(order)]
    if orderby == "include" and include:
        orders.sort(key=lambda order: include.index(order["id"]))
    else:
        key = _ORDER_SORT.get(orderby, "date_created_gmt")
        # Ties broken by id in the same direction ("date ID"), so pages never overlap or skip.
        orders.sort(key=lambda order: (order.get(key) or "", order["id"]), reverse=descending)
    return _page(request, orders, "/wc/v3/orders", strict=True, render=store.render_order)


def _statuses(params: dict) -> set[str]:
    raw = params.get("status") or "any"
    names = raw if isinstance(raw, list) else str(raw).split(",")
    chosen = set()
    for name in (n.strip() for n in names if n.strip()):
        if name == "any":
            chosen |= set(ORDER_STATUSES) - HIDDEN_FROM_ANY
        elif name in ORDER_STATUSES:
            chosen.add(name)
        else:
            raise BadParam("status", f"status[0] is not one of any, {', '.join(ORDER_STATUSES)}.")
    return chosen


def get_order(store: WooStore, request: Request, order_id: str) -> Reply:
    order = store.order(int(order_id))
    return Reply(200, order) if order is not None else Reply(404, ORDER_NOT_FOUND)


# -- refunds (WC_REST_Order_Refunds_Controller, v2's with v3's create) ---------------------

def list_refunds(store: WooStore, request: Request, order_id: str) -> Reply:
    """`GET /orders/{id}/refunds`: the refund objects, newest first (an unknown order has none)."""
    context = _choice(request.params, "context", "view", ("view", "edit"))
    _int(request.params, "per_page", 10, 1, 100)
    _int(request.params, "page", 1, 1)
    return _page(request, store.refunds(int(order_id)), f"/wc/v3/orders/{order_id}/refunds", strict=False,
                 render=lambda refund: refunds.in_context(refund, context))


def get_refund(store: WooStore, request: Request, order_id: str, refund_id: str) -> Reply:
    context = _choice(request.params, "context", "view", ("view", "edit"))
    try:
        return Reply(200, refunds.in_context(store.refund(int(order_id), int(refund_id)), context))
    except refunds.RefundRefused as refused:
        return Reply(refused.status, refused.body)


def create_refund(store: WooStore, request: Request, order_id: str) -> Reply:
    """`POST /orders/{id}/refunds` (JSON body: amount, reason, line_items, api_refund, api_restock).

    The schema checks types first (`amount` and `reason` are strings: a JSON number is 400);
    `line_items`, read-only in the schema, is not checked there. Stock is not kept, so
    `api_restock` changes nothing. Answers 201 in the edit context: no `refunded_payment`.
    """
    params = request.params
    if params.get("id"):
        return Reply(400, catalog.error("woocommerce_rest_shop_order_refund_exists",
                                        "Cannot create existing shop_order_refund.", 400))
    for name in ("amount", "reason"):
        if params.get(name) is not None and not isinstance(params[name], str):
            raise BadParam(name, f"{name} is not of type string.", "rest_invalid_type")
    api_refund = _flag(params, "api_refund")
    _flag(params, "api_restock")
    try:
        refund = store.refund_order(int(order_id), amount=params.get("amount"), reason=params.get("reason") or "",
                                    line_items=_refund_lines(params.get("line_items")), api_refund=api_refund)
    except refunds.RefundRefused as refused:
        return Reply(refused.status, refused.body)
    # Not a typo: WooCommerce's create_item builds Location from the route pattern, unfilled.
    location = f"{request.base_url}wp-json/wc/v3/orders/(?P<order_id>[\\d]+)/refunds/{refund['id']}"
    return Reply(201, refunds.in_context(refund, "edit"), [("Location", location)])


def _flag(params: dict, name: str) -> bool:
    """A boolean parameter that defaults to true (rest_is_boolean's spellings)."""
    value = params.get(name)
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true"):
        return True
    if str(value).lower() in ("0", "false"):
        return False
    raise BadParam(name, f"{name} is not of type boolean.", "rest_invalid_type")


def _refund_lines(raw) -> list[dict]:
    """The request's lines as a list; the internal shape, keyed by item id, is accepted too."""
    if not raw:
        return []
    if isinstance(raw, dict):
        raw = [dict(line, id=key) for key, line in raw.items() if isinstance(line, dict)]
    if not isinstance(raw, list) or not all(isinstance(line, dict) for line in raw):
        # Sandbox only: WooCommerce does not check this read-only field and fails further in.
        raise BadParam("line_items", "line_items is not a list of objects.", "rest_invalid_type")
    return raw


# -- products ---------------------------------------------------------------------------

# The demo catalogue's categories (id, name, slug), as a shop's product categories.
CATEGORIES = {"music": (16, "Music"), "clothing": (17, "Clothing"), "accessories": (18, "Accessories"),
              "posters": (19, "Posters"), "decor": (20, "Decor")}
PRODUCT_CATEGORIES = {93: ["music"], 60: ["music"], 22: ["posters", "decor"], 31: ["decor"], 40: ["clothing"],
                      41: ["clothing", "accessories"], 57: ["accessories"]}


def _product(product_id: int, name: str, price) -> dict:
    return {"id": product_id, "name": name, "slug": name.lower().replace(" ", "-"), "type": "simple",
            "status": "publish", "price": str(price), "regular_price": str(price), "sale_price": "",
            "sku": f"SKU-{product_id}", "parent_id": 0, "date_modified_gmt": "2026-11-01T00:00:00",
            "categories": [{"id": CATEGORIES[slug][0], "name": CATEGORIES[slug][1], "slug": slug}
                           for slug in PRODUCT_CATEGORIES.get(product_id, [])]
            or [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}]}


def list_products(store: WooStore, request: Request) -> Reply:
    """The demo catalogue (the products the generated orders sell), as `GET /products` lists them."""
    products = [_product(*product) for product in PRODUCTS]
    return _page(request, sorted(products, key=lambda p: p["id"], reverse=True), "/wc/v3/products", strict=False)


def get_product(store: WooStore, request: Request, product_id: str) -> Reply:
    store.product_reads[int(product_id)] += 1
    found = next((p for p in PRODUCTS if p[0] == int(product_id)), None)
    if found is None:
        return Reply(404, catalog.error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404))
    return Reply(200, _product(*found))


# -- customers --------------------------------------------------------------------------

_CUSTOMER_SORT = {"id": lambda c: c["id"], "registered_date": lambda c: (c.get("date_created_gmt") or "", c["id"]),
                  "name": lambda c: (f"{c.get('first_name', '')} {c.get('last_name', '')}".lower(), c["id"]),
                  "include": lambda c: c["id"]}


def list_customers(store: WooStore, request: Request) -> Reply:
    params = request.params
    orderby = _choice(params, "orderby", "name", ("id", "include", "name", "registered_date"))
    descending = _choice(params, "order", "asc", ("asc", "desc")) == "desc"
    email = (params.get("email") or "").strip().lower()
    role = params.get("role") or "customer"
    include = _ids(params, "include")
    _int(params, "per_page", 10, 1, 100)
    _int(params, "page", 1, 1)
    customers = [c for c in store.customer_snapshots()
                 if (not email or (c.get("email") or "").lower() == email)
                 and (role == "all" or c.get("role", "customer") == role)
                 and (not include or c["id"] in include)]
    if orderby == "include" and include:
        customers.sort(key=lambda c: include.index(c["id"]), reverse=descending)
    else:
        customers.sort(key=_CUSTOMER_SORT[orderby], reverse=descending)
    return _page(request, customers, "/wc/v3/customers", strict=False, render=store.render_customer)


def get_customer(store: WooStore, request: Request, customer_id: str) -> Reply:
    customer = store.customer(int(customer_id))
    return Reply(200, customer) if customer is not None else Reply(404, CUSTOMER_NOT_FOUND)


# -- webhooks ---------------------------------------------------------------------------
# WC_REST_Webhooks_Controller (v3) is v2's, whose create/update/delete are v1's.

def _context_edit(params: dict) -> bool:
    """`context=edit` shows the secret (its schema context is edit only)."""
    return _choice(params, "context", "view", ("view", "edit")) == "edit"


def _strings(params: dict) -> None:
    """The schema's string fields: anything else is rest_invalid_type, before the controller runs."""
    for key in ("name", "status", "topic", "delivery_url", "secret"):
        if params.get(key) is not None and not isinstance(params[key], str):
            raise BadParam(key, f"{key} is not of type string.", "rest_invalid_type")


def _valid_url(url) -> bool:
    """wc_is_valid_url: an http or https URL with a host."""
    parts = urlsplit(url) if isinstance(url, str) else None
    return bool(parts and parts.scheme in ("http", "https") and parts.netloc)


def list_webhooks(store: WooStore, request: Request) -> Reply:
    status = _choice(request.params, "status", "all", ("all",) + WEBHOOK_STATUSES)
    with_secret = _context_edit(request.params)
    hooks = [w for w in store.deliverer.all() if status == "all" or w.status == status]
    return _page(request, sorted(hooks, key=lambda w: w.id, reverse=True), "/wc/v3/webhooks", strict=False,
                 render=lambda w: w.as_json(store.site_url, with_secret=with_secret))


def create_webhook(store: WooStore, request: Request) -> Reply:
    """Always active: create_item sets the status from a post status it has just set to
    'publish', whatever the request's `status` says. Pings the URL before answering."""
    params = request.params
    _strings(params)
    topic, url = params.get("topic"), params.get("delivery_url")
    if not isinstance(topic, str) or topic not in TOPIC_HOOKS:
        return Reply(400, catalog.error(WEBHOOK_INVALID_TOPIC, "Webhook topic is required and must be valid.", 400))
    if not _valid_url(url):
        return Reply(400, WEBHOOK_INVALID_DELIVERY_URL)
    webhook_id = store.add_webhook(topic, url, params.get("secret") or None, params.get("name") or None)
    document = store.deliverer.get(webhook_id).as_json(store.site_url, with_secret=True)
    return Reply(201, document, [("Location", f"{request.base_url}wp-json/wc/v3/webhooks/{webhook_id}")])


def get_webhook(store: WooStore, request: Request, webhook_id: str) -> Reply:
    with_secret = _context_edit(request.params)
    webhook = store.deliverer.get(int(webhook_id))
    return Reply(200, webhook.as_json(store.site_url, with_secret=with_secret)) if webhook \
        else Reply(400, WEBHOOK_INVALID_ID)


def update_webhook(store: WooStore, request: Request, webhook_id: str) -> Reply:
    """update_item: every field is changed only when given non-empty; the status is checked
    against the schema's enum first (WordPress answers rest_invalid_param before the
    controller runs). Answers in the edit context, secret included."""
    params = request.params
    _strings(params)
    if params.get("status"):
        _choice(params, "status", "active", WEBHOOK_STATUSES)
    if store.deliverer.get(int(webhook_id)) is None:
        return Reply(400, WEBHOOK_INVALID_ID)
    topic = params.get("topic")
    if topic and (not isinstance(topic, str) or topic not in TOPIC_HOOKS):
        return Reply(400, catalog.error(WEBHOOK_INVALID_TOPIC, "Webhook topic must be valid.", 400))
    if params.get("delivery_url") and not _valid_url(params["delivery_url"]):
        return Reply(400, WEBHOOK_INVALID_DELIVERY_URL)
    changes = {key: params[key] for key in ("name", "topic", "delivery_url", "secret", "status") if params.get(key)}
    webhook = store.update_webhook(int(webhook_id), **changes)
    if webhook is None:   # deleted meanwhile
        return Reply(400, WEBHOOK_INVALID_ID)
    return Reply(200, webhook.as_json(store.site_url, with_secret=True))


def delete_webhook(store: WooStore, request: Request, webhook_id: str) -> Reply:
    if not _bool(request.params, "force"):
        return Reply(501, catalog.error("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.",
                                        501))
    webhook = store.deliverer.remove(int(webhook_id))
    return Reply(200, webhook.as_json(store.site_url, with_secret=True)) if webhook else Reply(404, WEBHOOK_NOT_FOUND)


# -- sandbox control (no authentication) --------------------------------------------------

def sandbox_stats(store: WooStore, request: Request) -> Reply:
    return Reply(200, store.stats())


def sandbox_config(store: WooStore, request: Request) -> Reply:
    body = request.body
    try:
        return Reply(200, store.configure(drop_rate=body.get("drop_rate"),
                                          delivery_timeout=body.get("delivery_timeout")))
    except (TypeError, ValueError) as exc:
        return Reply(400, catalog.error("sandbox_invalid_config", str(exc), 400))


def sandbox_generate(store: WooStore, request: Request) -> Reply:
    body = request.body
    placed = store.generate(int(body.get("count", 10)), seed=body.get("seed"),
                            pending_share=float(body.get("pending_share", 0.3)), guests=float(body.get("guests", 0.3)))
    return Reply(200, {"orders": [order["id"] for order in placed]})


def sandbox_pay(store: WooStore, request: Request, order_id: str) -> Reply:
    try:
        return Reply(200, store.pay_order(int(order_id), status=request.body.get("status") or "processing"))
    except KeyError:
        return Reply(404, ORDER_NOT_FOUND)


def sandbox_update(store: WooStore, request: Request, order_id: str) -> Reply:
    try:
        return Reply(200, store.update_order(int(order_id), **request.body))
    except KeyError:
        return Reply(404, ORDER_NOT_FOUND)


def sandbox_disable_webhook(store: WooStore, request: Request, webhook_id: str) -> Reply:
    webhook = store.disable_webhook(int(webhook_id))
    return Reply(200, webhook.as_json(store.site_url)) if webhook else Reply(404, WEBHOOK_NOT_FOUND)


def sandbox_redirect_webhooks(store: WooStore, request: Request) -> Reply:
    url = request.body.get("delivery_url")
    if not _valid_url(url):
        return Reply(400, WEBHOOK_INVALID_DELIVERY_URL)
    return Reply(200, [w.as_json(store.site_url) for w in store.redirect_webhooks(url)])


def sandbox_flush(store: WooStore, request: Request) -> Reply:
    try:
        store.flush(float(request.body.get("timeout", 30)))
    except TimeoutError as exc:
        return Reply(504, catalog.error("sandbox_flush_timeout", str(exc), 504))
    return Reply(200, store.stats())


# (path pattern, {method: (handler, permission)}) — permission None: no authentication.
ROUTES = [
    (r"/wp-json/wc/v3/orders", {"GET": (list_orders, "list")}),
    (r"/wp-json/wc/v3/orders/(?P<order_id>\d+)", {"GET": (get_order, "view")}),
    (r"/wp-json/wc/v3/orders/(?P<order_id>\d+)/refunds",
     {"GET": (list_refunds, "list"), "POST": (create_refund, "create")}),
    (r"/wp-json/wc/v3/orders/(?P<order_id>\d+)/refunds/(?P<refund_id>\d+)", {"GET": (get_refund, "view")}),
    (r"/wp-json/wc/v3/products", {"GET": (list_products, "list")}),
    (r"/wp-json/wc/v3/products/(?P<product_id>\d+)", {"GET": (get_product, "view")}),
    (r"/wp-json/wc/v3/customers", {"GET": (list_customers, "list")}),
    (r"/wp-json/wc/v3/customers/(?P<customer_id>\d+)", {"GET": (get_customer, "view")}),
    (r"/wp-json/wc/v3/webhooks", {"GET": (list_webhooks, "list"), "POST": (create_webhook, "create")}),
    (r"/wp-json/wc/v3/webhooks/(?P<webhook_id>\d+)",
     {"GET": (get_webhook, "view"), "PUT": (update_webhook, "edit"), "POST": (update_webhook, "edit"),
      "PATCH": (update_webhook, "edit"), "DELETE": (delete_webhook, "delete")}),
    (r"/sandbox/stats", {"GET": (sandbox_stats, None)}),
    (r"/sandbox/config", {"POST": (sandbox_config, None)}),
    (r"/sandbox/generate", {"POST": (sandbox_generate, None)}),
    (r"/sandbox/flush", {"POST": (sandbox_flush, None)}),
    (r"/sandbox/orders/(?P<order_id>\d+)/pay", {"POST": (sandbox_pay, None)}),
    (r"/sandbox/orders/(?P<order_id>\d+)", {"POST": (sandbox_update, None)}),
    (r"/sandbox/webhooks/(?P<webhook_id>\d+)/disable", {"POST": (sandbox_disable_webhook, None)}),
    (r"/sandbox/webhooks/redirect", {"POST": (sandbox_redirect_webhooks, None)}),
]
