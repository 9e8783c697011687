"""Admin security: sessions that end, CSRF, response headers, the throttle under concurrency,
names of any script, equal work for unknown names, Flower behind basic auth, /metrics' token."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from connector import login_attempts
from connector.cli import main
from tests.integration.test_admin import _sign_in, _sign_out, csrf_token

ROOT = Path(__file__).resolve().parents[2]
STRONG = "correct horse battery"


@pytest.fixture
def throttle(runtime):
    """The login failure counts of the names these tests use, cleared before and after."""
    names = ("admin", "finance", "Jörg", "José", "nobody")

    def clear():
        for name in names:
            login_attempts.clear(runtime.redis, name)

    clear()
    yield runtime.redis
    clear()


def _store_admin(username="finance", password=STRONG):
    result = CliRunner().invoke(main, ["credentials", "set", "admin", "--username", username],
                                input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output


def _copy_session(source, target):
    """Put `source`'s session cookie into `target`, as someone who copied it would."""
    target.set_cookie("session", source.get_cookie("session").value)
    return target


def _app(runtime, **changes):
    from connector.runtime import Runtime
    from web.app import create_app

    other = Runtime(settings=dataclasses.replace(runtime.settings, **changes.pop("settings", {})),
                    mapping=runtime.mapping, database_url=runtime.database_url,
                    redis_url=changes.pop("redis_url", runtime.redis_url))
    return create_app({"RUNTIME": other, "ENQUEUE": lambda i: True, "BROKER_CHECK": lambda: True})


NO_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def counted_hashes(monkeypatch):
    """Every password hash check the admin login makes, counted (and how many ran at once)."""
    import web.admin.auth

    real = web.admin.auth.check_password_hash
    lock = threading.Lock()
    counts = {"calls": 0, "running": 0, "most_at_once": 0}

    def counting(password_hash, password):
        with lock:
            counts["calls"] += 1
            counts["running"] += 1
            counts["most_at_once"] = max(counts["most_at_once"], counts["running"])
        try:
            return real(password_hash, password)
        finally:
            with lock:
                counts["running"] -= 1

    monkeypatch.setattr(web.admin.auth, "check_password_hash", counting)
    return counts


# --- sessions -------------------------------------------------------------------------------

def test_admin_session_copied_before_logout_is_refused(app, throttle):
    client = app.test_client()
    assert _sign_in(client).status_code == 302
    thief = _copy_session(client, app.test_client())
    assert thief.get("/admin/").status_code == 200          # the copy works while the session is open
    assert _sign_out(client).status_code == 302
    assert thief.get("/admin/").status_code == 302           # and not after the sign-out
    assert client.get("/admin/").status_code == 302


def test_admin_session_copied_before_password_change_is_refused(app, throttle):
    _store_admin()
    client = app.test_client()
    assert _sign_in(client, "finance", STRONG).status_code == 302
    thief = _copy_session(client, app.test_client())
    assert thief.get("/admin/").status_code == 200
    _store_admin()                                            # the same password, set again: a new hash
    assert thief.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert _sign_in(client, "finance", STRONG).status_code == 302 and client.get("/admin/").status_code == 200


def test_admin_session_of_the_sandbox_login_ends_when_a_login_is_stored(app, throttle):
    client = app.test_client()
    assert _sign_in(client).status_code == 302
    _store_admin()
    assert client.get("/admin/").status_code == 302


def test_admin_session_redis_down_signs_in_statelessly_until_redis_answers(runtime, throttle):
    down = _app(runtime, redis_url=NO_REDIS).test_client()
    assert _sign_in(down).status_code == 302
    page = down.get("/admin/")
    assert page.status_code == 200 and b"unknown (Redis unavailable)" in page.data
    # Once Redis answers, that stateless cookie (which sign-out could not end) opens nothing.
    up = _copy_session(down, _app(runtime).test_client())
    assert up.get("/admin/").status_code == 302
    # Sign-out while Redis is down says that the cookie could not be ended server-side.
    response = _sign_out(down)
    assert response.status_code == 200 and b"did not answer" in response.data
    assert down.get("/admin/").status_code == 302


