"""What a running process needs: settings, service URLs, the mapping, a database pool.

Built once per process by the adapters (web/, tasks/, cli); start-up fails here, with a
message that says what to fix, when the mapping file or the services are not usable.

The mapping file is read again when it changes (`refresh_mapping`, called at the start of each
task and each admin request): fixing an account and replaying the order needs no restart. A
changed file that cannot be used keeps the mapping in force and says why (`mapping_error`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from connector import embedded
from connector.config import Settings, load_settings
from connector.mapping import Mapping, MappingError, load_mapping, parse_mapping
from connector.store import Database

log = logging.getLogger(__name__)


class MappingFile:
    """The mapping file, and whether it changed since it was read: one stat when it did not.

    Its (mtime, size, inode) says when to read it again, and the digest of its bytes whether it
    really changed (a touch is no change). The file system's clock is coarse (a few ms): a second
    write within the same tick and of the same size leaves the same stamp. So for RACY_SECONDS
    after a file's mtime its stamp is not trusted and every check reads and compares the bytes.
    """

    RACY_SECONDS = 2.0

    def __init__(self, path: Path):
        self.path = Path(path)
        self.error: str | None = None     # why the file as it is now is not in force
        # (generation, mapping): the newest usable mapping read, and how many readings made it;
        # one tuple, so that a thread never sees one's mapping with another's generation.
        self.loaded: tuple[int, Mapping | None] = (0, None)
        self._lock = threading.Lock()     # the web process's threads share it
        self._stamp = self._digest = self._source = None
        self._racy = True

    def load(self) -> Mapping:
        """The first reading, at start-up: a file that cannot be used raises MappingError."""
        try:
            stamp, data = self._read()    # before the parse: a change meanwhile is seen at the next check
        except OSError:
            stamp, data = None, None      # load_mapping says what is wrong
        mapping = load_mapping(self.path)
        self._remember(stamp, data)
        self._source = mapping.store.source
        self.loaded = (1, mapping)
        return mapping

    def check(self) -> None:
        """Read the file again if it changed: a usable file becomes `loaded`; an unusable one
        leaves it as it was, and `error` says why."""
        if not self._racy and self._stat() == self._stamp:
            return
        with self._lock:
            try:
                stamp, data = self._read()
            except OSError as exc:
                self._remember(self._stat(), None)
                return self._refuse(f"{self.path}: cannot be read ({exc.strerror or type(exc).__name__})")
            same = hashlib.sha256(data).digest() == self._digest
            self._remember(stamp, data)
            if same:
                return
            try:
                mapping = parse_mapping(data.decode("utf-8"), self.path)
            except (MappingError, ValueError) as exc:
                return self._refuse(str(exc))
            if mapping.store.source != self._source:
                # Another store's orders are other rows: the processes would no longer find the
                # orders they hold, webhooks and tasks in flight included.
                return self._refuse(f"{self.path}: [store] source changed from {self._source!r} to "
                                    f"{mapping.store.source!r}: restart the processes to serve another store")
            self.error = None
            self.loaded = (self.loaded[0] + 1, mapping)
            log.warning("mapping file %s changed: reloaded", self.path)

    def _stat(self):
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return ("unreadable", type(exc).__name__)
        # The inode too: a deployment that writes a new file and renames it over the old one may
        # keep its size and, within the clock's resolution, its mtime.
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self):
        stamp = self._stat()              # before the bytes: a write after it changes the stamp again
        return stamp, self.path.read_bytes()

    def _remember(self, stamp, data: bytes | None) -> None:
        self._stamp = stamp
        self._digest = None if data is None else hashlib.sha256(data).digest()
        self._racy = isinstance(stamp, tuple) and isinstance(stamp[0], int) and \
            time.time() - stamp[0] / 1e9 < self.RACY_SECONDS

    def _refuse(self, why: str) -> None:
        error = f"{why} (the mapping loaded before stays in force)"
        if error != self.error:          # once per change, not at every request
            log.error("mapping file changed but cannot be used: %s", error)
        self.error = error
        return None


@dataclass
class Runtime:
    settings: Settings
    mapping: Mapping
    database_url: str
    redis_url: str
    # Watched for changes (load_runtime sets it); None: this mapping stays as it is.
    mapping_file: MappingFile | None = None
    # The reading of mapping_file that `mapping` is: a mapping set by hand (a test's) stays until
    # the file changes.
    _mapping_generation: int = field(default=1, init=False, repr=False)

    def refresh_mapping(self) -> Mapping:
        """The mapping in force, read again first if its file changed (cheap when it did not)."""
        if self.mapping_file is not None:
            self.mapping_file.check()
            generation, mapping = self.mapping_file.loaded
            if generation > self._mapping_generation:
                self.mapping, self._mapping_generation = mapping, generation
        return self.mapping

    @property
    def mapping_error(self) -> str | None:
        """Why the mapping file, as it is now, is not in force (None when it is)."""
        return self.mapping_file.error if self.mapping_file is not None else None

    @property
    def broker_url(self) -> str:
        return self.settings.broker_url or self.redis_url

    @cached_property
    def db(self) -> Database:
        return Database(self.database_url)

    @cached_property
    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=3, socket_timeout=10)

    @cached_property
    def vault(self):
        from connector.vault import vault_for

        return vault_for(self.settings)

    def ais_login(self):
        """AIS credentials: stored (encrypted) values win over the environment."""
        from connector.jde.session import AisLogin
        from connector.vault import effective_ais, load_credentials

        with self.db.transaction() as cur:
            stored = load_credentials(cur, self.vault, "ais")
        creds = effective_ais(self.settings, stored)
        base_url = creds.base_url or sandbox_ais_url(self.settings)
        return AisLogin(base_url=base_url, username=creds.username or "", password=creds.password or "",
                        environment=creds.environment or "", role=creds.role or "",
                        device_name=creds.device_name or self.settings.ais_device_name)

    def jde_target(self) -> dict:
        """Which JDE this process posts to: the sandbox, or a real server and environment."""
        from connector.vault import effective_ais, load_credentials

        with self.db.transaction() as cur:
            creds = effective_ais(self.settings, load_credentials(cur, self.vault, "ais"))
        if not creds.base_url:
            return {"kind": "sandbox"}
        return {"kind": "jde", "url": creds.base_url.rstrip("/"), "environment": creds.environment or ""}

    def check_jde_target(self) -> None:
        """Start-up: refuse a database whose postings were made to another JDE (ledger_target.py)."""
        from connector import ledger_target

        try:
            target = self.jde_target()
            with self.db.transaction() as cur:
                ledger_target.check(cur, target)
        finally:
            # A worker checks in its parent before forking its pool: no connection may be
            # inherited by the children, who would share it.
            self.close_connections()

    def close_connections(self) -> None:
        """Close the pool; the next use opens a new one (in this process)."""
        database = self.__dict__.pop("db", None)
        if database is not None:
            database.close()

    @cached_property
    def ais_session(self):
        """One per process: it keeps the in-process copy of the shared token."""
        from connector.jde.session import AisSession

        vault = self.vault
        return AisSession(self.ais_login(), self.redis,
                          seal=lambda token: vault.encrypt({"token": token}),
                          unseal=lambda blob: vault.decrypt(blob)["token"])

    @cached_property
    def breaker(self):
        """The fleet-wide circuit breaker of this AIS server (in Redis)."""
        from connector.jde.breaker import BREAKER_KEY, Breaker

        return Breaker(self.redis, BREAKER_KEY, threshold=self.settings.breaker_threshold,
                       probe_seconds=self.settings.probe_seconds)

    def webhook_secrets(self) -> tuple[str, ...]:
        """Webhook secrets: the stored ones win over WOO_WEBHOOK_SECRET (the environment if the
        database cannot be read at start-up)."""
        from connector.store.database import CONNECTION_ERRORS
        from connector.vault import effective_woo, load_credentials

        try:
            with self.db.transaction() as cur:
                stored = load_credentials(cur, self.vault, "woo")
        except CONNECTION_ERRORS:
            return self.settings.woo_webhook_secrets
        return effective_woo(self.settings, stored).webhook_secrets

    def woo_client(self):
        """WooCommerce REST client: stored (encrypted) credentials win over the environment."""
        from connector.vault import effective_woo, load_credentials
        from connector.woo.client import WooClient

        with self.db.transaction() as cur:
            stored = load_credentials(cur, self.vault, "woo")
        creds = effective_woo(self.settings, stored)
        url = creds.store_url or _sandbox_url(self.settings, "SANDBOX_WOO_URL", "WOO_STORE_URL", "woo_url")
        key, secret = creds.consumer_key, creds.consumer_secret
        if self.settings.sandbox and not (key and secret):
            key, secret = "ck_sandbox", "cs_sandbox"   # the sandbox store's fixed pair
        return WooClient(url, key or "", secret or "")

    def ais_client(self, on_call=None):
        from connector.jde.client import AisClient

        return AisClient(self.ais_session, on_call=on_call, breaker=self.breaker)


def _sandbox_url(settings: Settings, variable: str, real_variable: str, recorded: str) -> str:
    """A sandbox server's URL: as `connector run` hands it to the processes it starts, or as it
    recorded it under var/ for the commands of a second terminal."""
    import os

    url = os.environ.get(variable) or embedded.recorded_sandbox(settings.var_dir).get(recorded)
    if url:
        return url
    raise embedded.ServicesNotRunning(
        f"{real_variable} is not set and no sandbox is running: set {real_variable} (and its credentials) "
        "for the real system, or run the sandbox with `connector run`")


def sandbox_ais_url(settings: Settings) -> str:
    """Where the sandbox AIS server listens when no AIS_BASE_URL is configured."""
    return _sandbox_url(settings, "SANDBOX_AIS_URL", "AIS_BASE_URL", "ais_url")


def load_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    mapping_file = MappingFile(settings.config_path)
    mapping = mapping_file.load()
    if not settings.sandbox and not settings.secret_keys:
        from connector.vault import MissingSecretKey

        # At start-up, not on the first order: credentials would otherwise sit unreadable.
        raise MissingSecretKey("CONNECTOR_SECRET_KEY is required outside the sandbox (AIS_BASE_URL is set): "
                               "generate one with `connector credentials generate-key`")
    urls = embedded.resolve_urls(settings)
    return Runtime(settings=settings, mapping=mapping, database_url=urls.database_url, redis_url=urls.redis_url,
                   mapping_file=mapping_file)


_current: Runtime | None = None


def current() -> Runtime:
    """The process's runtime, loaded from the environment on first use."""
    global _current
    if _current is None:
        _current = load_runtime()
    return _current
