"""Admin pages under /admin, behind a login: what finance and the integration engineer look at.

Read-only: counts by state, the latest failures, the last reconciliation and the story of
an order. The login is the `admin` credential of the vault (`connector credentials set admin`,
a salted hash, encrypted); on the sandbox with none stored, `admin` / `sandbox`.

Security (README "Admin security"): sessions live in Redis and end at sign-out or when the
password changes (connector.admin_sessions); every form carries a CSRF token; attempts are
counted before the password is checked (connector.login_attempts); every response carries
anti-framing, CSP and referrer headers (security_headers, hooked in by web.app).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import unicodedata

from flask import Blueprint, abort, current_app, g, redirect, render_template_string, request, session, url_for
from markupsafe import Markup
from werkzeug.security import check_password_hash, generate_password_hash

from connector import admin_sessions, login_attempts
from connector.store import audit, journal_entries
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from connector.store import reconciliation as reconciliation_rows
from connector.store import refunds as refund_rows
from connector.ledger import reversals

bp = Blueprint("admin", __name__, url_prefix="/admin")
SANDBOX_LOGIN = ("admin", "sandbox")
CSRF_FIELD = "csrf_token"

# The pages' only style sheet. It is inline, so the CSP allows exactly this text by its hash
# (no 'unsafe-inline'); the pages have no script at all.
_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.bad{color:#a00}.ok{color:#070}nav form{display:inline}"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }} · WooCommerce → JDE</title>
<style>""" + _STYLE + """</style></head><body>
<nav>{% if user %}<a href="{{ url_for('admin.dashboard') }}">Dashboard</a> · signed in as {{ user }}
<form method="post" action="{{ url_for('admin.logout') }}"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button>Sign out</button></form>{% endif %}</nav>
<h1>{{ title }}</h1>{{ body }}</body></html>"""

_LOGIN = """{% if note %}<p>{{ note }}</p>{% endif %}{% if error %}<p class="bad">{{ error }}</p>{% endif %}
<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<p><label>User <input name="username" autofocus></label></p>
<p><label>Password <input name="password" type="password"></label></p><p><button>Sign in</button></p></form>"""

_DASHBOARD = """<p>JDE: <b class="{{ 'bad' if jde.startswith('unreachable') else 'ok' if jde == 'reachable' else '' }}">{{ jde }}</b></p>
<h2>State</h2><table><tr><th>what</th><th>state</th><th>count</th></tr>
{% for what, counts in states %}{% for state, n in counts|dictsort %}<tr><td>{{ what }}</td><td>{{ state }}</td>
<td>{{ n }}</td></tr>{% endfor %}{% endfor %}</table>
<h2>Latest order failures</h2>{% if failures %}<table><tr><th>order</th><th>state</th><th>attempts</th><th>when</th>
<th>reason</th></tr>{% for f in failures %}<tr><td><a href="{{ url_for('admin.order', woo_id=f.woo_id) }}">{{ f.woo_id }}</a>
</td><td>{{ f.state }}</td><td>{{ f.attempts }}</td><td>{{ f.updated_at }}</td><td>{{ f.last_error }}</td></tr>{% endfor %}
</table>{% else %}<p class="ok">none</p>{% endif %}
<h2>Deliveries that could not be used</h2>{% if errors %}<table><tr><th>delivery</th><th>topic</th><th>received</th>
<th>reason</th></tr>{% for e in errors %}<tr><td>{{ e.id }}</td><td>{{ e.topic }}</td><td>{{ e.received_at }}</td>
<td>{{ e.error }}</td></tr>{% endfor %}</table>{% else %}<p class="ok">none</p>{% endif %}
<h2>Last reconciliation</h2>{% if run %}<p>run {{ run.id }}: GL dates {{ run.gl_date_from }} to {{ run.gl_date_to }},
{{ run.state }}, {{ run.entries_checked }} entries, {{ run.ais_calls }} AIS calls, finished {{ run.finished_at }}:
<b class="{{ 'bad' if run.discrepancies else 'ok' }}">{{ run.discrepancies }} discrepancies</b></p>
{% if items %}<table><tr><th>kind</th><th>batch</th><th>expected</th><th>found</th><th>detail</th></tr>
{% for i in items %}<tr><td>{{ i.kind }}</td><td>{{ i.batch_number }}</td><td>{{ i.expected or '' }}</td>
<td>{{ i.found or '' }}</td><td>{{ i.detail }}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p>none yet</p>{% endif %}"""

