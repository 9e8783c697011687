"""The web process: the receiver served by waitress, `python -m web.server --bind HOST:PORT`.

Why waitress and not gunicorn's gthread workers: gthread hands a connection to a worker thread
once its headers have arrived, and that thread then reads the body at whatever pace the client
sends it. Eight clients that send headers and trickle (or stall) their bodies held all 2 x 4
threads, and /healthz and every webhook waited behind them. waitress reads every request, body
included, in its single I/O loop and gives a thread only a request that is complete; a slow
client costs a socket and a buffer, never a thread.

What waitress does not do by itself, this module adds:
- a deadline on reading one whole request. waitress closes a connection only after
  `channel_timeout` seconds without a byte, so a client that trickles one byte every few seconds
  would keep its socket (and its buffer) for as long as it likes; here such a request is dropped
  REQUEST_DEADLINE seconds after it was first seen;
- several processes: waitress serves in one, and one Python process uses one core. This one binds
  the socket, forks PROCESSES children that serve it, starts a new child when one dies, and stops
  them all (gracefully) on SIGTERM or SIGINT.

Every setting is a constant below, with its reason; the Procfile, `connector run` and the tests
start this module with nothing but --bind, so they all run the same server.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import sys
import time

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from connector.config import MAX_WEBHOOK_BYTES

log = logging.getLogger("web.server")

# Serving processes, each with its own I/O loop and threads, sharing one listening socket: two,
# as gunicorn's workers were. One process alone is held to one core by the GIL: it took about a
# fifth fewer webhooks a second than gunicorn's two on this 2-core machine (bench.slow_clients).
PROCESSES = 2
# Threads per process that run requests (and only complete ones): four, as gunicorn's gthread
# workers had, and as many as the process's database pool has connections.
THREADS = 4
# A process that exits this soon after it was started failed to start (bad configuration,
# database unreachable at import): starting it again would only loop, so everything stops.
STARTUP_SECONDS = 10
# Connections the kernel queues for accept() (waitress's default).
BACKLOG = 1024
# A request whose bytes have not all arrived this many seconds after its first one is dropped
# (the connection is closed, unanswered). WooCommerce's deliveries are a few KiB sent from a
# server; even the largest body taken (2 MiB) needs under 20 s at 1 Mbit/s. Slower is a broken or
# hostile client, which without this would hold its socket and buffer for as long as it trickles.
REQUEST_DEADLINE = 20
# A connection with no byte in either direction for this long is closed: an idle keep-alive
# connection, or a client that stalled mid-request (gunicorn closed idle keep-alives after 2 s).
IDLE_TIMEOUT = 10
# How often the two timeouts above are checked, in seconds: they act within about two of these.
CHECK_INTERVAL = 1
# Open connections per process beyond which it stops accepting (new ones wait in the backlog, for
# the other process or for a free place). Idle or slow connections cost no thread, only a socket
# and their buffers (below), so this can be far above the thread count: the attack this guards
# against held 8 connections, 50 were tested, and 500 (both processes) would have to be opened
# within one REQUEST_DEADLINE to fill them.
CONNECTION_LIMIT = 250
# Headers are a few hundred bytes from WooCommerce; waitress's default allows 256 KiB per request.
MAX_HEADER_BYTES = 64 * 1024
# A body over this many bytes spills from memory to a temporary file: a webhook is typically a
# few KiB, so only oversized ones touch the disk, and PROCESSES x CONNECTION_LIMIT x (this +
# MAX_HEADER_BYTES) bounds the memory that slow uploads can pin (about 96 MiB).
BODY_IN_MEMORY_BYTES = 128 * 1024
WEBHOOK_PATH = "/webhooks/woocommerce"
# waitress stops reading a request body at this many bytes and answers 413 itself: a Content-Length
# this large is refused before any of the body is read, a chunked body as soon as it passes it.
# The receiver refuses any body over MAX_WEBHOOK_BYTES (413, as before); the margin above it is
# for chunked bodies, whose framing waitress counts too, so that one just under 2 MiB still
# reaches the receiver. (Under gunicorn a chunked body over 2 MiB was answered 401, its
# signature checked against a cut body.)
MAX_BODY_BYTES_READ = MAX_WEBHOOK_BYTES + 64 * 1024


def waitress_settings() -> dict:
    """Keyword arguments of waitress's Adjustments (besides the socket)."""
    return dict(
        threads=THREADS,
        channel_timeout=IDLE_TIMEOUT,
        cleanup_interval=CHECK_INTERVAL,
        connection_limit=CONNECTION_LIMIT,
        max_request_header_size=MAX_HEADER_BYTES,
        inbuf_overflow=BODY_IN_MEMORY_BYTES,
        max_request_body_size=MAX_BODY_BYTES_READ,
        # poll(), not select(): select() cannot watch a descriptor numbered 1024 or more, which a
        # process with many connections (a raised CONNECTION_LIMIT) would reach.
        asyncore_use_poll=True,
        # As gunicorn did: X-Forwarded-* reach the app as sent (it reads none of them), and the
        # URL scheme stays http (no proxy is trusted to say otherwise).
        clear_untrusted_proxy_headers=False,
    )


