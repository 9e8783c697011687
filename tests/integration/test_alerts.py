"""Alerts end to end: facts of each kind written by the connector's own code, digests sent to a
local HTTP receiver (the Slack-compatible webhook) and a local SMTP server (aiosmtpd, STARTTLS
and login), once per kind per window, with no secret in any message; `connector alerts test`."""
from __future__ import annotations

import email
import email.policy
import hashlib
import json
import ssl
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from connector import alerts, deliveries, webhook_upkeep
from connector.audit_trail import AuditTrail
from connector.cli import main
from connector.reconciliation import Item
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from connector.store import reconciliation as run_rows
from connector.vault import store_credentials
from sandbox.woo_store import WooStoreServer
from sandbox.woo_webhooks import php_json_encode
from tests.support import RedisServer, free_port, one_line_failure, query, start_beat, start_worker, wait_for

AIS_PASSWORD = "ais-Pa55word-7Q"
WOO_KEY, WOO_SECRET = "ck_alerts_key", "cs_Secret-Woo-9X"
HOOK_SECRET = "whsec-Hook-4Z"
SMTP_USER, SMTP_PASSWORD = "alerts", "smtp-Pa55-3K"
ALERT_TOKEN = "T0kenAlertHook8M"
PUBLIC_PASSWORD = "pub-Pa55-2W"
CUSTOMER_EMAIL = "john.doe@example.com"     # order 727's billing address in the fixture
SECRETS = (AIS_PASSWORD, WOO_SECRET, HOOK_SECRET, SMTP_PASSWORD, ALERT_TOKEN, PUBLIC_PASSWORD, CUSTOMER_EMAIL)
KINDS = ("orders", "webhooks", "jde", "reconciliation")


# -- the receivers -------------------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.server.status
        (self.server.bodies if status == 200 else self.server.refused).append(body)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Receiver(ThreadingHTTPServer):
    """An incoming webhook: records each body it took (200) or refused (`status`)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Hook)
        self.status, self.bodies, self.refused = 200, [], []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/{ALERT_TOKEN}"

    def texts(self) -> list[str]:
        return [json.loads(body)["text"] for body in self.bodies]


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


class Mailbox:
    """aiosmtpd's handler and authenticator: what arrived, and every login tried."""

    def __init__(self):
        self.raw, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.logins.append(auth_data.login)
        return AuthResult(success=(auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode()))

    def messages(self) -> list:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.raw]

    def texts(self) -> list[str]:
        return [f"{m['Subject']}\n{m.get_body().get_content()}" for m in self.messages()]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: the SMTP server's, trusted through SSL_CERT_FILE."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    return context


