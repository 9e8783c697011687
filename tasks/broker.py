"""The Redis broker transport, with one client per channel for publishing.

kombu's Redis channel builds a new `redis.Redis` object for every message it publishes
(about 0.25 ms of Python, the largest part of enqueueing on the webhook's hot path, see
bench/ingest). The connection pool behind those objects is the same each time, so one client
per pool does exactly the same work.
"""
from __future__ import annotations

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publisher = None

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
