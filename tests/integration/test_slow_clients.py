"""The web process as the Procfile starts it, against clients that send their bodies slowly or
not at all, and against oversized bodies; on the test Postgres and Redis.

The bounds asserted are the issue's: with 50 slow uploads held open, /healthz and a signed webhook
each answer within 2 s, and the server closes every slow connection within CLOSE_DEADLINE.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import select
import socket
import threading
import time

import pytest

from connector.config import MAX_WEBHOOK_BYTES
from sandbox.woo_webhooks import delivery_headers, signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import TEST_SECRET_KEY
from tests.support import free_port, start_web, wait_for
from web import server as web_server

URL_PATH = "/webhooks/woocommerce"
SLOW = 50
ANSWER_BOUND = 2.0  # seconds: the issue's acceptance criterion for /healthz and a webhook
# Every slow connection must be closed by the server within this many seconds of being opened.
# Stalled ones go after web.server's IDLE_TIMEOUT (10 s), trickling ones after its
# REQUEST_DEADLINE (20 s), each checked every CHECK_INTERVAL (1 s); the rest is slack for a busy
# machine. A server that leaves them open (gunicorn gthread held one 150 s) fails here.
CLOSE_DEADLINE = 30.0


@pytest.fixture
def web(clean_db, tmp_path):
    """The web process on the test database, as deployed: its own Prometheus multiprocess dir."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = dict(os.environ, CONNECTOR_SECRET_KEY=TEST_SECRET_KEY, WOO_WEBHOOK_SECRET=WEBHOOK_SECRET,
               CONNECTOR_VAR_DIR=str(tmp_path), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), PYTHONUNBUFFERED="1")
    port = free_port()
    proc = start_web(env, tmp_path, port)
    try:
        yield {"port": port, "proc": proc, "db": clean_db}
    finally:
        proc.stop()


def _request(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, body bytes, seconds) of one request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.monotonic() - started
    finally:
        conn.close()


def _order(fixture_payload, order_id):
    doc = fixture_payload("order-727")
    doc["id"], doc["number"] = order_id, str(order_id)
    return doc


def _delivery_count(db_url) -> int:
    import psycopg2

    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM deliveries")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the peer has closed: EOF or reset readable now (the server never answers these)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(4096) == b""
    except ConnectionError:
        return True


