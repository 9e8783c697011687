"""What the sandbox AIS server does, apart from HTTP: one lock over all state, the endpoint
logic, the counters. Each endpoint takes a Request and returns a Reply (or raises AisError);
the HTTP layer (server.py) does the sleeping, so no sleep ever happens under the lock.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.ais.dataservice import DataService
from sandbox.ais.errors import SERVER_EXCEPTION, AisError, iso_timestamp
from sandbox.ais.faults import DROP, ERROR, TIMEOUT, Dice, Knobs
from sandbox.ais.ledger import ADD_CUSTOMER, POST_JOURNAL_ENTRY, Ledger
from sandbox.ais.tables import TABLES
from sandbox.ais.tokens import TokenStore

AUTH_HEADER, DEVICE_HEADER = "jde-AIS-Auth", "jde-AIS-Auth-Device"
_ORCHESTRATIONS = {POST_JOURNAL_ENTRY: Ledger.post_journal_entry, ADD_CUSTOMER: Ledger.add_customer}


@dataclass
class Request:
    path: str
    headers: object  # case-insensitive mapping (http.client.HTTPMessage)
    body: dict
    client_address: str
    base_url: str

    @property
    def token(self) -> str | None:
        return self.body.get("token") or self.headers.get(AUTH_HEADER)

    @property
    def device(self) -> str | None:
        return self.headers.get(DEVICE_HEADER) or self.body.get("deviceName")


@dataclass
class Reply:
    status: int
    body: dict
    after: str | None = None  # faults.DROP or faults.TIMEOUT: what the HTTP layer does next
    headers: dict = field(default_factory=dict)


def _plain_row(row: dict) -> dict:
    """A row for JSON inspection: Decimals as their exact text."""
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in row.items()}


class AisService:
    def __init__(self, *, seed, username: str, password: str, knobs: Knobs):
        self._lock = threading.Lock()
        self._seed, self._username, self._password = seed, username, password
        self._initial_knobs = knobs.as_dict()
        self._fresh()

    def _fresh(self) -> None:
        """Everything as at start: empty tables, no tokens, zero counters, the seed's dice."""
        self.knobs = Knobs(**self._initial_knobs)
        self._dice = Dice(self._seed)
        # Tokens and rids draw from their own generator so logins never shift the faults.
        ids = random.Random(f"{self._seed}:ids")
        self._tokens = TokenStore(ids)
        self._data = DataService(ids)
        self._ledger = Ledger()
        self._counts = Counter(token_requests=0, validations=0, logouts=0, invalid_token_responses=0)
        self._invalid_by_device: Counter = Counter()
        self._calls: Counter = Counter()
        self._orchestrations: Counter = Counter()
        self._faults = Counter({ERROR: 0, DROP: 0, TIMEOUT: 0})

    # -- knobs the HTTP layer reads outside the lock (a float read is atomic) -----------

    def latency(self) -> float:
        return self.knobs.latency

    def timeout_seconds(self) -> float:
        return self.knobs.timeout_seconds

    def record_call(self, path: str) -> None:
        with self._lock:
            self._calls[path] += 1

    # -- tokens --------------------------------------------------------------------------

    def token_request(self, request: Request) -> Reply:
        body = request.body
        with self._lock:
            self._counts["token_requests"] += 1
            if body.get("username") != self._username or body.get("password") != self._password:
                raise AisError(403, "Authorization Failure: the user name or password is not valid",
                               user_text="Invalid user name or password")
            session = self._tokens.issue(
                username=self._username, environment=str(body.get("environment") or "JDV920"),
                role=str(body.get("role") or "*ALL"), device=body.get("deviceName") or None,
                address=request.client_address, now=time.monotonic())
        return Reply(200, {
            "username": session.username, "environment": session.environment, "role": session.role,
            "jasserver": "http://jas.sandbox",
            "userInfo": {
                "token": session.token, "langPref": "  ", "locale": "en", "dateFormat": "MDE",
                "dateSeperator": "/", "simpleDateFormat": "MM/dd/yyyy", "decimalFormat": ".",
                "addressNumber": 4242, "alphaName": "Sandbox, User",
            },
            "userAuthorized": False, "version": None,
            "aisSessionCookie": f"{session.token[3:19]}!{int(time.time() * 1000)}",
        })

    def validate(self, request: Request) -> Reply:
        with self._lock:
            self._counts["validations"] += 1
            session = self._authenticate(request, bind=False, touch=False)
            if request.body.get("touch") in (True, "true"):
                session.last_used = time.monotonic()
        return Reply(200, {"isValidSession": True})

    def logout(self, request: Request) -> Reply:
        with self._lock:
            self._counts["logouts"] += 1
            session = self._authenticate(request, bind=False, touch=False)
            self._tokens.logout(session.token)
        return Reply(200, {})

    def _authenticate(self, request: Request, *, bind: bool = True, touch: bool = True):
        """The caller's live session (refreshed when `touch`), or AisError 444, counted."""
        now = time.monotonic()
        try:
            session = self._tokens.check(request.token, device=request.device, address=request.client_address,
                                         now=now, ttl=self.knobs.token_ttl, idle=self.knobs.idle_timeout,
                                         bind=bind)
        except AisError as error:
            self._counts["invalid_token_responses"] += 1
            self._invalid_by_device[request.device or "(none)"] += 1
            raise error
        if touch:
            session.last_used = now
        return session

    # -- orchestrations and data service (the faulty ones) ------------------------------

    def orchestrate(self, request: Request, name: str) -> Reply:
        started = time.time()
        with self._lock:
            self._authenticate(request)
            run = _ORCHESTRATIONS.get(name)
            if run is None:
                # Real AIS answers 500 for an unknown orchestration; the sandbox says 404 so a
                # misspelt name in connector.toml cannot pass for a server failure.
                raise AisError(404, f"Orchestration {name} not found", user_text=f"Orchestration {name} not found")
            self._orchestrations[name] += 1

            def work():
                outputs = run(self._ledger, request.body)
                ended = time.time()
                return {**outputs, "jde__status": "SUCCESS", "jde__startTimestamp": iso_timestamp(started),
                        "jde__endTimestamp": iso_timestamp(ended),
                        "jde__serverExecutionSeconds": round(ended - started, 3)}
            return self._with_faults(work, can_drop=True)

    def browse(self, request: Request) -> Reply:
        with self._lock:
            session = self._authenticate(request)
            return self._with_faults(lambda: self._data.browse(
                request.body, self._ledger.tables, token=session.token, now=time.monotonic(),
                idle=self.knobs.idle_timeout, base_url=request.base_url), can_drop=False)

    def next_page(self, request: Request) -> Reply:
        with self._lock:
            session = self._authenticate(request)
            return self._with_faults(lambda: self._data.next_page(
                request.body, token=session.token, now=time.monotonic(), idle=self.knobs.idle_timeout,
                base_url=request.base_url), can_drop=False)

    def _with_faults(self, work, *, can_drop: bool) -> Reply:
        """Roll the dice; a 500 fault does no work, drop and timeout do it and then misbehave."""
        fault = self._dice.roll(self.knobs, can_drop=can_drop)
        if fault:
            self._faults[fault] += 1
        if fault == ERROR:
            raise AisError(500, "Server Failed to Process Request", exception=SERVER_EXCEPTION)
        try:
            return Reply(200, work(), after=fault)
        except AisError as error:
            return Reply(error.status, error.body, after=fault)

    # -- inspection and control ----------------------------------------------------------

    def stats(self) -> dict:
        with self._lock:
            f0911 = self._ledger.tables["F0911"]
            return {
                **self._counts, "invalid_token_by_device": dict(self._invalid_by_device),
                "calls": dict(self._calls), "orchestrations": dict(self._orchestrations),
                "faults": dict(self._faults),
                "journal_entries": len({(row["KCO"], row["DCT"], row["DOC"]) for row in f0911}),
                "f0911_lines": len(f0911), "customers": len(self._ledger.tables["F0101"]),
            }

    def rows(self, table: str) -> list[dict]:
        """Copies of a table's rows as stored (amounts as Decimal)."""
        if table not in TABLES:
            raise AisError(404, f"no table {table}; tables: {', '.join(TABLES)}")
        with self._lock:
            return [dict(row) for row in self._ledger.tables[table]]

    def table_reply(self, table: str) -> dict:
        return {"rows": [_plain_row(row) for row in self.rows(table)]}

    def configure(self, changes: dict) -> dict:
        with self._lock:
            self.knobs.update(changes)
            return self.knobs.as_dict()

    def current_knobs(self) -> dict:
        with self._lock:
            return self.knobs.as_dict()

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens.issued)

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.expire_all()
            self._data.forget_all()

    def reset(self) -> None:
        with self._lock:
            self._fresh()

    def delete_batch(self, batch) -> int:
        with self._lock:
            return self._ledger.delete_batch(str(batch))

    def set_amount(self, batch, line, amount) -> int:
        with self._lock:
            return self._ledger.set_amount(str(batch), line, amount)

    def insert_f0911(self, rows) -> int:
        with self._lock:
            return self._ledger.insert_f0911(rows)
