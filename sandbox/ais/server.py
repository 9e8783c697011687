"""The HTTP side of the sandbox AIS server: routing, JSON framing, faults that need a socket.

Stdlib ThreadingHTTPServer rather than a framework because a "drop" fault must commit and
then close the TCP connection without any response, which needs the raw socket. HTTP/1.1
keep-alive works: every answer carries Content-Length, and request bodies are always read in
full, even when the answer is an error, so the next request on the connection stays framed.

Outages are a sandbox knob imitating what a client meets when AIS is down, not AIS
behaviour: `refuse` closes the listening socket and hangs up kept-alive connections, so
connects are refused until the timer listens again on the same port; `proxy_503` leaves the
socket up and answers every /jderest/* call 503 with an HTML page, as a load balancer in
front of AIS does during maintenance (/sandbox/* keeps working).
"""
from __future__ import annotations

import functools
import math
import re
import socket
import sys
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.ais import jsontext
from sandbox.ais.dataservice import NEXT_PATH
from sandbox.ais.errors import PROXY_PAGE, SERVER_EXCEPTION, AisError, error_body
from sandbox.ais.faults import DROP, TIMEOUT, Knobs
from sandbox.ais.service import PROXY_503, AisService, Reply, Request
from sandbox.loopback_http import Handler, Server

REFUSE = "refuse"
OUTAGE_MODES = (REFUSE, PROXY_503)


def _ok(document) -> Reply:
    return Reply(200, document)


def _stats(service: AisService, request: Request) -> Reply:
    return _ok(service.stats())


def _table(service: AisService, request: Request, name: str) -> Reply:
    return _ok(service.table_reply(name))


def _knobs(service: AisService, request: Request) -> Reply:
    return _ok(service.current_knobs())


def _configure(service: AisService, request: Request) -> Reply:
    return _ok(service.configure(request.body))


def _expire_tokens(service: AisService, request: Request) -> Reply:
    service.expire_tokens()
    return _ok({})


def _reset(service: AisService, request: Request) -> Reply:
    service.reset()
    return _ok({})


def _delete_batch(service: AisService, request: Request) -> Reply:
    return _matched("deleted", service.delete_batch(request.body.get("batch")), request)


def _set_amount(service: AisService, request: Request) -> Reply:
    body = request.body
    return _matched("updated", service.set_amount(body.get("batch"), body.get("line"), body.get("amount")), request)


def _insert(service: AisService, request: Request) -> Reply:
    return _ok({"inserted": service.insert_f0911(request.body.get("rows"))})


def _insert_accounts(service: AisService, request: Request) -> Reply:
    rows = request.body.get("rows")
    if not isinstance(rows, list):
        raise AisError(400, "insert needs {\"rows\": [ {MCU, OBJ, SUB, DL01, PEC, LDA}, ... ]}")
    return _ok({"inserted": service.add_accounts(rows)})


def _delete_account(service: AisService, request: Request) -> Reply:
    return _matched("deleted", service.remove_account(request.body.get("account")), request, table="F0901")


def _remove_orchestration(service: AisService, request: Request) -> Reply:
    service.remove_orchestration(request.body.get("name"))
    return _ok({"removed": service.removed_orchestrations()})


def _restore_orchestration(service: AisService, request: Request) -> Reply:
    service.restore_orchestration(request.body.get("name"))
    return _ok({"removed": service.removed_orchestrations()})


def _outage(service: AisService, request: Request) -> Reply:
    body = request.body
    state = request.outage(body.get("seconds"), body.get("mode", REFUSE))
    # A refuse outage has already hung up every other connection; this one closes after the answer.
    return Reply(200, {"outage": state}, close=bool(state and state["mode"] == REFUSE))


def _matched(what: str, count: int, request: Request, table: str = "F0911") -> Reply:
    # An edit that matched nothing is a broken test scenario: say so instead of answering 0.
    if not count:
        raise AisError(404, f"no {table} rows matched {request.body}")
    return _ok({what: count})


