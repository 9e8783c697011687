"""What the sandbox AIS server does, apart from HTTP: one lock over all state, the endpoint
logic, the counters. Each endpoint takes a Request and returns a Reply (or raises AisError);
the HTTP layer (server.py) does the sleeping, so no sleep ever happens under the lock.

Oracle-documented: the token response (with the user's date format), 444 for an invalid
token on validate and logout, an orchestration's outputs with `jde__*` fields, its failure as
a 500 nesting the form's errors (with an `exceptionId`), its "continue on error" WARNING
answer, 500 for an unknown orchestration, defaultconfig answered without a token
(defaultconfig.py), the discovery service listing the orchestrations
the server has (discovery.py). Sandbox knobs (faults.py): how often a GL
orchestration ends in WARNING, how often an invalid token is answered 403 "Token is Invalid"
instead of 444 (releases differ), the random faults, and the outage state the HTTP layer
acts on. Sandbox controls: orchestrations removed (and restored) to imitate a server that lacks
one, and F0901 edits. With a state file (state.py) every change of the tables or counters is
snapshotted under the lock and written once the lock is let go, before the caller's answer.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from sandbox.ais import chart, defaultconfig, discovery
from sandbox.ais.dataservice import DataService
from sandbox.ais.dates import user_format
from sandbox.ais.errors import (SERVER_EXCEPTION, AisError, iso_timestamp, orchestration_failed, timestamp,
                                token_forbidden, unknown_orchestration)
from sandbox.ais.faults import ERROR, EXPIRED, FAULTS, TOKEN_403, WARNING, Dice, Knobs
from sandbox.ais.inputs import flatten
from sandbox.ais.ledger import ADD_CUSTOMER, POST_JOURNAL_ENTRY, STEPS, FormError, Ledger
from sandbox.ais.state import StateFile
from sandbox.ais.tables import TABLES
from sandbox.ais.tokens import TokenStore

AUTH_HEADER, DEVICE_HEADER = "jde-AIS-Auth", "jde-AIS-Auth-Device"
PROXY_503 = "proxy_503"
_ORCHESTRATIONS = {POST_JOURNAL_ENTRY: Ledger.post_journal_entry, ADD_CUSTOMER: Ledger.add_customer}


@dataclass
class Request:
    path: str
    headers: object  # case-insensitive mapping (http.client.HTTPMessage)
    body: dict
    client_address: str
    base_url: str
    query: dict = field(default_factory=dict)  # the URL's query string, decoded
    outage: Callable | None = None  # starts or ends an outage (the /sandbox/outage endpoint)

    @property
    def token(self) -> str | None:
        return self.body.get("token") or self.headers.get(AUTH_HEADER)

    @property
    def device(self) -> str | None:
        return self.headers.get(DEVICE_HEADER) or self.body.get("deviceName")


@dataclass
class Reply:
    status: int
    body: dict | str  # a str is sent as text/html (a proxy's page), a dict as JSON
    after: str | None = None  # faults.DROP or faults.TIMEOUT: what the HTTP layer does next
    headers: dict = field(default_factory=dict)
    close: bool = False  # close the connection after answering


def _plain_row(row: dict) -> dict:
    """A row for JSON inspection: Decimals as their exact text."""
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in row.items()}


def _warning_outputs() -> dict:
    """A GL orchestration built with "Continue on Error" whose last step, the R09110Z batch
    report, failed: the lines are in, the outputs mapped after that step are not."""
    return {
        "jde__status": "WARNING", "jde__simpleMessage": "Orchestration completed with warnings",
        "Errors/Warnings": [{"Application ID": "P0911Z1", "Title": "Journal Entry Batch", "Errors": [],
                             "Warnings": [{"CODE": "3745", "TITLE": "Warning: Batch Not Submitted"}]}],
        "continuedOnError": [{"step": "R09110Z", "message": "report request failed", "timeStamp": timestamp(),
                              "userDefinedErrorText": "", "type": "REPORT"}],
    }


class AisService:
    def __init__(self, *, seed, username: str, password: str, knobs: Knobs, chart_entries=None,
                 state_file=None):
        """`chart_entries`: F0901 at start and after a reset (chart.py's entry forms; the
        default chart when None); ValueError when one is wrong. `state_file`: where the tables
        and counters live across restarts (state.py), None to keep them in memory only."""
        self._lock = threading.Lock()
        self._seed, self._username, self._password = seed, username, password
        self._initial_knobs = knobs.as_dict()
        self._accounts = chart.build(chart.DEFAULT_CHART if chart_entries is None else chart_entries, [])
        # The outage is the server's, not JDE's: a reset leaves it alone (AisSandbox ends it).
        self._outage: tuple[str, float, float] | None = None  # (mode, wall-clock end, monotonic end)
        self._state = StateFile(state_file) if state_file is not None else None
        self._version = 0  # bumped by every change of what the state file keeps; never reset
        self._fresh()
        saved = self._state.load() if self._state else None
        if saved is not None:
            try:
                self._ledger.restore(saved)
            except ValueError as error:
                self._state.set_aside(str(error))

    def _fresh(self) -> None:
        """Everything as at start: empty tables, no tokens, zero counters, the seed's dice."""
        self.knobs = Knobs(**self._initial_knobs)
        self._dice = Dice(self._seed)
        # Tokens, rids and exception ids draw from their own generator so logins never shift the faults.
        self._ids = random.Random(f"{self._seed}:ids")
        self._tokens = TokenStore(self._ids)
        self._data = DataService(self._ids)
        self._ledger = Ledger(self._accounts)
        self._removed: set[str] = set()  # orchestrations taken away (/sandbox/orchestrations/remove)
        self._counts = Counter(token_requests=0, validations=0, logouts=0, invalid_token_responses=0,
                               outage_answers=0)
        self._invalid_by_device: Counter = Counter()
        self._calls: Counter = Counter()
        self._orchestrations: Counter = Counter()
        self._faults = Counter({name: 0 for name in FAULTS})

    # -- knobs the HTTP layer reads outside the lock (a float read is atomic) -----------

    def latency(self) -> float:
        return self.knobs.latency

    def timeout_seconds(self) -> float:
        return self.knobs.timeout_seconds

    def record_call(self, path: str) -> None:
        with self._lock:
            self._calls[path] += 1

    # -- outage (AisSandbox starts and ends it; the HTTP layer asks) ----------------------

    def set_outage(self, mode: str | None, seconds: float = 0.0) -> None:
        with self._lock:
            self._outage = (mode, time.time() + seconds, time.monotonic() + seconds) if mode else None

    def outage_state(self) -> dict | None:
        with self._lock:
            return self._outage_state()

    def _outage_state(self) -> dict | None:
        if self._outage is None:
            return None
        mode, until, ends = self._outage
        if mode == PROXY_503 and time.monotonic() >= ends:
            return None     # the proxy already lets calls through; its timer only tidies up
        return {"mode": mode, "until": round(until, 3)}

    def proxy_answers(self) -> bool:
        """True (and counted) while a proxy_503 outage stands in front of the server."""
        with self._lock:
            if self._outage and self._outage[0] == PROXY_503 and time.monotonic() < self._outage[2]:
                self._counts["outage_answers"] += 1
                return True
            return False

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
            dates = user_format(self.knobs.date_format)
        return Reply(200, {
            "username": session.username, "environment": session.environment, "role": session.role,
            "jasserver": "http://jas.sandbox",
            "userInfo": {
                "token": session.token, "langPref": "  ", "locale": "en", "dateFormat": dates.code,
                "dateSeperator": dates.separator, "simpleDateFormat": dates.pattern, "decimalFormat": ".",
                "addressNumber": 4242, "alphaName": "Sandbox, User",
            },
            "userAuthorized": False, "version": None, "poStringJSON": None, "altPoStringJSON": None,
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
        return Reply(200, {"status": "Success"})   # as Oracle documents (logout.json)

    def _authenticate(self, request: Request, *, token: str | None = None, bind: bool = True,
                      touch: bool = True, may_403: bool = False):
        """The caller's live session (refreshed when `touch`), or AisError 444, counted; on
        orchestrator and data-service calls (`may_403`) the 403 dice may answer instead."""
        now = time.monotonic()
        try:
            session = self._tokens.check(token or request.token, device=request.device,
                                         address=request.client_address, now=now, ttl=self.knobs.token_ttl,
                                         idle=self.knobs.idle_timeout, bind=bind)
        except AisError as error:
            self._counts["invalid_token_responses"] += 1
            self._invalid_by_device[request.device or "(none)"] += 1
            if may_403 and self._dice.token_403(self.knobs):
                self._faults[TOKEN_403] += 1
                raise token_forbidden() from None
            raise error
        if touch:
            session.last_used = now
        return session

    # -- orchestrations and data service (the faulty ones) ------------------------------

    def orchestrate(self, request: Request, name: str) -> Reply:
        started = time.time()
        snapshot = None
        with self._lock:
            self._authenticate(request, may_403=True)
            run = _ORCHESTRATIONS.get(name)
            if run is None or name in self._removed:
                raise unknown_orchestration(name)
            self._orchestrations[name] += 1
            knobs = self.knobs

            def work():
                nonlocal snapshot
                warn = name == POST_JOURNAL_ENTRY and self._dice.warning(knobs)
                try:
                    outputs = run(self._ledger, flatten(request.body), gl_date_input=knobs.gl_date_input,
                                  date_format=knobs.date_format)
                    snapshot = self._changed()
                except FormError as failure:
                    ended = time.time()
                    service_request, form = STEPS[name]
                    raise orchestration_failed(
                        name, service_request, form, [failure.error], started=iso_timestamp(started),
                        ended=iso_timestamp(ended), seconds=round(ended - started, 3),
                        exception_id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4))) from None
                if warn:
                    self._faults[WARNING] += 1
                    outputs = _warning_outputs()
                else:
                    outputs = {**outputs, "jde__status": "SUCCESS"}
                ended = time.time()
                return {**outputs, "jde__startTimestamp": iso_timestamp(started),
                        "jde__endTimestamp": iso_timestamp(ended),
                        "jde__serverExecutionSeconds": round(ended - started, 3)}
            reply = self._with_faults(work, can_drop=True)
        self._save(snapshot)
        return reply

    # -- configuration (no token) ----------------------------------------------------------

    def default_config(self, request: Request) -> Reply:
        """GET /jderest[/v2]/defaultconfig: the server's release and capabilities, no token asked
        (what a client reads to know the server answers before it logs in)."""
        with self._lock:
            knobs = self.knobs
        return Reply(200, defaultconfig.document(request.query, idle_timeout=knobs.idle_timeout,
                                                 token_ttl=knobs.token_ttl))

    # -- discovery ------------------------------------------------------------------------

    def discover(self, request: Request) -> Reply:
        """GET /jderest/discover: the orchestrations this server has now."""
        with self._lock:
            self._authenticate(request)
            present = [name for name in discovery.names() if name not in self._removed]
        return Reply(200, {"orchestrations": [discovery.describe(name) for name in present]})

    def discover_one(self, request: Request, name: str) -> Reply:
        """GET /jderest/discover/{orchestration}: the same list, of that one."""
        with self._lock:
            self._authenticate(request)
            if name not in discovery.names() or name in self._removed:
                raise unknown_orchestration(name)
        return Reply(200, {"orchestrations": [discovery.describe(name)]})

    def open_api(self, request: Request, name: str) -> Reply:
        """GET /jderest/v2/open-api-catalog/{name}: a minimal Swagger document (discovery.py)."""
        with self._lock:
            self._authenticate(request)
            if name not in discovery.names() or name in self._removed:
                raise unknown_orchestration(name)
        return Reply(200, discovery.open_api(name, request.base_url))

    def browse(self, request: Request) -> Reply:
        with self._lock:
            session = self._authenticate(request, may_403=True)
            knobs = self.knobs
            return self._with_faults(lambda: self._data.browse(
                request.body, self._ledger.tables, token=session.token, now=time.monotonic(),
                idle=knobs.idle_timeout, base_url=request.base_url, date_format=knobs.date_format,
                link_style=knobs.next_link_style), can_drop=False)

    def next_page(self, request: Request) -> Reply:
        # The link's query string, then a JSON body (a context object, or one under "context").
        params = {**request.query, **request.body}
        if isinstance(request.body.get("context"), dict):
            params.update(request.body["context"])
        # The oracle link carries the token, so the link alone is a credential: a token taken
        # from it is checked against the device only when the caller names one.
        token = request.token or request.query.get("token")
        with self._lock:
            session = self._authenticate(request, token=token, bind=request.token is not None, may_403=True)
            knobs = self.knobs

            def work():
                expire = self._dice.expiry(knobs)
                return self._data.next_page(
                    params, token=session.token, now=time.monotonic(), idle=knobs.idle_timeout,
                    ttl=knobs.result_set_ttl, expire=expire, base_url=request.base_url,
                    link_style=knobs.next_link_style)
            return self._with_faults(work, can_drop=False)

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
                "faults": {**self._faults, EXPIRED: self._data.expired},
                "journal_entries": len({(row["KCO"], row["DCT"], row["DOC"]) for row in f0911}),
                "f0911_lines": len(f0911), "customers": len(self._ledger.tables["F0101"]),
                "accounts": len(self._ledger.tables["F0901"]), "removed_orchestrations": sorted(self._removed),
                "outage": self._outage_state(),
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
            snapshot = self._changed()
        self._save(snapshot)

    def delete_batch(self, batch) -> int:
        return self._edit(lambda ledger: ledger.delete_batch(str(batch)))

    def set_amount(self, batch, line, amount) -> int:
        return self._edit(lambda ledger: ledger.set_amount(str(batch), line, amount))

    def insert_f0911(self, rows) -> int:
        return self._edit(lambda ledger: ledger.insert_f0911(rows))

    def add_accounts(self, entries) -> int:
        return self._edit(lambda ledger: ledger.add_accounts(entries))

    def remove_account(self, account) -> int:
        return self._edit(lambda ledger: ledger.remove_account(account))

    def _edit(self, change) -> int:
        """A tester's edit of the tables: how many rows it touched (0: nothing changed)."""
        with self._lock:
            count = change(self._ledger)
            snapshot = self._changed() if count else None
        self._save(snapshot)
        return count

    def remove_orchestration(self, name) -> None:
        """The server no longer has `name`: discovery leaves it out, running it answers 500."""
        with self._lock:
            if name not in _ORCHESTRATIONS:
                raise AisError(404, f"no orchestration {name!r}; orchestrations: {', '.join(_ORCHESTRATIONS)}")
            self._removed.add(name)

    def restore_orchestration(self, name=None) -> None:
        """Bring back `name` (None: every removed one)."""
        with self._lock:
            if name is not None and name not in _ORCHESTRATIONS:
                raise AisError(404, f"no orchestration {name!r}; orchestrations: {', '.join(_ORCHESTRATIONS)}")
            self._removed = set() if name is None else self._removed - {name}

    def removed_orchestrations(self) -> list[str]:
        with self._lock:
            return sorted(self._removed)

    # -- the state file -----------------------------------------------------------------

    def _changed(self) -> tuple[int, dict] | None:
        """With the lock held, after a change of the tables or counters: the snapshot to save
        once the lock is let go (None without a state file)."""
        if self._state is None:
            return None
        self._version += 1
        return self._version, self._ledger.snapshot()

    def _save(self, snapshot) -> None:
        if snapshot is not None:
            self._state.write(*snapshot)

    def save(self) -> None:
        """Write the state file now (AisSandbox.stop does); nothing without one."""
        with self._lock:
            snapshot = self._changed()
        self._save(snapshot)
