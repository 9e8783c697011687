"""Signing in to the admin pages, and what guards every one of them.

The login is the `admin` credential of the vault (`connector credentials set admin`, a salted
hash, encrypted); on the sandbox with none stored, `admin` / `sandbox`.

Security (README "Admin security"): sessions live in Redis and end at sign-out or when the
password changes (connector.admin_sessions); every form carries a CSRF token; attempts are
counted before the password is checked (connector.login_attempts); every response carries
anti-framing, CSP and referrer headers (security_headers, hooked in by web.app).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import unicodedata

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from connector import admin_sessions, login_attempts
from web.admin.blueprint import bp
from web.admin.pages import CONTENT_SECURITY_POLICY, page

SANDBOX_LOGIN = ("admin", "sandbox")
CSRF_FIELD = "csrf_token"


def security_headers(response):
    """On every response of the app (web.app hooks it in): no framing, a CSP that allows only the
    admin pages' own style sheet, no referrer leaving with an admin URL; admin pages uncached."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(bp.url_prefix):
        # Order details must not stay in a shared cache or come back with the Back button after sign-out.
        response.headers["Cache-Control"] = "no-store"
    return response


def session_key(settings) -> bytes:
    """The cookie-signing key: derived from the newest CONNECTOR_SECRET_KEY, never the key itself
    (on the sandbox, from a public constant: the demo protects nothing)."""
    material = settings.secret_keys[0] if settings.secret_keys else "sandbox admin session"
    return hmac.new(material.encode(), b"connector admin session", hashlib.sha256).digest()


def _utf8(text: str) -> bytes:
    # Compared as bytes: hmac.compare_digest refuses non-ASCII str. NFC, so that the same name
    # typed on keyboards that compose accents differently is the same name.
    return unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")


@functools.cache
def _sandbox_hash() -> str:
    # The sandbox's built-in login is checked like a stored one: the same hashing work.
    return generate_password_hash(SANDBOX_LOGIN[1])


@functools.cache
def _dummy_hash() -> str:
    # Checked when no login exists at all, so that the work done does not depend on it either.
    return generate_password_hash(secrets.token_urlsafe(32))


def _login_of(runtime) -> tuple[dict | None, bool]:
    """The stored admin credential, and whether the sandbox's built-in login applies (none stored,
    and admin_sessions.on_sandbox: the public admin / sandbox never opens a real deployment's pages)."""
    from connector.vault import load_credentials

    with runtime.db.transaction() as cur:
        stored = load_credentials(cur, runtime.vault, "admin")
        return stored, not stored and admin_sessions.on_sandbox(cur, runtime.settings, runtime.vault)


def _password_generation(stored: dict | None, sandbox: bool) -> str | None:
    """The generation sessions must carry; None when no login exists (no credential, not the sandbox)."""
    if stored or sandbox:
        return admin_sessions.generation(stored)
    return None


def _login_ok(stored: dict | None, sandbox: bool, username: str, password: str) -> bool:
    if stored:
        name, password_hash = stored.get("username", ""), stored.get("password_hash", "")
    elif sandbox:
        name, password_hash = SANDBOX_LOGIN[0], _sandbox_hash()
    else:
        name, password_hash = None, _dummy_hash()
    # The password is always hashed, once, right name or not: a wrong name must take as long as
    # a wrong password, or timing would tell which names exist.
    password_ok = check_password_hash(password_hash, password)
    name_ok = name is not None and hmac.compare_digest(_utf8(username), _utf8(name))
    return name_ok and password_ok


def _signed_in_user(runtime) -> str | None:
    cookie = session.get("admin")
    if not isinstance(cookie, dict):
        return None
    generation = _password_generation(*_login_of(runtime))
    if generation is None or not admin_sessions.valid(runtime.redis, cookie, generation):
        return None
    return cookie["user"]


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = _signed_in_user(current_app.config["RUNTIME"])
        if user is None:
            session.pop("admin", None)   # ended, expired or revoked: forget it
            return redirect(url_for("admin.login", next=request.path))
        g.admin_user = user
        return view(*args, **kwargs)
    return wrapped


@bp.before_request
def refuse_forged_forms():
    """Every state-changing request must carry this session's CSRF token: a page of another site
    can make the browser POST here with its cookie, but cannot read the token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD, "")
    if isinstance(expected, str) and hmac.compare_digest(_utf8(sent), _utf8(expected)):
        return None
    error = "this form had expired or did not come from these pages: nothing was done, please try again"
    return page("Sign in", "admin/login.html", error=error, note=None), 400


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return page("Sign in", "admin/login.html", error=None, note=None)
    username, password = request.form.get("username", ""), request.form.get("password", "")
    runtime = current_app.config["RUNTIME"]
    wait = login_attempts.admit(runtime.redis, username)
    if wait:
        minutes = -(-wait // 60)
        error = f"too many wrong passwords for this user: try again in {minutes} minute{'s' * (minutes != 1)}"
        return page("Sign in", "admin/login.html", error=error, note=None), 429, {"Retry-After": str(wait)}
    stored, sandbox = _login_of(runtime)
    if not _login_ok(stored, sandbox, username, password):
        return page("Sign in", "admin/login.html", error="wrong user or password", note=None), 401
    login_attempts.clear(runtime.redis, username)
    generation = _password_generation(stored, sandbox)
    session.clear()   # a new session, and a new CSRF token, at every sign-in (no fixation)
    session["admin"] = admin_sessions.start(runtime.redis, (stored or {}).get("username", username), generation)
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))


@bp.post("/logout")
def logout():
    cookie = session.get("admin")
    ended = admin_sessions.end(current_app.config["RUNTIME"].redis, cookie) if isinstance(cookie, dict) else True
    session.clear()
    if not ended:
        note = ("signed out of this browser, but the session store (Redis) did not answer, so the session could not "
                "be ended on the server: a copy of its cookie may still open these pages until it expires. "
                "`connector credentials set admin` ends every session at once.")
        return page("Sign in", "admin/login.html", error=None, note=note)
    return redirect(url_for("admin.login"))