def test_admin_session_redis_down_still_ends_with_a_password_change(runtime, throttle):
    _store_admin()
    down = _app(runtime, redis_url=NO_REDIS).test_client()
    assert _sign_in(down, "finance", STRONG).status_code == 302 and down.get("/admin/").status_code == 200
    _store_admin()
    assert down.get("/admin/").status_code == 302


def test_admin_session_from_before_a_redis_outage_is_refused_during_it(app, runtime, throttle):
    client = app.test_client()
    assert _sign_in(client).status_code == 302
    # Redis may hold its sign-out: while it cannot say, the session opens nothing (sign in again).
    down = _copy_session(client, _app(runtime, redis_url=NO_REDIS).test_client())
    assert down.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_session_forged_cookie_without_a_stored_session_is_refused(app, throttle):
    # The sandbox signs cookies with a public key: a forged cookie must still find its session in Redis.
    client = app.test_client()
    with client.session_transaction() as session:
        session["admin"] = {"user": "admin", "generation": "sandbox", "sid": "made-up"}
    assert client.get("/admin/").status_code == 302
    with client.session_transaction() as session:
        session["admin"] = {"user": "admin", "generation": "sandbox", "stateless_until": 2 ** 40}
    assert client.get("/admin/").status_code == 302            # Redis answers: no stateless session


# --- CSRF -----------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "wrong-token", "jörg"])
def test_admin_csrf_login_without_the_token_is_refused(client, throttle, token):
    csrf_token(client)                                          # the session has a token; the form does not send it
    data = {"username": "admin", "password": "sandbox"} | ({} if token is None else {"csrf_token": token})
    response = client.post("/admin/login", data=data)
    assert response.status_code == 400 and b"nothing was done" in response.data
    assert client.get("/admin/").status_code == 302            # not signed in
    assert throttle.get(login_attempts._key("admin")) is None   # and not even counted


def test_admin_csrf_token_of_another_session_is_refused(app, throttle):
    mine, theirs = app.test_client(), app.test_client()
    response = mine.post("/admin/login", data={"username": "admin", "password": "sandbox",
                                               "csrf_token": csrf_token(theirs)})
    assert response.status_code == 400 and mine.get("/admin/").status_code == 302


def test_admin_csrf_logout_without_the_token_is_refused(client, throttle):
    assert _sign_in(client).status_code == 302
    assert client.post("/admin/logout").status_code == 400
    assert client.post("/admin/logout", data={"csrf_token": "wrong-token"}).status_code == 400
    assert client.get("/admin/").status_code == 200            # still signed in


def test_admin_csrf_token_is_in_every_form_and_changes_at_sign_in(client, throttle):
    before = csrf_token(client)
    assert _sign_in(client).status_code == 302
    page = client.get("/admin/").get_data(as_text=True)
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    assert forms and all('name="csrf_token"' in form for form in forms)
    after = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert after != before                                      # a token seen before sign-in is worth nothing after


# --- headers --------------------------------------------------------------------------------

def test_admin_security_headers_on_every_response(client, throttle):
    assert _sign_in(client).status_code == 302
    responses = [client.get(path) for path in ("/admin/login", "/admin/", "/admin/orders/1", "/healthz", "/metrics")]
    responses.append(client.post("/webhooks/woocommerce", data=b"{}"))
    for response in responses:
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert all(r.headers["Cache-Control"] == "no-store" for r in responses[:3])


def test_admin_csp_allows_the_pages_own_style_and_nothing_inline_else(client, throttle):
    assert _sign_in(client).status_code == 302
    for path in ("/admin/login", "/admin/"):
        response = client.get(path)
        page, policy = response.get_data(as_text=True), response.headers["Content-Security-Policy"]
        style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy and "unsafe-inline" not in policy
        # Nothing else the policy would block: no script, no style attribute, forms post here.
        assert "<script" not in page and " style=" not in page and "default-src 'none'" in policy
        assert "form-action 'self'" in policy


# --- throttle, names, timing ----------------------------------------------------------------