@pytest.fixture
def smtp_server(certificate, monkeypatch):
    """Start an SMTP server on 127.0.0.1: `starttls` (offers STARTTLS, login only over TLS),
    `implicit` (TLS from the first byte, smtps://) or `plain` (no TLS at all)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    started = []

    def start(mode: str = "starttls"):
        mailbox = Mailbox()
        options = {"starttls": {"tls_context": _server_context(certificate), "auth_require_tls": True},
                   "implicit": {"ssl_context": _server_context(certificate), "auth_require_tls": False},
                   "plain": {"auth_require_tls": False}}[mode]
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=mailbox, **options)
        controller.start()
        started.append(controller)
        mailbox.port = controller.port
        return mailbox

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server):
    return smtp_server("starttls")


def _channels_env(monkeypatch, receiver=None, mailbox=None, *, scheme="smtp"):
    for name in ("CONNECTOR_ALERT_WEBHOOK_URL", "CONNECTOR_ALERT_EMAIL", "SMTP_URL", "CONNECTOR_ALERT_FROM"):
        monkeypatch.delenv(name, raising=False)
    if receiver is not None:
        monkeypatch.setenv("CONNECTOR_ALERT_WEBHOOK_URL", receiver.url)
    if mailbox is not None:
        monkeypatch.setenv("CONNECTOR_ALERT_EMAIL", "ops@shop.example, finance@shop.example")
        monkeypatch.setenv("SMTP_URL", f"{scheme}://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{mailbox.port}")


# -- the connector, with secrets everywhere --------------------------------------------------------

def _truncate(db_url, *tables):
    import psycopg2

    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    conn.close()


@pytest.fixture
def shop():
    with WooStoreServer(seed=5, consumer_key=WOO_KEY, consumer_secret=WOO_SECRET) as store:
        yield store


@pytest.fixture
def alerting(clean_db, monkeypatch, receiver, mailbox, shop):
    """A runtime with both channels, the secrets in the environment and the vault, and a public
    URL with a password in it (webhooks are registered to it; nothing listens there)."""
    from connector.runtime import load_runtime

    _channels_env(monkeypatch, receiver, mailbox)
    for name, value in dict(AIS_PASSWORD=AIS_PASSWORD, WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY=WOO_KEY,
                            WOO_CONSUMER_SECRET=WOO_SECRET, WOO_WEBHOOK_SECRET=HOOK_SECRET,
                            CONNECTOR_PUBLIC_URL=f"http://ops:{PUBLIC_PASSWORD}@127.0.0.1:{free_port()}").items():
        monkeypatch.setenv(name, value)
    _truncate(clean_db, "alert_events", "alert_channels", "alert_messages", "reconciliation_runs")
    rt = load_runtime()
    with rt.db.transaction() as cur:
        store_credentials(cur, rt.vault, "woo", {"store_url": shop.url, "consumer_key": WOO_KEY,
                                                 "consumer_secret": WOO_SECRET, "webhook_secrets": [HOOK_SECRET]})
    webhook_upkeep.run(rt)     # registers the connector's webhooks in the shop (nothing to tell)
    rt.breaker.close()
    yield rt
    rt.breaker.close()
    rt.db.close()


def order_needs_attention(rt, fixture_payload, woo_id: int, state: str = "needs_attention") -> None:
    """An order in the shape posting leaves it: the row's state and its audit trail (posting.finish)."""
    document = fixture_payload("order-727") | {"id": woo_id, "number": str(woo_id)}
    body = php_json_encode(document)
    source = rt.mapping.store.source
    error = f"JDE refused the entry of {CUSTOMER_EMAIL}: user JDE password {AIS_PASSWORD} {json.dumps(document)[:200]}"
    with rt.db.transaction() as cur:
        delivery_id, _ = delivery_rows.insert(
            cur, source=source, topic="order.created", webhook_id="1", wc_delivery_id=None, body=body,
            body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(), state="queued",
            error=None, lease_seconds=60)
        deliveries.process(cur, delivery_id, posting_statuses=rt.mapping.posting.statuses)
        order = order_rows.get(cur, source=source, woo_id=woo_id)
        order_rows.finish_posting(cur, order["id"], state=state, error=error)
        AuditTrail(rt.db, "order", woo_id).state_change(cur, "posting", state, error)


def webhook_disabled(rt, shop, topic: str) -> None:
    """WooCommerce disables a webhook; beat's upkeep re-activates it (and records so)."""
    hook = next(w for w in shop.store.webhooks() if w["topic"] == topic and w["status"] == "active")
    shop.disable_webhook(hook["id"])
    assert webhook_upkeep.run(rt)["reactivated"] == [topic]


def jde_goes_down(rt) -> None:
    """The breaker opens (a new outage), its reason quoting what a proxy said."""
    rt.breaker.close()
    for _ in range(rt.settings.breaker_threshold):
        rt.breaker.record_outage(f"HTTP 503 from http://jde:{AIS_PASSWORD}@ais.example.com/jderest")
    assert rt.breaker.state()["state"] == "open"


def reconciliation_differs(rt, woo_id: int, *, failed: bool = False) -> int:
    with rt.db.transaction() as cur:
        run_id = run_rows.start_run(cur, date_from=date(2026, 11, 26), date_to=date(2026, 11, 29))
        if failed:
            run_rows.finish_run(cur, run_id, state="failed", error=f"401 for consumer secret {WOO_SECRET}")
            return run_id
        items = [Item("missing_in_jde", f"WC-{woo_id} for {CUSTOMER_EMAIL}", batch_number=f"WC-{woo_id}",
                      woo_id=woo_id)]
        run_rows.add_items(cur, run_id, items)
        run_rows.finish_run(cur, run_id, state="done", discrepancies=len(items))
    return run_id


def one_of_each(rt, shop, fixture_payload, n: int, topic: str) -> None:
    order_needs_attention(rt, fixture_payload, 700 + n)
    webhook_disabled(rt, shop, topic)
    jde_goes_down(rt)
    reconciliation_differs(rt, 700 + n)


def _by_kind(texts: list[str]) -> dict[str, list[str]]:
    marks = {"orders": "attention", "webhooks": "disabled webhooks", "jde": "JDE unreachable",
             "reconciliation": "reconciliation"}
    return {kind: [t for t in texts if marks[kind] in t.splitlines()[0]] for kind in KINDS}


def _cycle(rt, now):
    return alerts.run(rt, now=now)


# -- digests -------------------------------------------------------------------------------------

