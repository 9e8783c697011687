"""What differs between the two brokers: Redis (the default) and RabbitMQ (an amqp:// URL).

Redis: kombu's transport with one client per channel for publishing (below), a visibility
timeout beyond the longest retry countdown.

RabbitMQ: the `celery` and `posting` queues are durable quorum queues (replicated, kept on disk
across a restart); the receiver's publish waits for the broker's confirm (publisher confirms), so
a 200 answer never rests on a message the broker did not take; messages are persistent. Quorum
queues have no global QoS: Celery (>= 5.5) detects them, uses per-consumer prefetch and RabbitMQ's
native delayed delivery for countdowns (a chain of TTL queues, `celery_delayed_*`), so a retry
waiting for its countdown sits in the broker, not unacknowledged in a worker, and RabbitMQ's
`consumer_timeout` (30 min; the longest countdown is MAX_RETRY_BACKOFF) only ever sees a running
task. Native delayed delivery needs topic exchanges and whole seconds (Task.apply_async below).

kombu's Redis channel builds a new `redis.Redis` object for every message it publishes
(about 0.25 ms of Python, the largest part of enqueueing on the webhook's hot path, see
bench/ingest). The connection pool behind those objects is the same each time, so one client
per pool does exactly the same work.

A closed connection: when Redis goes away, Celery closes the consumer's connection and kombu's
channel, on its way out, restores its unacknowledged messages or acknowledges a finished task's.
Its pool was just torn down, so kombu builds a new one from the connection's URL — but the kombu
Connection has already let go of its transport (`transport.client` is None) and kombu raises
AttributeError("'NoneType' object has no attribute 'hostname'"). That is no connection error, so
neither Celery's `ignore_errors` nor its acknowledgement handler catches it and the worker stops
with "Unrecoverable error" (kombu 5.7.0, with or without the publisher client above: tests/faults/
test_redis_restart.py fails either way). Reported as a connection error instead, Celery treats it as
what it is — the broker is gone — and reconnects; the messages it could not restore were lost with
Redis anyway, and the sweepers re-send their work from the database.
"""
from __future__ import annotations

import math

from celery import Task as CeleryTask
from kombu import Exchange, Queue
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

QUEUE_NAMES = ("celery", "posting")
# A broker that does not confirm a publish within this many seconds (a RabbitMQ memory or disk
# alarm blocks publishers) fails it: the row waits for the sweeper, the webhook still gets its answer.
CONFIRM_TIMEOUT = 5.0


class Channel(kombu_redis.Channel):
    _publisher = None

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        if self._publisher is None or self._publisher.connection_pool is not pool:
            self._publisher = super()._create_client()
        return self._publisher


class Transport(kombu_redis.Transport):
    Channel = Channel


def is_amqp(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0].lower() in ("amqp", "amqps", "pyamqp")


def transport_for(broker_url: str):
    """This transport for a Redis broker; None (the URL's own) for any other broker."""
    scheme = broker_url.split("://", 1)[0].lower()
    return f"{__name__}:Transport" if scheme in ("redis", "rediss") else None


def queues_for(broker_url: str) -> tuple[Queue, ...]:
    if not is_amqp(broker_url):
        return tuple(Queue(name) for name in QUEUE_NAMES)
    # Topic exchanges: native delayed delivery binds each queue's exchange to its delay chain
    # (a direct exchange would leave countdown tasks waiting inside a worker instead).
    return tuple(Queue(name, Exchange(name, type="topic", durable=True), routing_key=name, durable=True,
                       queue_arguments={"x-queue-type": "quorum"}) for name in QUEUE_NAMES)


def transport_options_for(broker_url: str, *, visibility_timeout: int) -> dict:
    if is_amqp(broker_url):
        return {"confirm_publish": True, "connect_timeout": 2}
    return {"visibility_timeout": visibility_timeout, "socket_connect_timeout": 2, "socket_timeout": 10}


class Task(CeleryTask):
    """On RabbitMQ, countdowns in whole seconds (at least 1) and a bounded wait for the confirm.

    Celery truncates a countdown to whole seconds for the delay queues and refuses one below a
    second (kombu's calculate_routing_key); retries here wait uniform(0, cap) seconds, so most
    would fail to be sent. Rounded up, a retry never comes early."""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        if is_amqp(self.app.conf.broker_url or ""):
            if options.get("countdown"):
                options["countdown"] = max(1, math.ceil(options["countdown"]))
            options.setdefault("confirm_timeout", CONFIRM_TIMEOUT)
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)


class QueueMismatch(RuntimeError):
    pass


def check_queues(app) -> None:
    """Declare the queues as this app does; a queue left by another set-up with other arguments
    (a classic `celery` queue from an earlier run on the same vhost) raises QueueMismatch saying
    what to do. Broker unreachable: nothing to say (the worker connects, and says so, later)."""
    if not is_amqp(app.conf.broker_url or ""):
        return
    from amqp.exceptions import PreconditionFailed

    with app.connection_for_write() as conn:
        try:
            conn.ensure_connection(max_retries=1, timeout=5)
        except Exception:
            return
        vhost = conn.virtual_host
        for queue in app.amqp.queues.values():
            channel = conn.channel()
            try:
                queue.bind(channel).declare()
            except PreconditionFailed as exc:
                raise QueueMismatch(
                    f"RabbitMQ queue {queue.name!r} in vhost {vhost!r} exists with other arguments than this "
                    f"connector declares (a durable quorum queue): {exc.reply_text}. Point CELERY_BROKER_URL at "
                    f"a vhost of its own (rabbitmqctl add_vhost connector; amqp://…/connector), or delete the "
                    f"old queues once they are empty (rabbitmqctl delete_queue -p {vhost} {queue.name})"
                ) from None
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