# (path pattern, {method: handler(service, request, **path params)}, faulty: latency applies)
ROUTES = [
    (r"/jderest/v2/tokenrequest", {"POST": AisService.token_request}, False),
    (r"/jderest/v2/tokenrequest/validate", {"POST": AisService.validate}, False),
    (r"/jderest/v2/tokenrequest/logout", {"POST": AisService.logout}, False),
    (r"/jderest/v3/orchestrator/(?P<name>[^/]+)", {"POST": AisService.orchestrate}, True),
    (r"/jderest/v2/dataservice", {"POST": AisService.browse}, True),
    (r"/jderest/v2/dataservice/next", {"POST": AisService.next_page}, True),
    (r"/jderest(?:/v2)?/defaultconfig", {"GET": AisService.default_config}, False),
    (r"/jderest/discover", {"GET": AisService.discover}, False),
    (r"/jderest/discover/(?P<name>[^/]+)", {"GET": AisService.discover_one}, False),
    (r"/jderest/v2/open-api-catalog/(?P<name>[^/]+)", {"GET": AisService.open_api}, False),
    (r"/sandbox/stats", {"GET": _stats}, False),
    (r"/sandbox/tables/(?P<name>[^/]+)", {"GET": _table}, False),
    (r"/sandbox/config", {"GET": _knobs, "POST": _configure}, False),
    (r"/sandbox/expire-tokens", {"POST": _expire_tokens}, False),
    (r"/sandbox/reset", {"POST": _reset}, False),
    (r"/sandbox/outage", {"POST": _outage}, False),
    (r"/sandbox/f0911/delete", {"POST": _delete_batch}, False),
    (r"/sandbox/f0911/set-amount", {"POST": _set_amount}, False),
    (r"/sandbox/f0911/insert", {"POST": _insert}, False),
    (r"/sandbox/f0901/insert", {"POST": _insert_accounts}, False),
    (r"/sandbox/f0901/delete", {"POST": _delete_account}, False),
    (r"/sandbox/orchestrations/remove", {"POST": _remove_orchestration}, False),
    (r"/sandbox/orchestrations/restore", {"POST": _restore_orchestration}, False),
]
_COMPILED = [(re.compile(pattern), methods, faulty) for pattern, methods, faulty in ROUTES]


def _route(path: str):
    for pattern, methods, faulty in _COMPILED:
        match = pattern.fullmatch(path)
        if match:
            return methods, faulty, {key: unquote(value) for key, value in match.groupdict().items()}
    return None, False, {}


class _Handler(Handler):
    server_version = "AIS-Sandbox/1.0"

    def _handle(self, method: str) -> None:
        raw = self._read_body()
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        service = self.server.service
        try:
            if path.startswith("/jderest/") and service.proxy_answers():
                reply = Reply(503, PROXY_PAGE)
            else:
                reply = self._dispatch(method, path, dict(parse_qsl(url.query, keep_blank_values=True)), raw,
                                       service)
        except AisError as error:
            reply = Reply(error.status, error.body, headers=error.headers)
        except Exception as error:  # a sandbox bug: say so in the body rather than hang up
            reply = Reply(500, error_body(f"{type(error).__name__}: {error}", SERVER_EXCEPTION))
        if reply.after == DROP:
            # Committed, now vanish: no status line, the client sees the connection close.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if reply.after == TIMEOUT and self.server.stopping.wait(service.timeout_seconds()):
            self.close_connection = True
            return
        if reply.close:
            self.close_connection = True
        try:
            self._send(reply)
        except OSError:  # the client gave up (its read timeout fired)
            self.close_connection = True

    def _dispatch(self, method: str, path: str, query: dict, raw: bytes, service: AisService) -> Reply:
        methods, faulty, params = _route(path)
        if methods is None:
            raise AisError(404, f"No resource at {path}")
        if path.startswith("/jderest/"):
            service.record_call(path)
        if method not in methods:
            raise AisError(405, f"Method {method} not allowed on {path}", headers={"Allow": ", ".join(methods)})
        body = self._json_body(path, raw) if method == "POST" else {}
        if faulty and self.server.stopping.wait(service.latency()):
            raise AisError(503, "Sandbox is stopping")
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        request = Request(path=path, headers=self.headers, body=body, client_address=self.client_address[0],
                          base_url=f"http://{host}", query=query,
                          outage=functools.partial(self.server.control.outage, keep=self.connection))
        return methods[method](service, request, **params)

    def _json_body(self, path: str, raw: bytes) -> dict:
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        # AIS (JAX-RS) refuses anything but JSON before it looks at the body. The sandbox's own
        # control endpoints also take an empty body without a type, for `curl -X POST`, and so
        # does /next: its link carries every parameter, so a client may post it bare.
        if media_type != "application/json" and (path.startswith("/jderest/") or raw.strip()) \
                and not (path == NEXT_PATH and not raw.strip()):
            raise AisError(415, f"Unsupported Media Type {media_type or '(none)'}: send application/json")
        if not raw.strip():
            return {}
        try:
            body = jsontext.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise AisError(400, f"The request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise AisError(400, "The request body must be a JSON object")
        return body

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, str):
            data, content_type = reply.body.encode("utf-8"), "text/html"
        else:
            data, content_type = jsontext.dumps(reply.body), "application/json;charset=UTF-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class _Server(Server):
    def __init__(self, address, service: AisService, control: "AisSandbox", verbose: bool):
        self.service, self.control = service, control
        self.stopping = threading.Event()  # set when this listener stops: wakes latency and timeout sleepers
        super().__init__(address, _Handler, verbose)