class _ErrorTask(ErrorTask):
    """waitress's answer to a request it refused itself; a webhook refused for its size is still
    counted on /metrics as the receiver counts it (outcome too_large)."""

    def execute(self):
        if isinstance(self.request.error, RequestEntityTooLarge) and self.request.path == WEBHOOK_PATH:
            from web.metrics import WEBHOOKS

            WEBHOOKS.labels("too_large").inc()
        super().execute()


class _Channel(HTTPChannel):
    error_task_class = _ErrorTask


class Server(TcpWSGIServer):
    """waitress's TCP server on a listening socket it is given, with a deadline on reading each
    request (REQUEST_DEADLINE), its 413s counted, and a stop that waits for the loop's next turn."""

    channel_class = _Channel
    request_deadline = REQUEST_DEADLINE

    def __init__(self, *args, **kwargs):
        # Set before the base class starts, which may already run maintenance().
        self._reading_since: dict[int, tuple[object, float]] = {}
        super().__init__(*args, **kwargs)

    def readable(self):
        # Called by the I/O loop on every turn (at least once a second): where a stop asked for
        # by a signal takes effect, in the loop's own code rather than inside the signal handler.
        if _stop_requested:
            raise SystemExit(0)
        return super().readable()

    def maintenance(self, now):
        """waitress's own (closes connections idle for channel_timeout), then: close every
        connection whose request in progress has been read for longer than the deadline.

        Runs in the I/O loop's thread, the only one that touches `channel.request` (the request
        being received), so it reads it without a lock. A request is timed from the first check
        that sees it, so it is dropped between request_deadline and request_deadline plus two
        cleanup intervals after its first byte."""
        super().maintenance(now)
        still_reading = {}
        for fd, channel in list(self.active_channels.items()):
            partial = channel.request
            # A channel with complete requests queued is being answered: not a slow sender.
            if partial is None or channel.requests or channel.will_close:
                continue
            seen = self._reading_since.get(fd)
            if seen is None or seen[0] is not partial:
                seen = (partial, now)
            still_reading[fd] = seen
            if now - seen[1] >= self.request_deadline:
                log.warning("closing the connection from %s: its request was not complete after %d s",
                            channel.addr[0] if channel.addr else "?", self.request_deadline)
                channel.will_close = True
                del still_reading[fd]
        self._reading_since = still_reading


