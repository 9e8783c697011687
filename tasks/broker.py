"""The Redis broker transport, with one client per channel for publishing, and a channel that cannot
kill the worker when its connection is closed under it.

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

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


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


def transport_for(broker_url: str):
    """This transport for a Redis broker; None (the URL's own) for any other broker."""
    scheme = broker_url.split("://", 1)[0].lower()
    return f"{__name__}:Transport" if scheme in ("redis", "rediss") else None