def _outage_args(seconds, mode) -> tuple[float, str]:
    try:
        number = float(seconds)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(seconds, bool) or not math.isfinite(number) or number < 0:
        raise AisError(400, f"outage seconds must be a number >= 0, got {seconds!r}")
    if mode not in OUTAGE_MODES:
        raise AisError(400, f"outage mode must be one of {', '.join(OUTAGE_MODES)}, got {mode!r}")
    return number, mode


class AisSandbox:
    """A JDE AIS server on loopback: `with AisSandbox(seed=1).start() as ais: ais.url`.

    Every knob of faults.Knobs is a keyword argument; `configure(**knobs)` changes them at run
    time (as POST /sandbox/config does), and `outage(seconds, mode)` takes the server down.
    `chart` replaces the default chart of accounts (F0901, chart.py: "BU.Obj[.Sub]" strings or
    dicts); `state_file` keeps the tables and counters across restarts (state.py)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed=1, username: str = "JDE",
                 password: str = "JDE", token_ttl: float = 3600.0, idle_timeout: float = 1200.0,
                 latency: float = 0.0, error_rate: float = 0.0, timeout_rate: float = 0.0,
                 timeout_seconds: float = 30.0, drop_rate: float = 0.0, date_format: str = "dd.MM.yyyy",
                 gl_date_input: str = "julian", warning_rate: float = 0.0, invalid_token_403_rate: float = 0.0,
                 next_link_style: str = "oracle", result_set_ttl: float = 60.0,
                 result_set_expiry_rate: float = 0.0, chart: list | None = None, state_file=None,
                 verbose: bool = False):
        knobs = Knobs()
        knobs.update(dict(token_ttl=token_ttl, idle_timeout=idle_timeout, latency=latency, error_rate=error_rate,
                          timeout_rate=timeout_rate, timeout_seconds=timeout_seconds, drop_rate=drop_rate,
                          date_format=date_format, gl_date_input=gl_date_input, warning_rate=warning_rate,
                          invalid_token_403_rate=invalid_token_403_rate, next_link_style=next_link_style,
                          result_set_ttl=result_set_ttl, result_set_expiry_rate=result_set_expiry_rate))
        self.service = AisService(seed=seed, username=username, password=password, knobs=knobs,
                                  chart_entries=chart, state_file=state_file)
        self._address, self._verbose = (host, port), verbose
        # Guards the listener, its thread and the outage timer. Never held while joining a
        # thread or stopping a listener: handler threads may be waiting for it.
        self._control = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._refusing = False             # a refuse outage: _server is shut and its socket closed
        self._retired: list[_Server] = []  # listeners closed by refuse outages, their threads joined at stop
        self._timer: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    def start(self) -> "AisSandbox":
        with self._control:
            if self._server is None:
                self._listen(self._address)
        return self

    def _listen(self, address) -> None:
        self._server = _Server(address, self.service, self, self._verbose)
        self._thread = self._server.serve_in_background(f"ais-sandbox-{self.port}")

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._address[1]

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        with self._control:
            refusing, self._refusing = self._refusing, False  # so ending the outage does not listen again
            timer = self._end_outage()
            server, thread, retired = self._server, self._thread, self._retired
            if refusing:
                server, retired = None, retired + [server]  # already shut, its socket closed
            self._server = self._thread = None
            self._retired = []
        if timer is not None:
            timer.join()
        for old in retired:
            old.server_close()  # joins its handler threads, hung up when it closed
        if server is not None:
            server.stopping.set()
            server.stop_serving(thread)
        self.service.save()  # no handler is left to change anything

    def __enter__(self) -> "AisSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- outages ----------------------------------------------------------------------------

    def outage(self, seconds, mode: str = REFUSE, *, keep=None) -> dict | None:
        """Take the server down for `seconds` (0 ends an outage): `refuse` connections, or
        answer /jderest/* as a `proxy_503`. A new outage replaces the current one. Connects
        are refused as soon as this returns; `keep` is a connection not to hang up (the
        /sandbox/outage caller's, which still needs its answer). Answers the outage state."""
        seconds, mode = _outage_args(seconds, mode)
        with self._control:
            if self._server is None:
                raise AisError(409, "the sandbox is not started")
            old_timer = self._end_outage()
            if seconds > 0:
                self.service.set_outage(mode, seconds)
                if mode == REFUSE:
                    self._refuse(keep)
                self._cancel = cancel = threading.Event()
                self._timer = threading.Thread(target=self._outage_timer, args=(cancel, seconds),
                                               name=f"ais-sandbox-outage-{self.port}", daemon=True)
                self._timer.start()
            state = self.service.outage_state()
        if old_timer is not None and old_timer is not threading.current_thread():
            old_timer.join()
        return state

    def end_outage(self) -> None:
        self.outage(0)

    def _outage_timer(self, cancel: threading.Event, seconds: float) -> None:
        if cancel.wait(min(seconds, threading.TIMEOUT_MAX)):
            return
        with self._control:
            if not cancel.is_set():  # not ended, replaced or stopped while this woke
                self._end_outage()

    def _refuse(self, keep) -> None:
        """Close the listening socket (connects are refused) and hang up kept-alive clients."""
        server = self._server
        server.stopping.set()
        server.shutdown()
        self._thread.join()
        server.socket.close()
        server.close_connections(keep=keep)
        self._refusing = True

    def _end_outage(self) -> threading.Thread | None:
        """End the current outage, if any: listen again after a refuse. Answers the timer
        thread for the caller to join once it has let go of the lock."""
        timer, cancel = self._timer, self._cancel
        self._timer = self._cancel = None
        if cancel is not None:
            cancel.set()
        if self._refusing:
            self._refusing = False
            old = self._server
            self._retired.append(old)
            # The same port: a client retrying its configured URL must find the server again.
            # Not server_close() here: this may run on one of the old listener's handler threads.
            self._listen((old.server_address[0], old.server_address[1]))
        self.service.set_outage(None)
        return timer

    # -- in-process inspection and control (the same as /sandbox/* over HTTP) ------------

    def f0911_rows(self) -> list[dict]:
        return self.service.rows("F0911")

    def f0101_rows(self) -> list[dict]:
        return self.service.rows("F0101")

    def f01151_rows(self) -> list[dict]:
        return self.service.rows("F01151")

    def f0901_rows(self) -> list[dict]:
        return self.service.rows("F0901")

    def add_accounts(self, entries) -> int:
        """Add F0901 rows: chart entries ("M30.4070", {"account", "description", "PEC"}, or a
        row {MCU, OBJ, SUB, DL01, PEC, LDA}); AisError 400 for a bad or duplicate one."""
        return self.service.add_accounts([entries] if isinstance(entries, (str, dict)) else list(entries))

    def remove_account(self, account: str) -> int:
        """Delete the F0901 row of "BU.Obj[.Sub]"; how many went (0 when none matched)."""
        return self.service.remove_account(account)

    def remove_orchestration(self, name: str) -> None:
        self.service.remove_orchestration(name)

    def restore_orchestration(self, name: str | None = None) -> None:
        self.service.restore_orchestration(name)

    def stats(self) -> dict:
        return self.service.stats()

    def configure(self, **knobs) -> dict:
        return self.service.configure(knobs)

    def expire_tokens(self) -> None:
        self.service.expire_tokens()

    def issued_tokens(self) -> list[str]:
        return self.service.issued_tokens()

    def reset(self) -> None:
        self.service.reset()


def serve(port: int, *, host: str = "127.0.0.1", **options) -> None:
    """Run a sandbox in the foreground until Ctrl-C (`python -m sandbox.ais`)."""
    try:
        sandbox = AisSandbox(host=host, port=port, **options)
    except ValueError as error:  # a bad chart: say what, without a traceback
        raise SystemExit(f"sandbox AIS: {error}") from None
    with sandbox:
        state = f", state in {options['state_file']}" if options.get("state_file") else ""
        print(f"JDE AIS sandbox listening on {sandbox.url} (user {options.get('username', 'JDE')}{state})",
              file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