def test_admin_throttle_sixty_concurrent_wrong_passwords_check_exactly_ten(app, throttle, counted_hashes):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        first = requests.get(f"{base}/admin/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', first.text).group(1)
        cookies = {"session": first.cookies["session"]}
        start = threading.Barrier(60)

        def attempt(i):
            start.wait(timeout=30)                      # all sixty leave together
            return requests.post(f"{base}/admin/login", cookies=cookies, allow_redirects=False, timeout=60,
                                 data={"username": "admin", "password": f"guess-{i}", "csrf_token": token}).status_code

        with ThreadPoolExecutor(max_workers=60) as pool:
            statuses = list(pool.map(attempt, range(60)))
    finally:
        server.shutdown()
        serving.join(timeout=10)
    assert sorted(statuses) == [401] * 10 + [429] * 50
    assert counted_hashes["calls"] == 10
    assert counted_hashes["most_at_once"] > 1           # the checks really overlapped


def test_admin_login_non_ascii_name_is_refused_cleanly_and_counted(client, throttle, counted_hashes):
    for _ in range(login_attempts.MAX_FAILURES):
        response = _sign_in(client, "Jörg", "wrong-password")
        assert response.status_code == 401 and b"wrong user or password" in response.data
    response = _sign_in(client, "Jörg", "wrong-password")
    assert response.status_code == 429
    assert counted_hashes["calls"] == login_attempts.MAX_FAILURES
    # Whatever the form sends (a lone surrogate cannot arrive as UTF-8; invalid bytes are replaced).
    response = client.post("/admin/login", data=b"username=%FF%FE&password=x&csrf_token=" + csrf_token(client).encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401


def test_admin_login_non_ascii_stored_name_signs_in(client, throttle):
    _store_admin("José")
    assert _sign_in(client, "José", STRONG).status_code == 302
    assert _sign_out(client).status_code == 302
    assert _sign_in(client, "Jose\u0301", STRONG).status_code == 302     # the same name, accent decomposed
    assert _sign_in(client, "Jose", STRONG).status_code == 401
    assert "signed in as José" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("stored", [False, True])
def test_admin_login_unknown_name_hashes_the_password_like_a_known_one(client, throttle, counted_hashes, stored):
    if stored:
        _store_admin()
    known = "finance" if stored else "admin"
    assert _sign_in(client, "nobody", "wrong-password").status_code == 401
    assert counted_hashes["calls"] == 1                 # an unknown name: the password hashed all the same
    assert _sign_in(client, known, "wrong-password").status_code == 401
    assert counted_hashes["calls"] == 2


def test_admin_login_without_any_login_hashes_and_refuses_the_sandbox_one(runtime, throttle, counted_hashes):
    # Outside the sandbox with no login stored: nothing opens, and the work is the same.
    real = _app(runtime, settings={"ais_base_url": "https://ais.example.com",
                                   "secret_keys": (base64.urlsafe_b64encode(os.urandom(32)).decode(),)})
    assert _sign_in(real.test_client()).status_code == 401
    assert counted_hashes["calls"] == 1


def test_admin_login_sandbox_one_refused_when_a_real_ais_server_is_stored(client, runtime, throttle):
    from connector import vault as vaults

    with runtime.db.transaction() as cur:
        vaults.store_credentials(cur, runtime.vault, "ais", {"base_url": "https://ais.example.com"})
    try:
        assert _sign_in(client).status_code == 401
    finally:
        with runtime.db.transaction() as cur:
            cur.execute("DELETE FROM credentials")


# --- Flower ---------------------------------------------------------------------------------

def _procfile_flower() -> str:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("flower:"))
    return line.partition(":")[2].strip()


def _free_port() -> int:
    from connector.embedded import free_port

    return free_port()


def _start(command: str, env: dict) -> tuple[subprocess.Popen, queue.Queue]:
    """Start `command` under bash (as a Procfile line runs) with its output read line by line."""
    process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def _wait_for(lines: queue.Queue, text: str) -> str:
    seen = []
    while True:
        line = lines.get(timeout=60)
        assert line is not None, f"ended before {text!r}:\n{''.join(seen)}"
        seen.append(line)
        if text in line:
            return "".join(seen)


def _flower_env(**changes) -> dict:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("FLOWER_BASIC_AUTH", None)
    env.update(changes)
    return env


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    return process.wait(timeout=30)


def test_flower_procfile_and_connector_run_go_through_the_basic_auth_launcher():
    from connector.cli.services import FLOWER_COMMAND

    assert _procfile_flower().startswith("python -m connector.flower_auth ")
    assert FLOWER_COMMAND.startswith("{python} -m connector.flower_auth --idle-when-refused ")


@pytest.mark.parametrize("started_by", ["Procfile", "connector run"])
def test_flower_pages_need_the_basic_auth_login(clean_db, started_by):
    from connector.cli.services import FLOWER_COMMAND

    port = _free_port()
    command = (_procfile_flower() + " --address=127.0.0.1" if started_by == "Procfile"
               else FLOWER_COMMAND.format(python=shlex.quote(sys.executable), port=port))
    process, lines = _start(command, _flower_env(PORT=str(port), FLOWER_BASIC_AUTH="ops:a-long-flower-pw"))
    try:
        _wait_for(lines, "Visit me at")
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, auth=("ops", "wrong-password-1"), timeout=10).status_code == 401
        assert requests.get(url, auth=("ops", "a-long-flower-pw"), timeout=10).status_code == 200
    finally:
        _stop(process)