def access_logged(app):
    """The WSGI app, logging one line per request (as gunicorn's --access-logfile - did)."""
    access = logging.getLogger("web.access")

    def logged(environ, start_response):
        started = time.perf_counter()
        answer = {}

        def recording_start_response(status, headers, exc_info=None):
            answer["status"] = status.split(" ", 1)[0]
            answer["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info)

        body = app(environ, recording_start_response)
        query = environ.get("QUERY_STRING")
        access.info('%s "%s %s%s %s" %s %s %.1fms', environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO", ""), "?" + query if query else "", environ.get("SERVER_PROTOCOL"),
                    answer.get("status", "-"), answer.get("length", "-"), (time.perf_counter() - started) * 1000)
        return body

    return logged


def load_app(spec: str):
    """`module:name` or `module:name()` (gunicorn's form): the object, or what calling it returns."""
    module_name, _, expression = spec.partition(":")
    if not module_name or not expression:
        raise SystemExit(f"--app {spec!r}: expected module:name or module:name()")
    call = expression.endswith("()")
    target = getattr(importlib.import_module(module_name), expression[:-2] if call else expression)
    return target() if call else target


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"--bind {bind!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, shared by every serving process (the kernel gives each connection to
    one of them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # create_server sets SO_REUSEADDR: connections of a previous run in TIME_WAIT do not hold the port.
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


_stop_requested = False
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _request_stop(signum, frame):
    # Only a flag: an exception raised from a signal handler lands wherever the process happens
    # to be, and where that is a finaliser or a library's clean-up (loading the app, closing a
    # socket) it is swallowed, and the process would not stop at all.
    global _stop_requested
    _stop_requested = True


def serve(listener: socket.socket, app_spec: str, access_log: bool) -> None:
    """One serving process: load the app, then run waitress on `listener` until told to stop.

    Heroku, honcho and the tests stop the web process with SIGTERM, a terminal with SIGINT (to
    every process of the group). The I/O loop then ends with SystemExit (Server.readable), which
    makes waitress let the threads finish the requests they are running (up to 5 s; each writes
    its own answer) before the process exits, as gunicorn's graceful stop did. (supervise()
    installs the handler.)"""
    app = load_app(app_spec)
    sockinfo = (listener.family, listener.type, listener.proto, listener.getsockname())
    server = Server(access_logged(app) if access_log else app, _sock=listener, bind_socket=False,
                    sockinfo=sockinfo, sockets=[listener], **waitress_settings())
    if _stop_requested:  # while the app was loading
        return
    log.info("serving %s (waitress, %d threads)", app_spec, THREADS)
    server.run()


def supervise(start_child, processes: int) -> int:
    """Run `processes` children (each calls `start_child`); start a new one when one dies, unless
    it died while starting (a broken app or configuration: everything stops, with its status).
    SIGTERM or SIGINT stops them all, each gracefully."""
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        # Held back across fork(): a stop signal reaching the child before it has its own handler
        # would run the parent's (which stops nothing in the child) and be lost.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            for signum in STOP_SIGNALS:
                signal.signal(signum, _request_stop)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            status = 1
            try:
                start_child()
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                log.exception("web process failed")
            finally:
                sys.stdout.flush()
                # Not a return into the parent's code: this process is done.
                os._exit(status)
        children[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def stop(signum, frame):
        nonlocal stopping
        if signum is not None and not stopping:
            log.info("stopping on %s", signal.Signals(signum).name)
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    for _ in range(processes):
        spawn()
    exit_status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        if time.monotonic() - started < STARTUP_SECONDS:
            log.error("web process %d exited with %d while starting: stopping", pid, code)
            exit_status = code or 1
            stop(None, None)
        else:
            log.warning("web process %d exited with %d: starting another", pid, code)
            spawn()
    return exit_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", required=True, help="HOST:PORT, e.g. 0.0.0.0:$PORT")
    parser.add_argument("--app", default="web.app:create_app()", help="WSGI app (module:name or module:name())")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false",
                        help="do not log a line per request")
    args = parser.parse_args(argv)
    from connector import logs
    from connector.runner import ensure_metrics_dir

    logs.configure(logging.INFO, stream="stdout")
    # Before any child imports prometheus_client: every serving process counts into one directory.
    ensure_metrics_dir()
    listener = listen(*parse_bind(args.bind))
    host, port = listener.getsockname()[:2]
    log.info("listening on http://%s:%s: %d processes of %d threads; request deadline %d s, idle timeout %d s",
             host, port, PROCESSES, THREADS, REQUEST_DEADLINE, IDLE_TIMEOUT)
    return supervise(lambda: serve(listener, args.app, args.access_log), PROCESSES)


if __name__ == "__main__":
    sys.exit(main())
