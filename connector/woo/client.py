"""WooCommerce REST API v3 client: orders for the polling bridge, webhooks to keep them registered.

HTTP Basic auth with the consumer key and secret (the store must be on HTTPS outside the
sandbox). Reads are retried with exponential backoff and full jitter on timeouts,
connection errors and 5xx; a 4xx is a configuration problem and is raised at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import backoff
import requests

ORDERS_PATH = "wp-json/wc/v3/orders"
PRODUCTS_PATH = "wp-json/wc/v3/products"
WEBHOOKS_PATH = "wp-json/wc/v3/webhooks"
MAX_PER_PAGE = 100


class WooError(Exception):
    """The store refused a request (4xx) or stayed unreachable; the message says which."""


class _Transient(Exception):
    pass


@dataclass(frozen=True)
class OrdersPage:
    raw: bytes                 # the page's body as sent (PHP-encoded JSON array)
    orders: list               # decoded documents
    page: int
    total_pages: int
    total: int


class WooClient:
    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str, *,
                 http: requests.Session | None = None, timeout=(5, 60), max_tries: int = 5):
        self.base = store_url.rstrip("/") + "/"
        self.http = http or requests.Session()
        self.http.auth = (consumer_key, consumer_secret)
        self.timeout = timeout
        self.max_tries = max_tries

    def __repr__(self):   # never the secret
        return f"WooClient({self.base!r})"

    def orders_modified_after(self, after: datetime, *, page: int, per_page: int = MAX_PER_PAGE) -> OrdersPage:
        """One page of orders modified strictly after `after` (UTC), oldest change first."""
        params = {
            "modified_after": after.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
            "per_page": min(per_page, MAX_PER_PAGE), "page": page,
        }
        response = self._get(ORDERS_PATH, params)
        from connector.woo.schemas import decode_json

        orders = decode_json(response.content) if response.content else []
        if not isinstance(orders, list):
            raise WooError(f"{self.base}{ORDERS_PATH} answered something other than a list of orders")
        return OrdersPage(raw=response.content, orders=orders, page=page,
                          total_pages=int(response.headers.get("X-WP-TotalPages") or 1),
                          total=int(response.headers.get("X-WP-Total") or len(orders)))

    def list(self, path: str, **params) -> list:
        """One page of a collection (`per_page` up to 100)."""
        value = self._get(path, params).json()
        if not isinstance(value, list):
            raise WooError(f"{self.base}{path} answered something other than a list")
        return value

    def product(self, product_id: int) -> dict:
        """`GET /products/{id}` (the categories of a line item's product)."""
        value = self._get(f"{PRODUCTS_PATH}/{int(product_id)}", {}).json()
        if not isinstance(value, dict):
            raise WooError(f"{self.base}{PRODUCTS_PATH}/{product_id} answered something other than a product")
        return value

    def refunds(self, order_id: int) -> list[dict]:
        """Every refund of an order (`GET /orders/{id}/refunds`, all pages), as WooCommerce sent them."""
        from connector.woo.schemas import decode_json

        path, found, page = f"{ORDERS_PATH}/{int(order_id)}/refunds", [], 1
        while True:
            response = self._get(path, {"per_page": MAX_PER_PAGE, "page": page})
            refunds = decode_json(response.content) if response.content else []
            if not isinstance(refunds, list):
                raise WooError(f"{self.base}{path} answered something other than a list of refunds")
            found += refunds
            if page >= int(response.headers.get("X-WP-TotalPages") or 1) or len(refunds) < MAX_PER_PAGE:
                return found
            page += 1

    def webhooks(self) -> list[dict]:
        """Every webhook of the store (all statuses), newest first."""
        found, page = [], 1
        while True:
            # context=edit: WooCommerce shows a webhook's secret only there.
            batch = self.list(WEBHOOKS_PATH, status="all", context="edit", per_page=MAX_PER_PAGE, page=page)
            found += batch
            if len(batch) < MAX_PER_PAGE:
                return found
            page += 1

    def create_webhook(self, document: dict) -> dict:
        return self._request("POST", WEBHOOKS_PATH, document=document).json()

    def update_webhook(self, webhook_id: int, changes: dict) -> dict:
        return self._request("PUT", f"{WEBHOOKS_PATH}/{int(webhook_id)}", document=changes).json()

    def _get(self, path: str, params: dict) -> requests.Response:
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, *, params: dict | None = None,
                 document: dict | None = None) -> requests.Response:
        """Reads are retried with backoff on timeouts, connection errors and 5xx; a write never is
        (a repeated POST would register a webhook twice)."""
        def attempt():
            try:
                response = self.http.request(method, self.base + path, params=params, json=document,
                                             timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise _Transient(f"{type(exc).__name__}") from None
            if response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}")
            return response

        retrying = backoff.on_exception(backoff.expo, _Transient, max_tries=self.max_tries if method == "GET" else 1,
                                        jitter=backoff.full_jitter)
        try:
            response = retrying(attempt)()
        except _Transient as exc:
            raise WooError(f"WooCommerce at {self.base} unreachable: {exc}") from None
        if response.status_code >= 400:
            raise WooError(f"WooCommerce answered {response.status_code} for {method} {path}: {_detail(response)}")
        return response


def _detail(response) -> str:
    try:
        body = response.json()
        return str(body.get("message", "")) if isinstance(body, dict) else ""
    except ValueError:
        return response.text[:200]