class SlowUploads:
    """Connections that send a POST's headers (Content-Length 64 KiB) and one body byte; then the
    trickling half sends one more byte a second, the stalled half nothing."""

    def __init__(self, port: int, count: int):
        self.sockets, self.trickling = [], []
        self._stop = threading.Event()
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(f"POST {URL_PATH} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                         f"X-WC-Webhook-Topic: order.updated\r\nContent-Length: 65536\r\n\r\n{{".encode())
            self.sockets.append(sock)
            if i % 2:
                self.trickling.append(sock)
        self.opened_at = time.monotonic()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self):
        open_ones = list(self.trickling)
        # The pace of a slow client, not a synchronisation: one byte a second until told to stop.
        while open_ones and not self._stop.wait(1.0):
            for sock in list(open_ones):
                try:
                    sock.send(b" ")
                except OSError:
                    open_ones.remove(sock)

    def closed(self) -> list[bool]:
        return [_closed_by_server(sock) for sock in self.sockets]

    def close(self):
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def test_slow_clients_healthz_and_webhook_answer_within_bound_and_are_closed(web, fixture_payload):
    assert web_server.IDLE_TIMEOUT < CLOSE_DEADLINE and web_server.REQUEST_DEADLINE < CLOSE_DEADLINE
    port = web["port"]
    slow = SlowUploads(port, SLOW)
    try:
        # Held: the server has every one of them and closed none.
        assert not any(slow.closed())
        healthz = [_request(port, "GET", "/healthz") for _ in range(5)]
        webhooks = [_request(port, "POST", URL_PATH, body, headers)
                    for headers, body in (signed_delivery(_order(fixture_payload, 5000 + n), topic="order.updated",
                                                          secret=WEBHOOK_SECRET) for n in range(3))]
        held_during_answers = not any(slow.closed())

        for status, _, seconds in healthz:
            assert status == 200 and seconds < ANSWER_BOUND, (status, seconds)
        for status, data, seconds in webhooks:
            assert status == 200 and seconds < ANSWER_BOUND, (status, data, seconds)
            assert json.loads(data)["duplicate"] is False
        assert _delivery_count(web["db"]) == 3
        assert held_during_answers, "slow connections were closed before the answers were measured"

        remaining = CLOSE_DEADLINE - (time.monotonic() - slow.opened_at)
        wait_for(lambda: all(slow.closed()), timeout=max(remaining, 0.0), interval=0.2,
                 what=f"the server to close all {SLOW} slow connections within {CLOSE_DEADLINE:.0f} s")
    finally:
        slow.close()
    # Still serving after it (and nothing the slow clients sent was stored).
    assert _request(port, "GET", "/healthz")[0] == 200
    assert _delivery_count(web["db"]) == 3
    assert "its request was not complete" in web["proc"].log()


def _status_line(sock: socket.socket, deadline: float) -> bytes:
    """The first line the server answered with. It may close right after (with a reset, for the
    upload it did not read), or keep the connection open (the receiver's own 413)."""
    data = b""
    sock.settimeout(max(deadline - time.monotonic(), 0.1))
    while b"\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def _status_of(line: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", line)
    assert match, line[:200]
    return int(match.group(1))


def _send_chunked(port: int, headers: dict, total: int, chunk: int = 64 * 1024) -> int:
    """POST `total` bytes in chunked encoding; the status the server answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
        sock.sendall(f"POST {URL_PATH} HTTP/1.1\r\nHost: test\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        try:
            while sent < total:
                size = min(chunk, total - sent)
                sock.sendall(b"%x\r\n" % size + b" " * size + b"\r\n")
                sent += size
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent: read its answer
        return _status_of(_status_line(sock, time.monotonic() + 10))
    finally:
        sock.close()


def _too_large_count(port) -> float:
    status, data, _ = _request(port, "GET", "/metrics")
    assert status == 200
    match = re.search(rb'connector_webhooks_total\{outcome="too_large"\} ([0-9.]+)', data)
    return float(match.group(1)) if match else 0.0


def test_chunked_body_over_2_mib_answers_413(web):
    body_size = MAX_WEBHOOK_BYTES + 128 * 1024
    headers = delivery_headers(body=b" " * body_size, topic="order.updated", secret=WEBHOOK_SECRET)
    assert _send_chunked(web["port"], headers, body_size) == 413
    assert _too_large_count(web["port"]) == 1
    assert _delivery_count(web["db"]) == 0


def test_chunked_body_just_over_2_mib_answers_413_from_the_receiver(web):
    # Within the server's framing margin: the receiver itself sees it, and refuses it as before.
    body_size = MAX_WEBHOOK_BYTES + 1
    headers = delivery_headers(body=b" " * body_size, topic="order.updated", secret=WEBHOOK_SECRET)
    assert _send_chunked(web["port"], headers, body_size) == 413
    assert _too_large_count(web["port"]) == 1


def test_content_length_over_2_mib_answers_413_before_the_body(web):
    sock = socket.create_connection(("127.0.0.1", web["port"]), timeout=10)
    try:
        # Headers only: the answer must not wait for a body it will not take.
        sock.sendall(f"POST {URL_PATH} HTTP/1.1\r\nHost: test\r\nContent-Length: {8 * MAX_WEBHOOK_BYTES}\r\n\r\n"
                     .encode())
        assert _status_of(_status_line(sock, time.monotonic() + 10)) == 413
    finally:
        sock.close()
    assert _too_large_count(web["port"]) == 1


def test_chunked_webhook_of_2_mib_is_taken(web, fixture_payload):
    # The largest body the receiver takes, padded with JSON whitespace, sent chunked: stored, 200.
    body = json.dumps(_order(fixture_payload, 6001)).encode()
    body += b" " * (MAX_WEBHOOK_BYTES - len(body))
    headers = delivery_headers(body=body, topic="order.updated", secret=WEBHOOK_SECRET)
    conn = http.client.HTTPConnection("127.0.0.1", web["port"], timeout=30)
    try:
        conn.request("POST", URL_PATH, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                     headers={k: v for k, v in headers.items() if k.lower() != "content-length"},
                     encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200, response.read()
    finally:
        conn.close()
    assert _delivery_count(web["db"]) == 1


def test_web_server_keeps_health_readiness_metrics_and_admin(web, fixture_payload):
    port = web["port"]
    assert _request(port, "GET", "/healthz")[:2] == (200, b'{"status":"ok"}\n')
    status, data, _ = _request(port, "GET", "/readyz")
    assert status == 200 and json.loads(data)["status"] == "ready"
    headers, body = signed_delivery(_order(fixture_payload, 7001), topic="order.updated", secret=WEBHOOK_SECRET)
    assert _request(port, "POST", URL_PATH, body, headers)[0] == 200
    bad = delivery_headers(body=body, topic="order.updated", secret="wrong")
    assert _request(port, "POST", URL_PATH, body, bad)[0] == 401
    status, data, _ = _request(port, "GET", "/metrics")
    assert status == 200
    assert b'connector_webhooks_total{outcome="queued"} 1.0' in data
    assert b'connector_webhooks_total{outcome="bad_signature"} 1.0' in data
    status, data, _ = _request(port, "GET", "/admin/login")
    assert status == 200 and b"<form" in data.lower()
    # One access-log line per request, as gunicorn's --access-logfile - gave.
    wait_for(lambda: '"GET /admin/login HTTP/1.1" 200' in web["proc"].log(), timeout=5,
             what="the access log line of /admin/login")


def test_web_server_replaces_a_serving_process_that_dies(web):
    import signal

    import psutil

    parent = psutil.Process(web["proc"].popen.pid)
    wait_for(lambda: len(parent.children()) == web_server.PROCESSES, timeout=10, what="the serving processes")
    # Killed once it has served (a process dying while starting stops the whole server instead).
    wait_for(lambda: time.time() - parent.create_time() > web_server.STARTUP_SECONDS + 1,
             timeout=web_server.STARTUP_SECONDS + 5, interval=0.5, what="the server to be past starting")
    victim = parent.children()[0]
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: victim.pid not in {c.pid for c in parent.children()}
             and len(parent.children()) == web_server.PROCESSES, timeout=10, what="a new serving process")
    assert all(_request(web["port"], "GET", "/healthz")[0] == 200 for _ in range(4))
    assert "exited with -9: starting another" in web["proc"].log()
