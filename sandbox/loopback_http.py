"""What both sandbox servers share: a threaded loopback HTTP server that can hang up on its
kept-alive clients when it stops, and a handler that sends every method to `_handle`."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
    # would hold the body back ~40 ms per call, a cost no real server charges.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: "Server"

    def setup(self):
        super().setup()
        self.server.track(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        raise NotImplementedError


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address, handler, verbose: bool):
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self, keep=None) -> None:
        """Hang up on kept-alive clients so no handler thread outlives the sandbox; `keep` is
        one connection spared (a caller that still needs its answer)."""
        with self._connections_lock:
            connections = [connection for connection in self._connections if connection is not keep]
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve_in_background(self, name: str) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=name,
                                  daemon=True)
        thread.start()
        return thread

    def stop_serving(self, thread: threading.Thread) -> None:
        self.shutdown()
        self.close_connections()
        self.server_close()
        thread.join()
