"""The HTTP side of the sandbox AIS server: routing, JSON framing, faults that need a socket.

Stdlib ThreadingHTTPServer rather than a framework because a "drop" fault must commit and
then close the TCP connection without any response, which needs the raw socket. HTTP/1.1
keep-alive works: every answer carries Content-Length, and request bodies are always read in
full, even when the answer is an error, so the next request on the connection stays framed.
"""
from __future__ import annotations

import re
import socket
import sys
import threading
from urllib.parse import unquote, urlsplit

from sandbox.ais import jsontext
from sandbox.ais.errors import SERVER_EXCEPTION, AisError, error_body
from sandbox.ais.faults import DROP, TIMEOUT, Knobs
from sandbox.ais.service import AisService, Reply, Request
from sandbox.loopback_http import Handler, Server


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


def _matched(what: str, count: int, request: Request) -> Reply:
    # An edit that matched nothing is a broken test scenario: say so instead of answering 0.
    if not count:
        raise AisError(404, f"no F0911 rows matched {request.body}")
    return _ok({what: count})


# (path pattern, {method: handler(service, request, **path params)}, faulty: latency applies)
ROUTES = [
    (r"/jderest/v2/tokenrequest", {"POST": AisService.token_request}, False),
    (r"/jderest/v2/tokenrequest/validate", {"POST": AisService.validate}, False),
    (r"/jderest/v2/tokenrequest/logout", {"POST": AisService.logout}, False),
    (r"/jderest/v3/orchestrator/(?P<name>[^/]+)", {"POST": AisService.orchestrate}, True),
    (r"/jderest/v2/dataservice", {"POST": AisService.browse}, True),
    (r"/jderest/v2/dataservice/next", {"POST": AisService.next_page}, True),
    (r"/sandbox/stats", {"GET": _stats}, False),
    (r"/sandbox/tables/(?P<name>[^/]+)", {"GET": _table}, False),
    (r"/sandbox/config", {"GET": _knobs, "POST": _configure}, False),
    (r"/sandbox/expire-tokens", {"POST": _expire_tokens}, False),
    (r"/sandbox/reset", {"POST": _reset}, False),
    (r"/sandbox/f0911/delete", {"POST": _delete_batch}, False),
    (r"/sandbox/f0911/set-amount", {"POST": _set_amount}, False),
    (r"/sandbox/f0911/insert", {"POST": _insert}, False),
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
        path = urlsplit(self.path).path.rstrip("/") or "/"
        service = self.server.service
        try:
            reply = self._dispatch(method, path, raw, service)
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
        try:
            self._send(reply)
        except OSError:  # the client gave up (its read timeout fired)
            self.close_connection = True

    def _dispatch(self, method: str, path: str, raw: bytes, service: AisService) -> Reply:
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
                          base_url=f"http://{host}")
        return methods[method](service, request, **params)

    def _json_body(self, path: str, raw: bytes) -> dict:
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        # AIS (JAX-RS) refuses anything but JSON before it looks at the body. The sandbox's own
        # control endpoints also take an empty body without a type, for `curl -X POST`.
        if media_type != "application/json" and (path.startswith("/jderest/") or raw.strip()):
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
        data = jsontext.dumps(reply.body)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class _Server(Server):
    def __init__(self, address, service: AisService, stopping: threading.Event, verbose: bool):
        self.service, self.stopping = service, stopping
        super().__init__(address, _Handler, verbose)


class AisSandbox:
    """A JDE AIS server on loopback: `with AisSandbox(seed=1).start() as ais: ais.url`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed=1, username: str = "JDE",
                 password: str = "JDE", token_ttl: float = 3600.0, idle_timeout: float = 1200.0,
                 latency: float = 0.0, error_rate: float = 0.0, timeout_rate: float = 0.0,
                 timeout_seconds: float = 30.0, drop_rate: float = 0.0, verbose: bool = False):
        knobs = Knobs()
        knobs.update(dict(token_ttl=token_ttl, idle_timeout=idle_timeout, latency=latency, error_rate=error_rate,
                          timeout_rate=timeout_rate, timeout_seconds=timeout_seconds, drop_rate=drop_rate))
        self.service = AisService(seed=seed, username=username, password=password, knobs=knobs)
        self._address, self._verbose = (host, port), verbose
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "AisSandbox":
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self._address, self.service, self._stopping, self._verbose)
            self._thread = self._server.serve_in_background(f"ais-sandbox-{self.port}")
        return self

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
        if self._server is None:
            return
        self._stopping.set()  # wakes latency and timeout sleepers
        self._server.stop_serving(self._thread)
        self._server = self._thread = None

    def __enter__(self) -> "AisSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- in-process inspection and control (the same as /sandbox/* over HTTP) ------------

    def f0911_rows(self) -> list[dict]:
        return self.service.rows("F0911")

    def f0101_rows(self) -> list[dict]:
        return self.service.rows("F0101")

    def f01151_rows(self) -> list[dict]:
        return self.service.rows("F01151")

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
    with AisSandbox(host=host, port=port, **options) as sandbox:
        print(f"JDE AIS sandbox listening on {sandbox.url} (user {options.get('username', 'JDE')})",
              file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
