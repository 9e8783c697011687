"""Flower behind basic auth: `python -m connector.flower_auth [--idle-when-refused] [Flower options]`.

Flower shows every task's arguments and results and can shut workers down, and it has no login of
its own: started without basic auth it serves anyone who reaches its port. This launcher starts
`celery -A tasks flower` only with FLOWER_BASIC_AUTH set (`user:password`, comma-separated for
several), which Flower reads itself, so the password never shows in `ps` the way --basic-auth
would. Each password follows the admin password's rule (connector.vault.check_password).

Not set: on the sandbox (admin_sessions.on_sandbox), the sandbox's public admin login
`admin:sandbox` guards it, as it does the admin pages; anywhere else Flower is not started, and
the message says how to fix it. The Procfile's process then exits (the platform shows it
crashed); `connector run` passes --idle-when-refused, so that the launcher waits instead and the
web, worker and beat it supervises keep running (its supervisor stops all when one exits).
"""
from __future__ import annotations

import os
import signal
import sys

SANDBOX_BASIC_AUTH = "admin:sandbox"
IDLE_FLAG = "--idle-when-refused"


class FlowerRefused(Exception):
    """Flower must not start: the message says why and how to fix it (never a password)."""


def basic_auth(value: str | None, *, sandbox: bool) -> str:
    """The FLOWER_BASIC_AUTH Flower is started with, from the variable's `value`."""
    from connector.vault import WeakSecret, check_password

    if not (value or "").strip():
        if sandbox:
            return SANDBOX_BASIC_AUTH
        raise FlowerRefused("FLOWER_BASIC_AUTH is not set: Flower would serve anyone who reaches its port. "
                            "Fix: set FLOWER_BASIC_AUTH=user:password (a password of at least 12 characters).")
    if not value.isascii():
        # Flower compares the credentials as str with hmac.compare_digest, which raises on
        # non-ASCII text: the right password would get an error page, never the pages.
        raise FlowerRefused("FLOWER_BASIC_AUTH must be ASCII (Flower cannot compare other characters)")
    for position, entry in enumerate(value.split(","), start=1):
        user, colon, password = entry.partition(":")
        if not colon or not user.strip():
            raise FlowerRefused(f"FLOWER_BASIC_AUTH entry {position} is not user:password "
                                "(entries are separated by commas, so no part may contain one)")
        try:
            check_password(password, f"the Flower password of entry {position}", sandbox=sandbox)
        except WeakSecret as exc:
            raise FlowerRefused(f"FLOWER_BASIC_AUTH: {exc}") from None
    return value


def _on_sandbox() -> bool:
    from connector.admin_sessions import on_sandbox
    from connector.config import load_settings
    from connector.runtime import load_runtime

    settings = load_settings()
    if not settings.sandbox:
        return False   # no need to reach the database to know
    runtime = load_runtime(settings)
    try:
        with runtime.db.transaction() as cur:
            return on_sandbox(cur, settings, runtime.vault)
    finally:
        runtime.db.close()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    idle = IDLE_FLAG in args
    args = [arg for arg in args if arg != IDLE_FLAG]
    try:
        auth = basic_auth(os.environ.get("FLOWER_BASIC_AUTH"), sandbox=_on_sandbox())
    except FlowerRefused as exc:
        print(f"Flower not started: {exc}", file=sys.stderr, flush=True)
        if not idle:
            sys.exit(2)
        signal.pause()   # until the supervisor stops everything (SIGTERM / SIGINT end this process)
        return
    if auth == SANDBOX_BASIC_AUTH and not os.environ.get("FLOWER_BASIC_AUTH", "").strip():
        print("Flower: the sandbox login admin / sandbox (set FLOWER_BASIC_AUTH for another)", file=sys.stderr,
              flush=True)
    env = dict(os.environ, FLOWER_BASIC_AUTH=auth)
    # Flower's own flower_* series must stay its own: with this variable they would be written beside
    # the connector's counters and served on the connector's /metrics (connector/runner.py).
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # exec: Flower takes this process's place, so the supervisor's signals reach it directly.
    os.execve(sys.executable, [sys.executable, "-m", "celery", "-A", "tasks", "flower", *args], env)


if __name__ == "__main__":
    main()