def test_alerts_each_kind_once_per_window_then_what_came_since(alerting, receiver, mailbox, shop, fixture_payload):
    rt = alerting
    # JDE counts as down 15 minutes later: the cycles run on a clock 16 minutes ahead.
    t0 = datetime.now(timezone.utc) + timedelta(minutes=16)
    one_of_each(rt, shop, fixture_payload, 1, "order.created")
    outcome = _cycle(rt, t0)
    assert outcome["noticed"] == {kind: 1 for kind in KINDS} and not outcome["failed"]
    for texts in (receiver.texts(), mailbox.texts()):
        assert {kind: len(found) for kind, found in _by_kind(texts).items()} == {kind: 1 for kind in KINDS}

    # Two more of each kind inside the window: noticed, not sent.
    one_of_each(rt, shop, fixture_payload, 2, "order.updated")
    assert _cycle(rt, t0 + timedelta(seconds=60))["sent"] == []
    one_of_each(rt, shop, fixture_payload, 3, "customer.created")
    outcome = _cycle(rt, t0 + timedelta(seconds=120))
    assert outcome["noticed"] == {kind: 1 for kind in KINDS} and outcome["sent"] == []
    assert len(receiver.bodies) == len(mailbox.raw) == 4

    # The window is over: one message per kind, carrying both, and nothing of the first.
    outcome = _cycle(rt, t0 + timedelta(seconds=900))
    assert sorted(outcome["sent"]) == sorted((channel, kind, 2) for channel in ("webhook", "e-mail") for kind in KINDS)
    for texts in (receiver.texts()[4:], mailbox.texts()[4:]):
        second = {kind: found for kind, found in _by_kind(texts).items()}
        assert all(len(found) == 1 for found in second.values()), second
        assert "2 orders need attention" in second["orders"][0]
        assert "702 (needs_attention), 703 (needs_attention)." in second["orders"][0]
        assert "701" not in second["orders"][0]
        assert "/admin/orders/702" in second["orders"][0] and "`connector orders show 702`" in second["orders"][0]
        assert "customer.created, order.updated (2 times" in second["webhooks"][0]
        assert "unreachable 2 times" in second["jde"][0]
        assert "2 reconciliation runs" in second["reconciliation"][0] and "WC-703" in second["reconciliation"][0]
        assert "WC-701" not in second["reconciliation"][0]
    sent = query(rt.database_url, "SELECT channel, kind, events FROM alert_messages WHERE outcome = 'sent' "
                                  "ORDER BY id")
    assert len(sent) == 16 and sorted(r["events"] for r in sent) == [1] * 8 + [2] * 8


def test_alerts_no_secret_in_any_message(alerting, receiver, mailbox, shop, fixture_payload):
    rt = alerting
    one_of_each(rt, shop, fixture_payload, 1, "order.created")
    order_needs_attention(rt, fixture_payload, 727, state="failed")
    reconciliation_differs(rt, 0, failed=True)
    outcome = _cycle(rt, datetime.now(timezone.utc) + timedelta(minutes=16))
    assert len(outcome["sent"]) == 8
    assert CliRunner().invoke(main, ["alerts", "test"]).exit_code == 0
    bodies = [body.decode() for body in receiver.bodies] + [raw.decode("utf-8", "replace") for raw in mailbox.raw]
    texts = receiver.texts() + mailbox.texts()
    assert len(bodies) == len(texts) == 10
    for secret in SECRETS:
        assert not [t for t in bodies + texts if secret in t], secret
    # The pointers are there, without the public URL's password.
    assert any(f"http://127.0.0.1:{rt.settings.public_url.rsplit(':', 1)[1]}/admin/orders/701" in t for t in texts)
    assert mailbox.logins == [SMTP_USER.encode()] * 5


def test_alerts_failed_channel_keeps_its_events_for_the_next_cycle(alerting, receiver, mailbox, fixture_payload):
    rt = alerting
    t0 = datetime.now(timezone.utc)
    order_needs_attention(rt, fixture_payload, 701)
    receiver.status = 500
    outcome = _cycle(rt, t0)
    assert outcome["failed"] == [("webhook", "orders", f"127.0.0.1:{receiver.server_address[1]} answered HTTP 500")]
    assert outcome["sent"] == [("e-mail", "orders", 1)]          # the other channel went on
    order_needs_attention(rt, fixture_payload, 702)
    receiver.status = 200
    outcome = _cycle(rt, t0 + timedelta(seconds=60))
    assert outcome["sent"] == [("webhook", "orders", 2)]          # e-mail waits for its window
    assert "701 (needs_attention), 702 (needs_attention)." in receiver.texts()[0]
    failed = query(rt.database_url, "SELECT channel, kind, events, error FROM alert_messages WHERE outcome = 'failed'")
    assert [(r["channel"], r["events"]) for r in failed] == [("webhook", 1)] and ALERT_TOKEN not in failed[0]["error"]


