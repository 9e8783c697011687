"""Webhooks and their delivery, as `WC_Webhook` does it (class-wc-webhook.php).

A change queues (webhook, topic, resource id) for every webhook of that topic that is active
at that moment (WC_Webhook::should_deliver); one background thread (WooCommerce's Action
Scheduler) takes them in order and builds the payload at that moment from the resource's
current state. A queued delivery goes out even if its webhook was paused or disabled since:
wc_deliver_webhook_async() loads the webhook and calls deliver(), which does not look at the
status. One attempt, HTTP/1.0, no redirects followed, `timeout` seconds; 200-302 is a success
and resets the failure count (log_delivery), anything else (or no answer) is a failure.
failed_delivery() disables the webhook when its count already exceeds 5
(`woocommerce_max_webhook_delivery_failures`), else adds one: six failures in a row leave the
count at 6, the 7th sets `disabled` and the count stays 6.

Status changes keep the failure count: WC_Webhook::set_status() and the data store's update()
never touch it, so a webhook re-activated after being disabled is disabled again by its next
failure; only a successful delivery brings the count back to 0. Every save stamps
`date_modified`, and log_delivery() saves after each delivery, so a disabled webhook's
`date_modified` is when its last delivery failed. Saving an active webhook pings it
(WC_Webhook_Data_Store::update) when its delivery URL changed or it is still
`pending_delivery`, which is set at creation and cleared only by a ping answered 200: a
webhook whose first ping failed is pinged again after each of its deliveries until one is.

A share `drop_rate` of deliveries is silently never sent (a sandbox knob): the lost webhook a
polling bridge has to make up for.
"""
from __future__ import annotations

import http.client
import itertools
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sandbox.woo_store.catalog import (MAX_DELIVERY_FAILURES, TOPIC_HOOKS, USER_AGENT, utc_now, with_local_dates,
                                       wp_date)
from sandbox.woo_webhooks import delivery_headers, php_json_encode, ping


@dataclass
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str = "active"
    failure_count: int = 0
    pending_delivery: bool = True  # until a ping is answered 200
    date_created: str = ""
    date_modified: str = ""
    counts: dict = field(default_factory=lambda: dict(attempted=0, delivered=0, failed=0, dropped=0))

    @property
    def resource(self) -> str:
        return self.topic.partition(".")[0]

    @property
    def event(self) -> str:
        return self.topic.partition(".")[2]

    def as_json(self, site_url: str, *, with_secret: bool = False) -> dict:
        """The REST answer (WC_REST_Webhooks_V2_Controller::prepare_item_for_response); the
        secret is in the schema's "edit" context only: create and update answer with it, a
        GET only with `context=edit`."""
        document = {"id": self.id, "name": self.name, "status": self.status, "topic": self.topic,
                    "resource": self.resource, "event": self.event, "hooks": TOPIC_HOOKS.get(self.topic, []),
                    "delivery_url": self.delivery_url, "date_created_gmt": self.date_created,
                    "date_modified_gmt": self.date_modified}
        if with_secret:
            document["secret"] = self.secret
        document = with_local_dates(document)
        base = f"{site_url}wp-json/wc/v3/webhooks"
        document["_links"] = {"self": [{"href": f"{base}/{self.id}"}], "collection": [{"href": base}]}
        return document


@dataclass(frozen=True)
class Job:
    webhook_id: int
    topic: str
    resource_id: int


class _Http10(http.client.HTTPConnection):
    """WooCommerce delivers with `'httpversion' => '1.0'`."""
    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


class _Https10(http.client.HTTPSConnection):
    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


def post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """One POST, no redirects followed; the status code (OSError when there is no answer)."""
    parts = urlsplit(url)
    connection_class = _Https10 if parts.scheme == "https" else _Http10
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()