@pytest.mark.parametrize("value, why", [
    (None, "not set"), ("", "not set"), ("   ", "not set"), ("ops:", "blank"), ("ops:            ", "blank"),
    ("ops:short", "at least 12"), (":a-long-flower-pw", "not user:password"),
    ("ops:a-long-flower-pw,x", "not user:password"), ("jörg:a-long-flower-pw", "ASCII")])
def test_flower_procfile_refuses_to_start_without_basic_auth_outside_the_sandbox(value, why):
    env = _flower_env(PORT=str(_free_port()), AIS_BASE_URL="https://ais.example.com")
    if value is not None:
        env["FLOWER_BASIC_AUTH"] = value
    process, lines = _start(_procfile_flower(), env)
    output = _wait_for(lines, "Flower not started")
    assert "FLOWER_BASIC_AUTH" in output and why in output
    try:
        assert process.wait(timeout=30) == 2              # exits on its own: the platform shows it crashed
    finally:
        _stop(process)


def test_flower_connector_run_idles_instead_of_stopping_the_others():
    from connector.cli.services import FLOWER_COMMAND

    command = FLOWER_COMMAND.format(python=shlex.quote(sys.executable), port=_free_port())
    process, lines = _start(command, _flower_env(AIS_BASE_URL="https://ais.example.com"))
    _wait_for(lines, "Flower not started")
    assert _stop(process) == -signal.SIGTERM             # still waiting when the supervisor stopped it


def test_flower_basic_auth_defaults_to_the_sandbox_login_only_on_the_sandbox():
    from connector.flower_auth import FlowerRefused, basic_auth

    assert basic_auth(None, sandbox=True) == "admin:sandbox"
    assert basic_auth("ops:short", sandbox=True) == "ops:short"
    assert basic_auth("ops:a-long-flower-pw,dev:another-long-pw", sandbox=False) == \
        "ops:a-long-flower-pw,dev:another-long-pw"
    with pytest.raises(FlowerRefused, match="not set"):
        basic_auth(" ", sandbox=False)
    with pytest.raises(FlowerRefused, match="at least 12"):
        basic_auth("ops:short", sandbox=False)


# --- /metrics -------------------------------------------------------------------------------

def test_metrics_open_without_a_token(client, monkeypatch):
    monkeypatch.delenv("CONNECTOR_METRICS_TOKEN", raising=False)
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("header, status", [(None, 401), ("Bearer wrong", 401), ("Basic s3cret-metrics-token", 401),
                                            ("Bearer s3cret-metrics-tökén", 401), ("Bearer s3cret-metrics-token", 200),
                                            ("bearer  s3cret-metrics-token ", 200)])
def test_metrics_token_required_when_set(client, monkeypatch, header, status):
    monkeypatch.setenv("CONNECTOR_METRICS_TOKEN", "s3cret-metrics-token")
    response = client.get("/metrics", headers={} if header is None else {"Authorization": header})
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer") and b"connector_" not in response.data