_ORDER = """<p>status {{ o.status }} · state <b>{{ o.state }}</b> · total {{ o.total }} {{ o.currency }} ·
batch {{ o.batch_number or '-' }} · JDE document {{ o.document_number or '-' }} · attempts {{ o.attempts }}</p>
{% if o.last_error %}<p class="bad">{{ o.last_error }}</p>{% endif %}
<h2>Deliveries</h2><table><tr><th>id</th><th>topic</th><th>state</th><th>received</th><th>error</th></tr>
{% for d in deliveries %}<tr><td>{{ d.id }}</td><td>{{ d.topic }}</td><td>{{ d.state }}</td><td>{{ d.received_at }}</td>
<td>{{ d.error or '' }}</td></tr>{% endfor %}</table>
{% if refunds %}<h2>Refunds</h2><table><tr><th>refund</th><th>made (UTC)</th><th>amount</th><th>money</th><th>reason</th>
<th>entry</th></tr>{% for r in refunds %}<tr><td>{{ r.refund_id }}</td><td>{{ r.date_created_gmt }}</td><td>{{ r.amount }}</td>
<td>{{ 'returned by the gateway' if r.refunded_payment else 'to pay back by hand' }}</td><td>{{ r.reason }}</td>
<td>{% if r.entry %}<a href="#{{ r.entry.batch_number }}">{{ r.entry.batch_number }}</a> {{ r.entry.state }}
{{ r.entry.document_number or '' }}{% else %}none{% endif %}</td></tr>{% endfor %}</table>{% endif %}
{% for e in entries %}<h2 id="{{ e.batch_number }}">Journal entry {{ e.batch_number }} ({{ e.kind }}, {{ e.state }}, GL date {{ e.gl_date }},
document {{ e.document_number or '-' }})</h2><table><tr><th>line</th><th>account</th><th>amount</th><th>explanation</th></tr>
{% for l in e.lines %}<tr><td>{{ l.line }}</td><td>{{ l.account }}</td><td>{{ l.amount }}</td><td>{{ l.explanation }}</td>
</tr>{% endfor %}</table>{% endfor %}
{% if preview %}<h2>What would be posted</h2>{% if preview.refused %}<p class="bad">{{ preview.refused }}</p>{% endif %}
{% for e in preview.entries %}<h3>{{ e.batch_number }} ({{ e.kind }}, GL date {{ e.gl_date }}, {{ e.currency }})</h3>
<table><tr><th>account</th><th>amount</th><th>explanation</th></tr>{% for l in e.lines %}<tr><td>{{ l.account }}</td>
<td>{{ l.amount }}</td><td>{{ l.explanation }}</td></tr>{% endfor %}</table>{% endfor %}{% endif %}
<h2>Story</h2><table><tr><th>when</th><th>action</th><th>outcome</th><th>ms</th><th>detail</th></tr>
{% for a in story %}<tr><td>{{ a.at }}</td><td>{{ a.action }}</td><td>{{ a.outcome or '' }}</td>
<td>{{ a.duration_ms or '' }}</td><td>{{ a.detail or '' }}</td></tr>{% endfor %}</table>"""


def _csrf_token() -> str:
    """This browser session's CSRF token (made on its first page, even before sign-in, so that
    the login form carries one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _page(title: str, template: str, **context):
    context.setdefault("csrf_token", _csrf_token())
    body = Markup(render_template_string(template, **context))   # already escaped by Jinja
    return render_template_string(_PAGE, title=title, body=body, user=g.get("admin_user"),
                                  csrf_token=context["csrf_token"])


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
    return _page("Sign in", _LOGIN, error=error, note=None), 400


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return _page("Sign in", _LOGIN, error=None, note=None)
    username, password = request.form.get("username", ""), request.form.get("password", "")
    runtime = current_app.config["RUNTIME"]
    wait = login_attempts.admit(runtime.redis, username)
    if wait:
        minutes = -(-wait // 60)
        error = f"too many wrong passwords for this user: try again in {minutes} minute{'s' * (minutes != 1)}"
        return _page("Sign in", _LOGIN, error=error, note=None), 429, {"Retry-After": str(wait)}
    stored, sandbox = _login_of(runtime)
    if not _login_ok(stored, sandbox, username, password):
        return _page("Sign in", _LOGIN, error="wrong user or password", note=None), 401
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
        return _page("Sign in", _LOGIN, error=None, note=note)
    return redirect(url_for("admin.login"))


@bp.get("")
@bp.get("/")
@login_required
def dashboard():
    runtime = current_app.config["RUNTIME"]
    with runtime.db.transaction() as cur:
        states = [("deliveries", delivery_rows.counts_by_state(cur)), ("orders", order_rows.counts_by_state(cur))]
        failures = order_rows.latest_failures(cur, limit=20)
        errors = delivery_rows.latest_errors(cur, limit=20)
        run = reconciliation_rows.latest_run(cur)
        items = reconciliation_rows.items_of_run(cur, run["id"]) if run else []
    from connector.jde.breaker import describe

    return _page("Dashboard", _DASHBOARD, states=states, failures=failures, errors=errors, run=run, items=items,
                 jde=describe(runtime.breaker.state()))


@bp.get("/orders/<int:woo_id>")
@login_required
def order(woo_id: int):
    runtime = current_app.config["RUNTIME"]
    source = runtime.mapping.store.source
    with runtime.db.transaction() as cur:
        row = order_rows.get(cur, source=source, woo_id=woo_id)
        if row is None:
            abort(404)
        deliveries = order_rows.deliveries_of(cur, source=source, woo_id=woo_id)
        entries = journal_entries.for_order(cur, row["id"])
        by_batch = {e["batch_number"]: e for e in entries}
        refunds = [dict(r, entry=by_batch.get(reversals.refund_batch(woo_id, r["refund_id"])))
                   for r in refund_rows.rows_of_order(cur, row["id"])]
        story = audit.for_subject(cur, "order", woo_id)
        preview = None if entries else _preview(cur, runtime, row)
    return _page(f"Order {woo_id}", _ORDER, o=row, deliveries=deliveries, entries=entries, story=story,
                 preview=preview, refunds=refunds)


def _preview(cur, runtime, row) -> dict:
    """What would be posted for an order not posted yet (the ledger rules, no JDE call)."""
    from connector.ledger import ProductsUnknown
    from connector.ledger.preview import preview
    from connector.store import products as product_rows
    from connector.woo.schemas import PayloadError

    payload = row["payload"]
    ids = [item.get("product_id") for item in payload.get("line_items") or [] if isinstance(item, dict)]
    categories = product_rows.categories_of(cur, source=row["source"], woo_ids=[i for i in ids if isinstance(i, int)])
    records = refund_rows.payloads_of_order(cur, row["id"])
    try:
        return preview(payload, runtime.mapping, categories, records)
    except ProductsUnknown as exc:
        return {"entries": [], "refused": f"not yet: {exc}"}
    except PayloadError as exc:
        return {"entries": [], "refused": str(exc)}
