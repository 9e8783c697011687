"""The sandbox WooCommerce store over real HTTP on loopback: webhooks out, REST API in."""
import base64
import hashlib
import hmac
import json
import os
import random
import select
import socket
import subprocess
import sys
import threading
from collections import deque
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from connector.woo.signature import is_authentic
from sandbox import demo
from sandbox.woo_orders import Shopper, order_document
from sandbox.woo_store import WooStoreServer

SECRET = "webhook-secret"
ORDERS = "wp-json/wc/v3/orders"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


class Receiver:
    """A webhook endpoint that records every request; answers `statuses` in turn, then `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.statuses: deque[int] = deque()
        self.gate: threading.Event | None = None      # set: held requests go on
        self.arrived = threading.Event()               # a request is being held
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer(200)   # /healthz, for the demo

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "version": self.request_version})
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.status
                    receiver._changed.notify_all()
                if receiver.gate is not None and not receiver.gate.is_set():
                    receiver.arrived.set()
                    receiver.gate.wait(10)
                self._answer(status)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/woocommerce"

    def deliveries(self) -> list[dict]:
        """The requests that were webhook deliveries (not pings)."""
        with self._changed:
            return [r for r in self.requests if "X-WC-Webhook-Topic" in r["headers"]]

    def wait_for(self, count: int, timeout: float = 10) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.requests) >= count, timeout), self.requests

    def stop(self):
        if self.gate is not None:
            self.gate.set()
        self._server.shutdown()
        self._server.server_close()


class Clock:
    """The store's clock, moved by the test."""

    def __init__(self, start=T0):
        self.now = start

    def __call__(self):
        return self.now

    def tick(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def shop(clock):
    store = WooStoreServer(seed=7, clock=clock).start()
    yield store
    store.stop()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks/woocommerce"


def _order(shop, status="pending", shopper=None, **changes):
    shopper = shopper or Shopper(0, "Zoë", "Müller", "zoe@example.com")
    document = order_document(random.Random(1), shop.store.next_order_id, shopper, status=status)
    return shop.place_order(document | changes)


def _get(shop, path, auth=True, **params):
    return requests.get(shop.url + path, params=params, auth=shop.auth if auth else None, timeout=10)


def _gmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


# -- webhook creation ---------------------------------------------------------------------

@pytest.mark.parametrize("via", ["python", "rest"])
def test_webhook_creation_sends_ping_form_body(shop, receiver, via):
    """Creating an active webhook pings it: form body webhook_id=N, no X-WC-* headers."""
    if via == "python":
        webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    else:
        response = requests.post(shop.url + "wp-json/wc/v3/webhooks", auth=shop.auth, timeout=10,
                                 json={"name": "JDE", "topic": "order.created", "delivery_url": receiver.url,
                                       "secret": SECRET, "status": "active"})
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] == "active" and created["topic"] == "order.created"
        assert created["date_created_gmt"] and created["delivery_url"] == receiver.url
        webhook_id = created["id"]
    assert len(receiver.requests) == 1
    ping = receiver.requests[0]
    assert ping["body"] == f"webhook_id={webhook_id}".encode()
    assert ping["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert ping["headers"]["User-Agent"] == "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
    assert not [name for name in ping["headers"] if name.lower().startswith("x-wc-")]


def test_webhook_creation_invalid_topic_is_400(shop, receiver):
    """A topic WooCommerce does not know is refused."""
    response = requests.post(shop.url + "wp-json/wc/v3/webhooks", auth=shop.auth, timeout=10,
                             json={"topic": "order.exploded", "delivery_url": receiver.url})
    assert response.status_code == 400
    assert response.json() == {"code": "woocommerce_rest_shop_webhook_invalid_topic",
                                "message": "Webhook topic is required and must be valid.", "data": {"status": 400}}
    assert shop.webhooks() == []


# -- deliveries ---------------------------------------------------------------------------

def test_delivery_headers_signature_verifies_over_raw_bytes(shop, receiver):
    """A delivery carries WooCommerce's headers and a signature over the PHP-encoded bytes."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    first, second = _order(shop), _order(shop)
    shop.flush()
    deliveries = receiver.deliveries()
    assert len(deliveries) == 2
    headers, body = deliveries[0]["headers"], deliveries[0]["body"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
    assert headers["X-WC-Webhook-Source"] == shop.url == shop.source and shop.url.endswith("/")
    assert (headers["X-WC-Webhook-Topic"], headers["X-WC-Webhook-Resource"], headers["X-WC-Webhook-Event"]) == (
        "order.created", "order", "created")
    assert headers["X-WC-Webhook-ID"] == str(webhook_id)
    assert int(deliveries[1]["headers"]["X-WC-Webhook-Delivery-ID"]) > int(headers["X-WC-Webhook-Delivery-ID"])
    assert is_authentic([SECRET], body, headers["X-WC-Webhook-Signature"])
    assert not is_authentic(["another-secret"], body, headers["X-WC-Webhook-Signature"])
    assert b"http:\\/\\/127.0.0.1" in body and b"Zo\\u00eb" in body and b"M\\u00fcller" in body
    assert body.isascii() and body == body.strip()
    assert json.loads(body) == shop.store.order(first["id"])
    assert json.loads(deliveries[1]["body"])["id"] == second["id"]
    assert deliveries[0]["version"] == "HTTP/1.0"


def test_delivery_payload_is_built_at_delivery_time(shop, receiver):
    """A delivery that waited in the queue carries the order as it is when sent."""
    shop.add_webhook("order.created", receiver.url, SECRET)
    receiver.gate = threading.Event()
    held = _order(shop)
    assert receiver.arrived.wait(10)           # the delivery thread is busy with `held`
    late = _order(shop)
    shop.pay_order(late["id"])
    receiver.gate.set()
    shop.flush()
    bodies = {json.loads(r["body"])["id"]: json.loads(r["body"]) for r in receiver.deliveries()}
    assert bodies[held["id"]]["status"] == "pending"
    assert bodies[late["id"]]["status"] == "processing" and bodies[late["id"]]["date_paid_gmt"]


def test_delivery_deleted_topic_carries_only_id(shop, receiver):
    """order.deleted (trash) delivers `{"id": N}` and nothing else."""
    shop.add_webhook("order.deleted", receiver.url, SECRET)
    order = _order(shop)
    shop.trash_order(order["id"])
    shop.flush()
    [delivery] = receiver.deliveries()
    assert delivery["body"] == f'{{"id":{order["id"]}}}'.encode()


@pytest.mark.parametrize("failure", ["500", "404", "refused"])
def test_delivery_disabled_after_consecutive_failures(shop, receiver, failure):
    """WC_Webhook::failed_delivery: six failures in a row count 1 to 6; the 7th (count already
    > 5) disables and leaves the count at 6; a disabled webhook is queued nothing more."""
    url = _closed_port_url() if failure == "refused" else receiver.url
    receiver.status = 200 if failure == "refused" else int(failure)
    webhook_id = shop.add_webhook("order.created", url, SECRET)
    counts = []
    for _ in range(7):
        _order(shop)
        shop.flush()
        stats = shop.stats()["by_webhook"][webhook_id]
        counts.append((stats["status"], stats["failure_count"]))
    assert counts == [("active", n) for n in range(1, 7)] + [("disabled", 6)]
    assert shop.stats()["disabled"] == [webhook_id]
    assert len(receiver.deliveries()) == (0 if failure == "refused" else 7)
    receiver.status = 200
    _order(shop)
    shop.flush()
    stats = shop.stats()["by_webhook"][webhook_id]
    assert (stats["attempted"], stats["failed"], stats["status"]) == (7, 7, "disabled")
    assert len(receiver.deliveries()) == (0 if failure == "refused" else 7)
    response = requests.put(f"{shop.url}wp-json/wc/v3/webhooks/{webhook_id}", auth=shop.auth, timeout=10,
                            json={"status": "active", "delivery_url": receiver.url})
    assert response.status_code == 200 and response.json()["status"] == "active"
    order = _order(shop)
    shop.flush()
    assert json.loads(receiver.deliveries()[-1]["body"])["id"] == order["id"]
    assert shop.stats()["by_webhook"][webhook_id]["failure_count"] == 0


def test_delivery_queued_before_disabling_still_goes_out(shop, receiver):
    """wc_deliver_webhook_async() delivers what was queued whatever the webhook's status now:
    nine orders queued while active are all attempted, the webhook disabled by the 7th."""
    receiver.status = 500
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    for _ in range(9):
        _order(shop)
    shop.flush()
    stats = shop.stats()["by_webhook"][webhook_id]
    assert (stats["status"], stats["attempted"], stats["failed"], stats["failure_count"]) == ("disabled", 9, 9, 6)
    assert len(receiver.deliveries()) == 9


def test_delivery_success_resets_failure_count(shop, receiver):
    """A success between failures starts the count again."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    receiver.statuses.extend([500] * 6 + [302] + [500] * 6)
    for _ in range(13):
        _order(shop)
    shop.flush()
    stats = shop.stats()["by_webhook"][webhook_id]
    assert (stats["status"], stats["failure_count"], stats["delivered"], stats["failed"]) == ("active", 6, 1, 12)
    receiver.statuses.append(500)
    _order(shop)
    shop.flush()
    assert shop.stats()["by_webhook"][webhook_id]["status"] == "disabled"


def test_delivery_paused_webhook_receives_nothing(shop, receiver):
    """Only active webhooks deliver."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    shop.update_webhook(webhook_id, status="paused")
    _order(shop)
    shop.flush()
    assert receiver.deliveries() == []


def test_delivery_topics_match_exactly(shop, receiver):
    """order.updated webhooks get payments, not checkouts; customer.created gets registrations."""
    shop.add_webhook("order.updated", receiver.url, SECRET)
    shop.add_webhook("customer.created", receiver.url, SECRET)
    order = _order(shop)
    shop.pay_order(order["id"])
    shop.generate(3, seed=4, guests=0.0)
    shop.flush()
    topics = [r["headers"]["X-WC-Webhook-Topic"] for r in receiver.deliveries()]
    assert topics[0] == "order.updated" and set(topics[1:]) == {"customer.created"}


def test_drop_rate_one_delivers_nothing(shop, receiver):
    """drop_rate=1: every delivery is silently lost; neither a success nor a failure."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    response = requests.post(shop.url + "sandbox/config", json={"drop_rate": 1}, timeout=10)
    assert response.status_code == 200 and response.json()["drop_rate"] == 1.0
    shop.generate(20, seed=3)
    shop.flush()
    stats = requests.get(shop.url + "sandbox/stats", timeout=10).json()
    assert (stats["dropped"], stats["attempted"], stats["delivered"], stats["failed"]) == (20, 0, 0, 0)
    assert stats["by_webhook"][str(webhook_id)]["status"] == "active"
    assert receiver.deliveries() == []


def _dropped_ids(receiver, seed):
    before = len(receiver.deliveries())
    with WooStoreServer(seed=seed, drop_rate=0.1) as shop:
        shop.add_webhook("order.created", receiver.url, SECRET)
        placed = {order["id"] for order in shop.generate(200, seed=seed)}
        shop.flush()
        stats = shop.stats()
        received = {json.loads(r["body"])["id"] for r in receiver.deliveries()[before:]}
    assert stats["dropped"] + stats["delivered"] == 200 and len(received) == stats["delivered"]
    return placed - received


def test_drop_rate_share_is_seeded_and_reproducible(receiver):
    """drop_rate=0.1 loses about a tenth of 200 deliveries, the same ones for the same seed."""
    first, again = _dropped_ids(receiver, seed=11), _dropped_ids(receiver, seed=11)
    assert 10 <= len(first) <= 30
    assert first == again


# -- REST: orders -------------------------------------------------------------------------

def _timeline(shop, clock, count=5):
    """`count` orders, one a minute from T0; returns them in order."""
    placed = []
    for _ in range(count):
        placed.append(_order(shop, status="processing"))
        clock.tick(minutes=1)
    return placed


@pytest.mark.parametrize("gmt", [True, False])
def test_orders_modified_after_is_exclusive(shop, clock, gmt):
    """modified_after/modified_before leave the boundary out, in GMT or store-local (UTC-3) time."""
    placed = _timeline(shop, clock)
    shift = timedelta() if gmt else timedelta(hours=-3)
    params = {"modified_after": _gmt(T0 + timedelta(minutes=1) + shift), "orderby": "id", "order": "asc"}
    if gmt:
        params["dates_are_gmt"] = "true"
    response = _get(shop, ORDERS, **params)
    assert [o["id"] for o in response.json()] == [o["id"] for o in placed[2:]]
    params["modified_before"] = _gmt(T0 + timedelta(minutes=4) + shift)
    assert [o["id"] for o in _get(shop, ORDERS, **params).json()] == [placed[2]["id"], placed[3]["id"]]


def test_orders_created_after_is_exclusive(shop, clock):
    """after/before filter on the creation date, not the modification."""
    placed = _timeline(shop, clock)
    shop.update_order(placed[0]["id"], customer_note="late change")
    response = _get(shop, ORDERS, after=_gmt(T0), dates_are_gmt="true", orderby="id", order="asc")
    assert [o["id"] for o in response.json()] == [o["id"] for o in placed[1:]]


@pytest.mark.parametrize("orderby,order,key,descending", [
    ("modified", "asc", "date_modified_gmt", False),
    ("modified", "desc", "date_modified_gmt", True),
    ("date", None, "date_created_gmt", True),
    ("id", "asc", "id", False),
])
def test_orders_orderby_sorts(shop, clock, orderby, order, key, descending):
    """orderby/order sort the list; ties on the date are broken by id."""
    placed = _timeline(shop, clock)
    for order_id in (placed[1]["id"], placed[3]["id"]):
        shop.update_order(order_id, customer_note="changed")
        clock.tick(seconds=30)
    params = {"orderby": orderby} | ({"order": order} if order else {})
    listed = _get(shop, ORDERS, **params).json()
    assert [o["id"] for o in listed] == [o["id"] for o in sorted(listed, key=lambda o: (o[key], o["id"]),
                                                                  reverse=descending)]
    if orderby == "modified" and not descending:
        assert [o["id"] for o in listed][-2:] == [placed[1]["id"], placed[3]["id"]]


def test_orders_update_bumps_modified_strictly(shop):
    """Two updates within one second still get strictly later date_modified_gmt values."""
    order = _order(shop)
    first = shop.update_order(order["id"], customer_note="a")["date_modified_gmt"]
    second = shop.update_order(order["id"], customer_note="b")["date_modified_gmt"]
    assert order["date_modified_gmt"] < first < second


@pytest.mark.parametrize("per_page", ["101", "0", "many"])
def test_orders_per_page_out_of_range_is_400(shop, per_page):
    """per_page must be an integer from 1 to 100."""
    response = _get(shop, ORDERS, per_page=per_page)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param" and "per_page" in body["data"]["params"]


def test_orders_paging_headers_cover_every_order_once(shop):
    """250 orders by 100: three pages linked by rel=next/prev, each order exactly once."""
    shop.generate(250, seed=2)
    seen, url, pages = [], shop.url + ORDERS, []
    params = {"modified_after": "2000-01-01T00:00:00", "dates_are_gmt": "true", "orderby": "modified",
              "order": "asc", "per_page": 100}
    while url:
        response = requests.get(url, params=params, auth=shop.auth, timeout=10)
        params = None   # the next link carries them
        assert response.status_code == 200, response.text
        assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("250", "3")
        pages.append((len(response.json()), sorted(response.links)))
        seen += [o["id"] for o in response.json()]
        url = response.links.get("next", {}).get("url")
    assert pages == [(100, ["next"]), (100, ["next", "prev"]), (50, ["prev"])]
    assert sorted(seen) == sorted(o["id"] for o in shop.orders()) and len(set(seen)) == 250
    past = _get(shop, ORDERS, per_page=100, page=4)
    assert past.status_code == 400 and past.json()["code"] == "rest_post_invalid_page_number"


def test_orders_page_past_end_of_empty_list_is_empty(shop):
    """With nothing to list, any page is an empty 200."""
    response = _get(shop, ORDERS, page=3)
    assert response.status_code == 200 and response.json() == []
    assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("0", "0")


@pytest.mark.parametrize("status,expected", [
    (None, {"pending", "processing", "completed"}),
    ("any", {"pending", "processing", "completed"}),
    ("pending", {"pending"}),
    ("processing,completed", {"processing", "completed"}),
    ("trash", {"trash"}),
])
def test_orders_status_filter(shop, status, expected):
    """status=any (the default) leaves out trash; a comma list picks those statuses."""
    for state in ("pending", "processing", "completed", "completed"):
        _order(shop, status=state)
    shop.trash_order(_order(shop)["id"])
    params = {"status": status} if status else {}
    assert {o["status"] for o in _get(shop, ORDERS, **params).json()} == expected


def test_order_get_by_id(shop):
    """GET /orders/{id} answers the order with store-local and GMT dates."""
    order = _order(shop, status="processing")
    body = _get(shop, f"{ORDERS}/{order['id']}").json()
    assert body["id"] == order["id"] and body["total"] == order["total"]
    created = datetime.fromisoformat(body["date_created_gmt"]) - datetime.fromisoformat(body["date_created"])
    assert created == timedelta(hours=3)


def test_order_unknown_id_is_404(shop):
    """An unknown order id answers WooCommerce's 404 body."""
    response = _get(shop, f"{ORDERS}/999999")
    assert response.status_code == 404
    assert response.json() == {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                               "data": {"status": 404}}


@pytest.mark.parametrize("auth", [None, ("ck_sandbox", "cs_wrong"), ("ck_other", "cs_sandbox")])
def test_rest_bad_credentials_are_401(shop, auth):
    """Every /wp-json route wants the consumer key and secret."""
    response = requests.get(shop.url + ORDERS, auth=auth, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                               "data": {"status": 401}}


def test_rest_query_string_credentials_accepted(shop):
    """consumer_key/consumer_secret as query parameters work too."""
    response = _get(shop, ORDERS, auth=False, consumer_key="ck_sandbox", consumer_secret="cs_sandbox")
    assert response.status_code == 200


# -- REST: customers ----------------------------------------------------------------------

def test_customers_list_pages_and_filters(shop):
    """GET /customers pages like orders and filters by email; GET /customers/{id} and its 404."""
    shop.generate(40, seed=5, guests=0.0)
    customers = shop.customers()
    assert len(customers) > 5
    response = _get(shop, "wp-json/wc/v3/customers", per_page=5, orderby="id", order="desc")
    assert response.headers["X-WP-Total"] == str(len(customers))
    assert [c["id"] for c in response.json()] == sorted((c["id"] for c in customers), reverse=True)[:5]
    assert "next" in response.links
    target = customers[2]
    by_email = _get(shop, "wp-json/wc/v3/customers", email=target["email"]).json()
    assert [c["id"] for c in by_email] == [target["id"]]
    assert _get(shop, f"wp-json/wc/v3/customers/{target['id']}").json()["email"] == target["email"]
    missing = _get(shop, "wp-json/wc/v3/customers/99999")
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_invalid_id"


# -- sandbox control and the demo ---------------------------------------------------------

def test_sandbox_generate_and_pay_fire_webhooks(shop, receiver):
    """POST /sandbox/generate places orders; /sandbox/orders/{id}/pay sends order.updated."""
    shop.add_webhook("order.updated", receiver.url, SECRET)
    ids = requests.post(shop.url + "sandbox/generate", json={"count": 5, "seed": 1}, timeout=10).json()["orders"]
    assert len(ids) == 5
    paid = requests.post(f"{shop.url}sandbox/orders/{ids[0]}/pay", json={"status": "completed"}, timeout=10).json()
    assert paid["status"] == "completed" and paid["date_paid_gmt"] and paid["date_completed_gmt"]
    shop.flush()
    [delivery] = receiver.deliveries()
    assert json.loads(delivery["body"])["status"] == "completed"


def test_demo_run_delivers_through_the_store(receiver):
    """The demo starts a store, registers its webhooks and places signed, delivered orders."""
    lines = []
    demo.run(receiver.url, SECRET, interval=0, seed=3, count=6, first_order=5000, echo=lines.append)
    assert lines[0].startswith("WooCommerce sandbox store: http://127.0.0.1:") and "(key ck_sandbox)" in lines[0]
    order_lines = [line for line in lines if line.startswith("order 50")]
    assert len([line for line in order_lines if " USD " in line]) == 6
    assert all(line.endswith("→ 200") for line in order_lines), lines
    pings = [r for r in receiver.requests if r["body"].startswith(b"webhook_id=")]
    assert len(pings) == len(demo.TOPICS) == 7   # one ping per webhook the demo registers
    for delivery in receiver.deliveries():
        assert is_authentic([SECRET], delivery["body"], delivery["headers"]["X-WC-Webhook-Signature"])
    topics = {r["headers"]["X-WC-Webhook-Topic"] for r in receiver.deliveries()}
    assert "order.created" in topics
    assert {r["headers"]["X-WC-Webhook-Source"] for r in receiver.deliveries()} == {demo.DEMO_SOURCE}


def test_demo_run_refunds_and_cancels_some_paid_orders(receiver):
    """Later on, some paid orders are refunded (each kind, through the gateway or by hand) and
    some cancelled; each is an order.updated the receiver gets."""
    lines = []
    demo.run(receiver.url, SECRET, interval=0, seed=3, count=40, first_order=5000, echo=lines.append)
    refunded = [line for line in lines if ": refund 9" in line]
    cancelled = [line for line in lines if line.endswith("→ 200") and ": cancelled " in line]
    assert refunded and cancelled and all(line.endswith("→ 200") for line in refunded), lines
    kinds = ("full", "one item", "amount only")
    assert [kind for kind in kinds if any(f"({kind}, " in line for line in refunded)] == list(kinds)
    updated = [r for r in receiver.deliveries() if r["headers"]["X-WC-Webhook-Topic"] == "order.updated"]
    payloads = [json.loads(r["body"]) for r in updated]
    assert any(p["refunds"] and p["refunds"][0]["total"].startswith("-") for p in payloads)
    assert any(p["status"] == "cancelled" for p in payloads)
    assert {p["status"] for p in payloads if p["refunds"] and p["refunds"][0]["reason"] == "Returned in full"} == \
        {"refunded"}


def test_delivery_source_url_overrides_source_header(receiver):
    """source_url fixes X-WC-Webhook-Source while the REST API stays on the listening address."""
    with WooStoreServer(source_url="https://shop.example.com/") as shop:
        shop.add_webhook("order.created", receiver.url, SECRET)
        _order(shop)
        shop.flush()
        assert receiver.deliveries()[0]["headers"]["X-WC-Webhook-Source"] == "https://shop.example.com/"
        assert _get(shop, ORDERS).status_code == 200


# -- webhook life cycle over REST (what a connector's self-healing meets) --------------------

WEBHOOKS = "wp-json/wc/v3/webhooks"
WEBHOOK_FIELDS = {"id", "name", "status", "topic", "resource", "event", "hooks", "delivery_url", "date_created",
                  "date_created_gmt", "date_modified", "date_modified_gmt", "_links"}


def _signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature worked out here, independently of the sandbox and the connector."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _rest_webhook(shop, webhook_id, **params):
    response = requests.get(f"{shop.url}{WEBHOOKS}/{webhook_id}", params=params, auth=shop.auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _put_webhook(shop, webhook_id, **changes):
    return requests.put(f"{shop.url}{WEBHOOKS}/{webhook_id}", json=changes, auth=shop.auth, timeout=10)


def _fail_until_disabled(shop, webhook_id):
    """Failing deliveries, one order at a time, until the store disables the webhook."""
    for _ in range(7):
        _order(shop)
        shop.flush()
    assert shop.stats()["by_webhook"][webhook_id]["status"] == "disabled"


def _pings(receiver) -> list[dict]:
    return [r for r in receiver.requests if r["body"].startswith(b"webhook_id=")]


def test_webhook_rest_fields_and_secret_only_in_edit_context(shop, receiver):
    """The v3 controller's fields; the secret is in the edit context only: create and update
    answer with it, GET and the list only with context=edit."""
    response = requests.post(shop.url + WEBHOOKS, auth=shop.auth, timeout=10, json={
        "name": "JDE", "topic": "order.updated", "delivery_url": receiver.url, "secret": SECRET, "status": "paused"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == WEBHOOK_FIELDS | {"secret"} and created["secret"] == SECRET
    # create_item sets the status from a post status it has just made 'publish': always active.
    assert (created["status"], created["resource"], created["event"]) == ("active", "order", "updated")
    assert "woocommerce_update_order" in created["hooks"] and all(isinstance(h, str) for h in created["hooks"])
    assert response.headers["Location"] == f"{shop.url}{WEBHOOKS}/{created['id']}"
    viewed = _rest_webhook(shop, created["id"])
    assert set(viewed) == WEBHOOK_FIELDS and viewed["delivery_url"] == receiver.url
    assert _rest_webhook(shop, created["id"], context="edit")["secret"] == SECRET
    listed = requests.get(shop.url + WEBHOOKS, auth=shop.auth, timeout=10).json()
    assert [set(w) for w in listed] == [WEBHOOK_FIELDS]
    updated = _put_webhook(shop, created["id"], name="JDE connector")
    assert updated.status_code == 200 and updated.json()["secret"] == SECRET
    assert updated.json()["name"] == "JDE connector"
    assert updated.json()["date_modified_gmt"] >= viewed["date_modified_gmt"]


def test_webhook_disabled_then_reactivated_over_rest(shop, receiver):
    """The self-healing path: failures disable a webhook, REST shows it disabled, PUT status
    active re-activates it and deliveries resume. Re-activation keeps the failure count (as
    WC_Webhook::set_status does), so one more failure disables it again; a success resets it."""
    receiver.status = 500
    response = requests.post(shop.url + WEBHOOKS, auth=shop.auth, timeout=10,
                             json={"topic": "order.created", "delivery_url": receiver.url, "secret": SECRET})
    webhook_id = response.json()["id"]
    _fail_until_disabled(shop, webhook_id)
    assert _rest_webhook(shop, webhook_id)["status"] == "disabled"
    disabled = requests.get(shop.url + WEBHOOKS, params={"status": "disabled"}, auth=shop.auth, timeout=10).json()
    assert [w["id"] for w in disabled] == [webhook_id]
    sent = len(receiver.deliveries())
    _order(shop)
    shop.flush()
    assert len(receiver.deliveries()) == sent  # a disabled webhook is queued nothing

    pings = len(_pings(receiver))
    response = _put_webhook(shop, webhook_id, status="active")
    assert response.status_code == 200 and response.json()["status"] == "active"
    # Its creation ping was answered 500, so it is still pending delivery: saving it active pings.
    assert len(_pings(receiver)) == pings + 1
    assert shop.stats()["by_webhook"][webhook_id]["failure_count"] == 6
    _order(shop)
    shop.flush()
    assert _rest_webhook(shop, webhook_id)["status"] == "disabled"  # the very next failure

    receiver.status = 200
    assert _put_webhook(shop, webhook_id, status="active").json()["status"] == "active"
    order = _order(shop)
    shop.flush()
    last = receiver.deliveries()[-1]
    assert json.loads(last["body"])["id"] == order["id"]
    assert last["headers"]["X-WC-Webhook-Signature"] == _signature(SECRET, last["body"])
    stats = shop.stats()["by_webhook"][webhook_id]
    assert (stats["status"], stats["failure_count"], stats["pending_delivery"]) == ("active", 0, False)
    assert _rest_webhook(shop, webhook_id)["status"] == "active"


def test_webhook_date_modified_is_when_it_was_disabled(shop, receiver, clock):
    """Every delivery saves the webhook, and a save stamps date_modified: a disabled webhook's
    date_modified is the moment of its last failed delivery (what a connector polls from)."""
    receiver.status = 500
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    assert _rest_webhook(shop, webhook_id)["date_modified_gmt"] == _gmt(T0)
    clock.tick(hours=1)
    _fail_until_disabled(shop, webhook_id)
    webhook = _rest_webhook(shop, webhook_id)
    assert (webhook["date_created_gmt"], webhook["date_modified_gmt"]) == (_gmt(T0), _gmt(T0 + timedelta(hours=1)))


def test_webhook_pending_delivery_is_pinged_after_deliveries_until_a_ping_succeeds(shop, receiver):
    """A webhook whose creation ping was refused stays pending_delivery, and each save of it
    while active (every delivery saves) pings again, until a ping is answered 200."""
    receiver.statuses.extend([500, 200, 500])   # the creation ping, a delivery, the ping after it
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    assert len(_pings(receiver)) == 1 and shop.stats()["by_webhook"][webhook_id]["pending_delivery"] is True
    _order(shop)
    shop.flush()
    assert len(_pings(receiver)) == 2 and shop.stats()["by_webhook"][webhook_id]["pending_delivery"] is True
    _order(shop)   # the delivery and the ping after it are answered 200
    shop.flush()
    assert len(_pings(receiver)) == 3 and shop.stats()["by_webhook"][webhook_id]["pending_delivery"] is False
    _order(shop)
    shop.flush()
    assert len(_pings(receiver)) == 3 and len(receiver.deliveries()) == 3


def test_webhook_put_changes_delivery_url_and_secret(shop, receiver):
    """PUT delivery_url and secret: the URL is pinged (its URL changed), later deliveries go
    there signed with the new secret; a PUT naming the same URL pings nothing."""
    other = Receiver()
    try:
        webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
        assert shop.stats()["by_webhook"][webhook_id]["pending_delivery"] is False
        response = _put_webhook(shop, webhook_id, delivery_url=other.url, secret="rotated-secret")
        assert response.status_code == 200, response.text
        assert (response.json()["delivery_url"], response.json()["secret"]) == (other.url, "rotated-secret")
        assert len(_pings(other)) == 1
        order = _order(shop)
        shop.flush()
        [delivery] = other.deliveries()
        assert json.loads(delivery["body"])["id"] == order["id"] and receiver.deliveries() == []
        assert delivery["headers"]["X-WC-Webhook-Signature"] == _signature("rotated-secret", delivery["body"])
        assert _put_webhook(shop, webhook_id, delivery_url=other.url).status_code == 200
        assert len(_pings(other)) == 1
    finally:
        other.stop()


@pytest.mark.parametrize("method, changes, status, code", [
    ("PUT", {"status": "sleeping"}, 400, "rest_invalid_param"),
    ("PUT", {"delivery_url": "ftp://example.com/hook"}, 400, "woocommerce_rest_shop_webhook_invalid_delivery_url"),
    ("PUT", {"topic": "order.exploded"}, 400, "woocommerce_rest_shop_webhook_invalid_topic"),
], ids=["bad-status", "bad-url", "bad-topic"])
def test_webhook_put_invalid_changes_nothing(shop, receiver, method, changes, status, code):
    """A PUT WooCommerce refuses answers its error and leaves the webhook as it was."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    before = _rest_webhook(shop, webhook_id)
    response = _put_webhook(shop, webhook_id, **changes)
    assert response.status_code == status and response.json()["code"] == code
    assert _rest_webhook(shop, webhook_id) == before


def test_webhook_unknown_id_answers_as_woocommerce(shop):
    """GET and PUT of an unknown webhook: 400 "ID is invalid."; DELETE: 404 "Invalid ID."."""
    for response in (requests.get(f"{shop.url}{WEBHOOKS}/999", auth=shop.auth, timeout=10),
                     _put_webhook(shop, 999, status="active")):
        assert response.status_code == 400
        assert response.json() == {"code": "woocommerce_rest_shop_webhook_invalid_id", "message": "ID is invalid.",
                                   "data": {"status": 400}}
    response = requests.delete(f"{shop.url}{WEBHOOKS}/999", params={"force": "true"}, auth=shop.auth, timeout=10)
    assert response.status_code == 404 and response.json()["message"] == "Invalid ID."


def test_sandbox_disable_webhook_stops_deliveries(shop, receiver):
    """POST /sandbox/webhooks/{id}/disable: disabled at once (REST says so), nothing more is
    queued, the failure count untouched; an unknown id is 404."""
    webhook_id = shop.add_webhook("order.created", receiver.url, SECRET)
    response = requests.post(f"{shop.url}sandbox/webhooks/{webhook_id}/disable", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "disabled"
    assert _rest_webhook(shop, webhook_id)["status"] == "disabled"
    _order(shop)
    shop.flush()
    assert receiver.deliveries() == [] and shop.stats()["by_webhook"][webhook_id]["failure_count"] == 0
    assert requests.post(f"{shop.url}sandbox/webhooks/999/disable", timeout=10).status_code == 404
    shop.update_webhook(webhook_id, status="active")
    _order(shop)
    shop.flush()
    assert len(receiver.deliveries()) == 1


def test_sandbox_redirect_points_every_webhook_elsewhere(shop, receiver):
    """POST /sandbox/webhooks/redirect: every webhook's delivery URL changes (each pinged as an
    edit would be); a bad URL is 400."""
    other = Receiver()
    try:
        ids = [shop.add_webhook(topic, receiver.url, SECRET) for topic in ("order.created", "order.updated")]
        response = requests.post(shop.url + "sandbox/webhooks/redirect", json={"delivery_url": other.url}, timeout=10)
        assert response.status_code == 200
        assert sorted(w["id"] for w in response.json()) == sorted(ids)
        assert {_rest_webhook(shop, i)["delivery_url"] for i in ids} == {other.url}
        assert len(_pings(other)) == 2
        order = _order(shop)
        shop.pay_order(order["id"])
        shop.flush()
        assert [r["headers"]["X-WC-Webhook-Topic"] for r in other.deliveries()] == ["order.created", "order.updated"]
        assert receiver.deliveries() == []
        bad = requests.post(shop.url + "sandbox/webhooks/redirect", json={"delivery_url": "nowhere"}, timeout=10)
        assert bad.status_code == 400 and {_rest_webhook(shop, i)["delivery_url"] for i in ids} == {other.url}
    finally:
        other.stop()


# -- signing without the connector's code ---------------------------------------------------------

def test_signature_is_hmac_sha256_base64_of_the_body(shop, receiver):
    """The store signs on its own: base64(HMAC-SHA256(secret, body)), checked here by hand."""
    shop.add_webhook("order.created", receiver.url, SECRET)
    _order(shop)
    shop.flush()
    [delivery] = receiver.deliveries()
    assert delivery["headers"]["X-WC-Webhook-Signature"] == _signature(SECRET, delivery["body"])
    assert delivery["headers"]["X-WC-Webhook-Signature"] != _signature(SECRET + "x", delivery["body"])


@pytest.mark.parametrize("stored, key", [("s&amp;t", "s&t"), ("q&quot;&#039;&#0039;", "q\"''"),
                                         ("&amp;lt;", "&lt;"), ("plain", "plain")])
def test_signature_key_is_the_secret_html_decoded(shop, receiver, stored, key):
    """WC_Webhook::generate_signature keys the HMAC with wp_specialchars_decode($secret, ENT_QUOTES)."""
    shop.add_webhook("order.created", receiver.url, stored)
    _order(shop)
    shop.flush()
    [delivery] = receiver.deliveries()
    assert delivery["headers"]["X-WC-Webhook-Signature"] == _signature(key, delivery["body"])


def test_sandbox_does_not_import_the_connectors_signature_code():
    """Importing the store and its webhook helpers never loads connector.woo.signature."""
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, sandbox.woo_store, sandbox.woo_webhooks, sandbox.demo, sandbox.ais; "
            "print(sorted(name for name in sys.modules if name.startswith('connector')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    for path in (root / "sandbox").rglob("*.py"):
        assert "connector.woo.signature" not in path.read_text(encoding="utf-8"), path


def test_command_line_runs_without_port_and_prints_its_url():
    """`python -m sandbox.woo_store --drop-rate 0.1` listens on a free port and says where."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "sandbox.woo_store", "--drop-rate", "0.1"], cwd=root,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert select.select([process.stderr], [], [], 20)[0], "the store printed nothing"
        line = process.stderr.readline()
        url = line.split(" on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        assert requests.get(url + "sandbox/stats", timeout=5).json()["drop_rate"] == 0.1
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()