def test_alerts_off_without_channels(clean_db, monkeypatch, fixture_payload):
    from connector.runtime import load_runtime

    _channels_env(monkeypatch)
    _truncate(clean_db, "alert_events", "alert_channels", "alert_messages")
    rt = load_runtime()
    try:
        order_needs_attention(rt, fixture_payload, 701)
        assert alerts.run(rt) == {"skipped": "alerts are off"}
        assert query(rt.database_url, "SELECT count(*) AS n FROM alert_events") == [{"n": 0}]
    finally:
        rt.db.close()


def test_alerts_beat_and_worker_send_the_digest(alerting, receiver, mailbox, fixture_payload, tmp_path):
    """The beat entry, the task in a real worker, and beat's one line at start (hosts only)."""
    import os

    broker = RedisServer(tmp_path).start()
    env = dict(os.environ, CELERY_BROKER_URL=broker.url, CONNECTOR_ALERT_SECONDS="1", CONNECTOR_VAR_DIR=str(tmp_path))
    procs = []
    try:
        procs.append(start_worker(env, tmp_path))
        procs.append(start_beat(env, tmp_path))
        order_needs_attention(alerting, fixture_payload, 727, state="failed")
        wait_for(lambda: receiver.bodies and mailbox.raw, timeout=60, what="the digest from the worker")
        assert "727 (failed)" in receiver.texts()[0] and "727 (failed)" in mailbox.texts()[0]
        beat_log = procs[1].log()
        assert f"alerts: webhook to 127.0.0.1:{receiver.server_address[1]}, e-mail to 2 recipient(s) via " \
               f"127.0.0.1:{mailbox.port}" in beat_log
        assert ALERT_TOKEN not in beat_log + procs[0].log() and SMTP_PASSWORD not in beat_log + procs[0].log()
    finally:
        for proc in procs:
            proc.stop()
        broker.stop()


# -- connector alerts test -------------------------------------------------------------------------

def test_alerts_test_command_sends_to_each_channel(monkeypatch, receiver, mailbox):
    _channels_env(monkeypatch, receiver, mailbox)
    result = CliRunner().invoke(main, ["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"alerts webhook (127.0.0.1:{receiver.server_address[1]}): sent",
        f"alerts e-mail (127.0.0.1:{mailbox.port}): sent"]
    assert "test message" in receiver.texts()[0]
    [message] = mailbox.messages()
    assert message["To"] == "ops@shop.example, finance@shop.example"
    assert message["From"] == "woo-jde-connector@127.0.0.1"
    assert mailbox.logins == [SMTP_USER.encode()]


def test_alerts_test_command_smtps_implicit_tls(monkeypatch, smtp_server):
    mailbox = smtp_server("implicit")
    _channels_env(monkeypatch, mailbox=mailbox, scheme="smtps")
    result = CliRunner().invoke(main, ["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert len(mailbox.raw) == 1 and mailbox.logins == [SMTP_USER.encode()]


@pytest.mark.parametrize("channel", ["webhook", "e-mail"])
def test_alerts_test_command_dead_port_fails_in_one_line(monkeypatch, channel):
    dead = free_port()
    if channel == "webhook":
        monkeypatch.setenv("CONNECTOR_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{dead}/services/{ALERT_TOKEN}")
        for name in ("CONNECTOR_ALERT_EMAIL", "SMTP_URL"):
            monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.delenv("CONNECTOR_ALERT_WEBHOOK_URL", raising=False)
        monkeypatch.setenv("CONNECTOR_ALERT_EMAIL", "ops@shop.example")
        monkeypatch.setenv("SMTP_URL", f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{dead}")
    result = CliRunner().invoke(main, ["alerts", "test"])
    one_line_failure(result, f"alerts {channel} (127.0.0.1:{dead}): failed", "connection refused", "Fix:")
    assert ALERT_TOKEN not in result.output and SMTP_PASSWORD not in result.output


def test_alerts_test_command_keeps_password_off_a_server_without_starttls(monkeypatch, smtp_server):
    mailbox = smtp_server("plain")
    _channels_env(monkeypatch, mailbox=mailbox)
    result = CliRunner().invoke(main, ["alerts", "test"])
    one_line_failure(result, "alerts e-mail", "offers no STARTTLS", "smtps://")
    assert mailbox.logins == [] and mailbox.raw == []


@pytest.mark.parametrize("variables, words", [
    ({}, ["no channel is configured", "CONNECTOR_ALERT_WEBHOOK_URL"]),
    ({"CONNECTOR_ALERT_EMAIL": "ops@shop.example", "SMTP_URL": f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@mail:port"},
     ["SMTP_URL", "port", "Fix:"]),
])
def test_alerts_test_command_refuses_missing_or_malformed_settings(monkeypatch, variables, words):
    _channels_env(monkeypatch)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["alerts", "test"])
    one_line_failure(result, *words)
    assert SMTP_PASSWORD not in result.output
