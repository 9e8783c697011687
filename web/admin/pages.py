"""The admin pages' shell: one inline style sheet allowed by its hash, no script at all, and
the helpers every page's template uses (money, times, the CSRF token)."""
from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

from flask import g, render_template, session

from web.admin.blueprint import bp


# Inline, so that the CSP allows exactly this text by its hash (no 'unsafe-inline'); the pages
# work offline, with nothing fetched from anywhere.
STYLE = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def csrf_token() -> str:
    """This browser session's CSRF token (made on its first page, even before sign-in, so that
    the login form carries one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def page(title: str, template: str, **context):
    """Render `template` (which extends admin/base.html) inside the shell."""
    context.setdefault("csrf_token", csrf_token())
    return render_template(template, title=title, user=g.get("admin_user"), style=STYLE, **context)



def _runtime():
    from flask import current_app

    return current_app.config["RUNTIME"]


@bp.app_template_filter("money")
def money(amount, currency: str | None = None) -> str:
    """`152.2100` → `152.21 USD`: quantised to the currency's places (the order's, else the store's)."""
    from decimal import Decimal, InvalidOperation

    from connector.mapping import currency_places

    if amount is None or amount == "":
        return ""
    currency = currency or _runtime().mapping.store.currency
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    places = currency_places(currency)
    return f"{value.quantize(Decimal(1).scaleb(-places)):,} {currency}"


@bp.app_template_filter("when")
def when(moment) -> str:
    """A timestamp in the store's time zone (connector.times); a date stays a date, a text that is
    no time stays as it is."""
    from datetime import date, datetime

    from connector.times import local_text, parse_utc

    if moment is None or moment == "":
        return ""
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return moment.isoformat()
    parsed = parse_utc(moment)
    return str(moment) if parsed is None else local_text(parsed, _runtime().mapping.store.timezone)


def _decimal(amount):
    from decimal import Decimal

    return None if amount is None or amount == "" else Decimal(str(amount))


@bp.app_template_filter("debit")
def debit(amount):
    """A signed JDE amount's debit side (JDE: debits positive, credits negative), else None."""
    value = _decimal(amount)
    return value if value is not None and value > 0 else None


@bp.app_template_filter("credit")
def credit(amount):
    value = _decimal(amount)
    return -value if value is not None and value < 0 else None


@bp.app_template_filter("sides")
def sides(lines) -> tuple:
    """(total debits, total credits) of an entry's lines: equal when it balances."""
    from decimal import Decimal

    amounts = [_decimal(line["amount"]) or Decimal(0) for line in lines]
    return sum((a for a in amounts if a > 0), Decimal(0)), sum((-a for a in amounts if a < 0), Decimal(0))
