"""The HTTP side of the sandbox WooCommerce store: routing, Basic auth, PHP-encoded JSON.

Stdlib ThreadingHTTPServer like the sandbox AIS server. Every /wp-json route wants HTTP Basic
auth with the consumer key and secret (or `consumer_key`/`consumer_secret` query parameters);
/sandbox/* needs none. Answers are written the way PHP writes them (`\\/`, `\\uXXXX`).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import sys
import threading
from urllib.parse import parse_qsl, urlsplit

from sandbox.woo_store import rest
from sandbox.woo_store.catalog import NO_ROUTE, UNAUTHORIZED, error
from sandbox.woo_store.store import WooStore
from sandbox.loopback_http import Handler, Server
from sandbox.woo_webhooks import php_json_encode

_COMPILED = [(re.compile(pattern), methods) for pattern, methods in rest.ROUTES]


def _route(path: str):
    for pattern, methods in _COMPILED:
        match = pattern.fullmatch(path)
        if match:
            return methods, match.groupdict()
    return None, {}


class _Handler(Handler):
    def version_string(self) -> str:
        return "Apache"

    def _handle(self, method: str) -> None:
        raw = self._read_body()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        try:
            reply = self._dispatch(method, path, parse_qsl(parts.query, keep_blank_values=True), raw)
        except rest.BadParam as bad:
            reply = rest.Reply(400, bad.body)
        except Exception as exc:  # a sandbox bug: say so in the body rather than hang up
            reply = rest.Reply(500, error("internal_server_error", f"{type(exc).__name__}: {exc}", 500))
        try:
            self._send(reply)
        except OSError:
            self.close_connection = True

    def _dispatch(self, method: str, path: str, query: list, raw: bytes) -> rest.Reply:
        methods, params = _route(path)
        if methods is None or method not in methods:
            return rest.Reply(404, NO_ROUTE)
        handler, permission = methods[method]
        if permission is not None and not self._authorised(dict(query)):
            return rest.Reply(401, UNAUTHORIZED[permission])
        body = self._body(raw)
        if body is None:
            return rest.Reply(400, error("rest_invalid_json", "Invalid JSON body passed.", 400))
        request = rest.Request(method=method, path=path, query=query, body=body, base_url=self.server.store.site_url)
        return handler(self.server.store, request, **params)

    def _authorised(self, query: dict) -> bool:
        key, secret = self.server.credentials
        given = (query.get("consumer_key"), query.get("consumer_secret"))
        header = self.headers.get("Authorization") or ""
        if header[:6].lower() == "basic ":
            try:
                given = tuple(base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").split(":", 1))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return False
        if len(given) != 2 or None in given:
            return False
        return hmac.compare_digest(f"{given[0]}:{given[1]}".encode(), f"{key}:{secret}".encode())

    def _body(self, raw: bytes):
        if not raw.strip():
            return {}
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: rest.Reply) -> None:
        data = php_json_encode(reply.body)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Robots-Tag", "noindex")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(Server):
    def __init__(self, address, store: WooStore, credentials: tuple[str, str], verbose: bool):
        self.store, self.credentials = store, credentials
        super().__init__(address, _Handler, verbose)


class WooStoreServer:
    """A WooCommerce shop on loopback: `with WooStoreServer(seed=1) as shop: shop.url`.

    The store (`.store`) delivers webhooks from a background thread and answers the REST API
    here; the methods below are the store's, for convenience. `source_url` (a store option)
    makes `X-WC-Webhook-Source` a fixed identity instead of the listening address.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed=1, consumer_key: str = "ck_sandbox",
                 consumer_secret: str = "cs_sandbox", drop_rate: float = 0.0, delivery_timeout: float = 60.0,
                 first_order_id: int = 1000, verbose: bool = False, **store_options):
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.store = WooStore(seed=seed, first_order_id=first_order_id, drop_rate=drop_rate,
                              delivery_timeout=delivery_timeout, **store_options)
        self._address, self._verbose = (host, port), verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> "WooStoreServer":
        if self._stopped:
            raise RuntimeError("a stopped store does not start again: make a new WooStoreServer")
        if self._server is None:
            self._server = _Server(self._address, self.store, (self.consumer_key, self.consumer_secret),
                                   self._verbose)
            host, port = self._server.server_address[:2]
            self.store.site_url = f"http://{host}:{port}/"
            self._thread = self._server.serve_in_background(f"woo-store-{port}")
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._address[1]

    @property
    def url(self) -> str:
        """The site URL with its trailing slash: what `X-WC-Webhook-Source` says."""
        if self._server is None:
            raise RuntimeError("the store is not started")
        return self.store.site_url

    @property
    def source(self) -> str:
        """What `X-WC-Webhook-Source` says: `url`, unless the store was given a `source_url`."""
        return self.store.source_url or self.url

    @property
    def auth(self) -> tuple[str, str]:
        return self.consumer_key, self.consumer_secret

    def stop(self) -> None:
        """Stop serving and delivering (queued deliveries are abandoned)."""
        self._stopped = True
        if self._server is not None:
            self._server.stop_serving(self._thread)
            self._server = self._thread = None
        self.store.close()

    def __enter__(self) -> "WooStoreServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the store's API ---------------------------------------------------------------------

    def add_webhook(self, topic: str, delivery_url: str, secret: str | None = None, name: str | None = None,
                    **options) -> int:
        return self.store.add_webhook(topic, delivery_url, secret, name, **options)

    def update_webhook(self, webhook_id: int, **changes):
        return self.store.update_webhook(webhook_id, **changes)

    def disable_webhook(self, webhook_id: int):
        """Sandbox convenience (also POST /sandbox/webhooks/{id}/disable): `disabled` at once."""
        return self.store.disable_webhook(webhook_id)

    def redirect_webhooks(self, delivery_url: str) -> list:
        """Sandbox convenience (also POST /sandbox/webhooks/redirect): every webhook to one URL."""
        return self.store.redirect_webhooks(delivery_url)

    def place_order(self, document: dict, **options) -> dict:
        return self.store.place_order(document, **options)

    def update_order(self, order_id: int, **changes) -> dict:
        return self.store.update_order(order_id, **changes)

    def pay_order(self, order_id: int, status: str = "processing") -> dict:
        return self.store.pay_order(order_id, status)

    def trash_order(self, order_id: int) -> dict:
        return self.store.trash_order(order_id)

    def cancel_order(self, order_id: int) -> dict:
        return self.store.cancel_order(order_id)

    def refund_order(self, order_id: int, *, amount=None, reason: str = "", line_items: list | None = None,
                     api_refund: bool = True) -> dict:
        """A refund (also POST /wp-json/wc/v3/orders/{id}/refunds); raises refunds.RefundRefused."""
        return self.store.refund_order(order_id, amount=amount, reason=reason, line_items=line_items,
                                       api_refund=api_refund)

    def refunds(self, order_id: int) -> list[dict]:
        return self.store.refunds(order_id)

    def refund(self, order_id: int, refund_id: int) -> dict:
        return self.store.refund(order_id, refund_id)

    def order(self, order_id: int) -> dict | None:
        return self.store.order(order_id)

    def add_customer(self, document: dict, **options) -> dict:
        return self.store.add_customer(document, **options)

    def generate(self, n: int, *, seed=None, pending_share: float = 0.3, guests: float = 0.3) -> list[dict]:
        return self.store.generate(n, seed=seed, pending_share=pending_share, guests=guests)

    def flush(self, timeout: float = 30.0) -> None:
        self.store.flush(timeout)

    def orders(self) -> list[dict]:
        return self.store.orders()

    def customers(self) -> list[dict]:
        return self.store.customers()

    def webhooks(self) -> list[dict]:
        return self.store.webhooks()

    def deliveries(self, since: int = 0) -> list[dict]:
        return self.store.deliveries(since)

    def stats(self) -> dict:
        return self.store.stats()

    def configure(self, **knobs) -> dict:
        return self.store.configure(**knobs)


def serve(port: int, *, host: str = "127.0.0.1", orders: int = 0, **options) -> None:
    """Run a store in the foreground until Ctrl-C (`python -m sandbox.woo_store`)."""
    with WooStoreServer(host=host, port=port, **options) as shop:
        if orders:
            shop.generate(orders)
        print(f"WooCommerce sandbox store on {shop.url} (key {shop.consumer_key}, secret {shop.consumer_secret})",
              file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