class Deliverer:
    """The webhooks of one store and the background thread delivering them."""

    def __init__(self, *, payload, site_url, seed=1, drop_rate: float = 0.0, timeout: float = 60.0,
                 clock=utc_now):
        self._payload = payload      # (resource, event, resource_id) -> document, built at delivery time
        self._site_url = site_url    # () -> "http://host:port/"
        self._clock = clock          # () -> an aware datetime: the store's clock, for the webhooks' dates
        self._lock = threading.Condition()
        self._webhooks: dict[int, Webhook] = {}
        self._ids = itertools.count(1)
        self._delivery_ids = itertools.count(1)
        self._queue: deque[Job] = deque()
        self._in_flight = 0
        self._dice = random.Random(f"woo-store-drops-{seed}")
        self._secrets = random.Random(f"woo-store-secrets-{seed}")
        self.drop_rate, self.timeout = drop_rate, timeout
        self._log: list[dict] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="woo-store-delivery", daemon=True)
        self._thread.start()

    # -- webhooks ------------------------------------------------------------------------

    def add(self, topic: str, delivery_url: str, secret: str | None = None, *, name: str | None = None,
            status: str = "active") -> Webhook:
        """Create a webhook; an active one is pinged first, synchronously, like WooCommerce."""
        now = self._clock()
        with self._lock:
            webhook = Webhook(id=next(self._ids), topic=topic, delivery_url=delivery_url, status=status,
                              secret=secret or "".join(self._secrets.choices("abcdefghijkmnpqrstuvwxyz23456789", k=50)),
                              name=name or f"Webhook created on {now.strftime('%b %d, %Y @ %I:%M %p')}",
                              date_created=wp_date(now), date_modified=wp_date(now))
            self._webhooks[webhook.id] = webhook
        if status == "active":
            self._ping(webhook)
        return webhook

    def _ping(self, webhook: Webhook) -> None:
        """WC_Webhook::deliver_ping, synchronously: only a 200 clears `pending_delivery`."""
        with self._lock:
            url, webhook_id, topic = webhook.delivery_url, webhook.id, webhook.topic
        headers, body = ping(webhook_id)
        try:
            code = post(url, body, headers | {"User-Agent": USER_AGENT}, self.timeout)
            outcome = "ok" if code == 200 else f"Error: Delivery URL returned response code: {code}"
        except OSError as exc:
            outcome = f"Error: Delivery URL cannot be reached: {exc}"
        with self._lock:
            if outcome == "ok":
                webhook.pending_delivery = False
        self._record(kind="ping", webhook_id=webhook_id, topic=topic, resource_id=None, outcome=outcome)

    def update(self, webhook_id: int, **changes) -> Webhook | None:
        """Change and save a webhook: `status` (anything but active/paused/disabled becomes
        disabled, as WC_Webhook::set_status does), `name`, `topic`, `delivery_url`, `secret`.
        The failure count is left alone. Pings, as the data store's update() does, when the
        webhook is active and its URL changed or it is still pending delivery."""
        with self._lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is None:
                return None
            status = changes.pop("status", None)
            if status is not None:
                webhook.status = status if status in ("active", "paused", "disabled") else "disabled"
            url_changed = changes.get("delivery_url") not in (None, webhook.delivery_url)
            for key in ("name", "topic", "delivery_url", "secret"):
                if changes.get(key) is not None:
                    setattr(webhook, key, changes[key])
            webhook.date_modified = wp_date(self._clock())
            should_ping = webhook.status == "active" and (url_changed or webhook.pending_delivery)
        if should_ping:
            self._ping(webhook)
        return webhook

    def disable(self, webhook_id: int) -> Webhook | None:
        """What failed_delivery() does past the limit: `disabled`, failure count unchanged, no ping."""
        with self._lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is not None:
                webhook.status = "disabled"
                webhook.date_modified = wp_date(self._clock())
            return webhook

    def remove(self, webhook_id: int) -> Webhook | None:
        with self._lock:
            return self._webhooks.pop(webhook_id, None)

    def get(self, webhook_id: int) -> Webhook | None:
        with self._lock:
            return self._webhooks.get(webhook_id)

    def all(self) -> list[Webhook]:
        with self._lock:
            return list(self._webhooks.values())

    # -- the queue -----------------------------------------------------------------------

    def fire(self, topic: str, resource_id: int) -> int:
        """Queue a delivery to every active webhook of `topic`; how many were queued."""
        with self._lock:
            jobs = [Job(w.id, topic, resource_id) for w in self._webhooks.values()
                    if w.topic == topic and w.status == "active"]
            self._queue.extend(jobs)
            self._lock.notify_all()
            return len(jobs)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery has been attempted (or dropped)."""
        with self._lock:
            if not self._lock.wait_for(lambda: not self._queue and not self._in_flight, timeout):
                raise TimeoutError(f"{len(self._queue) + self._in_flight} webhook deliveries still pending")

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._closing)
                if self._closing:
                    return
                job = self._queue.popleft()
                self._in_flight += 1
            try:
                self._deliver(job)
            except Exception as exc:  # a sandbox bug must not stop the delivery thread
                self._record(kind="delivery", webhook_id=job.webhook_id, topic=job.topic,
                             resource_id=job.resource_id, outcome=f"sandbox error {type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._lock.notify_all()

    def _deliver(self, job: Job) -> None:
        with self._lock:
            webhook = self._webhooks.get(job.webhook_id)
            if webhook is None:
                # Deleted since it was queued: WC_Webhook reads nothing and has no URL to post to.
                outcome = "webhook deleted"
            elif self._dice.random() < self.drop_rate:
                webhook.counts["dropped"] += 1
                outcome = "dropped"
            else:
                outcome = None
                url, secret, webhook_id, delivery_id = (webhook.delivery_url, webhook.secret, webhook.id,
                                                        next(self._delivery_ids))
        if outcome is not None:
            self._record(kind="delivery", webhook_id=job.webhook_id, topic=job.topic,
                         resource_id=job.resource_id, outcome=outcome)
            return
        resource, _, event = job.topic.partition(".")
        body = php_json_encode(self._payload(resource, event, job.resource_id))
        headers = delivery_headers(body=body, topic=job.topic, secret=secret, source=self._site_url(),
                                   webhook_id=webhook_id, delivery_id=delivery_id)
        try:
            code = post(url, body, headers, self.timeout)
            outcome = code
        except OSError as exc:
            code, outcome = None, f"{type(exc).__name__}: {exc}"
        with self._lock:
            webhook.counts["attempted"] += 1
            if code is not None and 200 <= code < 303:
                webhook.counts["delivered"] += 1
                webhook.failure_count = 0
            else:
                webhook.counts["failed"] += 1
                if webhook.failure_count > MAX_DELIVERY_FAILURES:
                    webhook.status = "disabled"
                else:
                    webhook.failure_count += 1
            # log_delivery() saves the webhook either way, and every save stamps date_modified
            # and pings an active webhook still pending delivery (WC_Webhook_Data_Store::update).
            webhook.date_modified = wp_date(self._clock())
            should_ping = webhook.status == "active" and webhook.pending_delivery
        self._record(kind="delivery", webhook_id=webhook_id, topic=job.topic, resource_id=job.resource_id,
                     outcome=outcome, delivery_id=delivery_id)
        if should_ping:
            self._ping(webhook)

    def _record(self, **entry) -> None:
        with self._lock:
            self._log.append(entry)

    # -- inspection ----------------------------------------------------------------------

    def log(self, since: int = 0) -> list[dict]:
        """Pings and deliveries in the order they happened: kind, webhook_id, topic, resource_id,
        outcome (the status code, "dropped", or the connection error) and delivery_id."""
        with self._lock:
            return [dict(entry) for entry in self._log[since:]]

    def stats(self) -> dict:
        with self._lock:
            by_webhook = {w.id: dict(w.counts, status=w.status, failure_count=w.failure_count, topic=w.topic,
                                     pending_delivery=w.pending_delivery, delivery_url=w.delivery_url)
                          for w in self._webhooks.values()}
            totals = {key: sum(w.counts[key] for w in self._webhooks.values())
                      for key in ("attempted", "delivered", "failed", "dropped")}
            return totals | {"queued": len(self._queue) + self._in_flight, "drop_rate": self.drop_rate,
                             "by_webhook": by_webhook,
                             "disabled": [w.id for w in self._webhooks.values() if w.status == "disabled"]}
