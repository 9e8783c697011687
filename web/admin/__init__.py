"""Admin pages under /admin, behind a login: what finance and the integration engineer look at.

One module per page family: `auth` (sign-in, CSRF, headers), `dashboard` (with `chart`), `orders`,
`reconciliation`. Templates are in templates/admin/, each extending base.html; pages.py holds the
shell and its style.

Security (README "Admin security"): sessions live in Redis and end at sign-out or when the
password changes (connector.admin_sessions); every form carries a CSRF token; attempts are
counted before the password is checked (connector.login_attempts); every response carries
anti-framing, CSP and referrer headers (security_headers, hooked in by web.app).
"""
from web.admin import auth, dashboard, orders, reconciliation  # noqa: F401  (each adds its routes to bp)
from web.admin.auth import security_headers, session_key  # noqa: F401
from web.admin.blueprint import bp  # noqa: F401
