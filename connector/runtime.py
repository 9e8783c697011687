"""What a running process needs: settings, service URLs, the mapping, a database pool.

Built once per process by the adapters (web/, tasks/, cli); start-up fails here, with a
message that says what to fix, when the mapping file or the services are not usable.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from connector import embedded
from connector.config import Settings, load_settings
from connector.mapping import Mapping, load_mapping
from connector.store import Database


@dataclass
class Runtime:
    settings: Settings
    mapping: Mapping
    database_url: str
    redis_url: str

    @property
    def broker_url(self) -> str:
        return self.settings.broker_url or self.redis_url

    @cached_property
    def db(self) -> Database:
        return Database(self.database_url)


def load_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    mapping = load_mapping(settings.config_path)
    urls = embedded.resolve_urls(settings)
    return Runtime(settings=settings, mapping=mapping, database_url=urls.database_url, redis_url=urls.redis_url)


_current: Runtime | None = None


def current() -> Runtime:
    """The process's runtime, loaded from the environment on first use."""
    global _current
    if _current is None:
        _current = load_runtime()
    return _current
