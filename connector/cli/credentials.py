"""`connector credentials …`: store the AIS and WooCommerce credentials encrypted in Postgres.

Secrets are only ever typed at a hidden prompt (never options: those end up in shell
history and `ps`), and never printed back. A blank or whitespace-only secret is refused, and so is
an admin password under 12 characters outside the sandbox (connector.vault.check_secret /
check_password).
"""
from __future__ import annotations

import unicodedata
from contextlib import contextmanager

import click

from connector import embedded, vault as vaults
from connector.cli.common import fail, urls_of
from connector.config import load_settings
from connector.store import Database
from connector.store import credentials as store

SANDBOX_WARNING = ("warning: CONNECTOR_SECRET_KEY is not set: using the public sandbox-only key, "
                   "which protects nothing. Set CONNECTOR_SECRET_KEY before storing real credentials.")


def _settings_and_vault():
    settings = load_settings()
    try:
        vault = vaults.vault_for(settings)
    except (vaults.MissingSecretKey, vaults.InvalidSecretKey) as exc:
        fail(str(exc))
    if vault.sandbox:
        click.secho(SANDBOX_WARNING, fg="yellow", err=True)
    return settings, vault


@contextmanager
def _transaction(settings):
    database = Database(urls_of(settings).database_url, size=1)
    try:
        with database.transaction() as cur:
            yield cur
    finally:
        database.close()


def _ask(value, text):
    """An option's value, or a prompt for it. Blank means "not stored": the environment (or the
    default) keeps applying, rather than being frozen into the stored copy."""
    if value is not None:
        return value.strip() or None
    return click.prompt(f"{text} (blank: from the environment)", default="", show_default=False).strip() or None


def _ask_secret(text, required: bool = True):
    """A secret typed twice at a hidden prompt. Optional ones may be left empty (None); spaces
    alone are refused either way: nobody means to store them."""
    answer = click.prompt(text, hide_input=True, confirmation_prompt=True,
                          **({} if required else {"default": "", "show_default": False}))
    if not answer and not required:
        return None
    try:
        return vaults.check_secret(answer, text)
    except vaults.WeakSecret as exc:
        fail(str(exc))


def _store(settings, vault, name: str, document: dict):
    document = {k: v for k, v in document.items() if v not in (None, "", [], ())}
    with _transaction(settings) as cur:
        try:
            vaults.store_credentials(cur, vault, name, document)
        except vaults.WeakSecret as exc:
            fail(str(exc))
    click.echo(f"stored {name} credentials ({', '.join(sorted(document))}) under key {vault.fingerprint}")


@click.group()
def credentials():
    """Credentials stored encrypted in Postgres (they win over the environment)."""


@credentials.group("set")
def set_():
    """Store credentials (replaces what was stored under that name)."""


@set_.command("ais")
@click.option("--base-url", help="AIS server, e.g. https://ais.example.com:9300")
@click.option("--username")
@click.option("--environment", help="e.g. JDV920")
@click.option("--role", help="e.g. *ALL")
@click.option("--device-name")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Log in to AIS with them before storing (--no-verify where AIS is not reachable from here).")
def set_ais(base_url, username, environment, role, device_name, verify):
    """JDE AIS login; the password is asked at a hidden prompt. Logs in before it stores."""
    settings, vault = _settings_and_vault()  # before any prompt: fail early on a bad key
    base_url = _ask(base_url, "AIS base URL")
    if base_url and vault.sandbox:
        # A real server's password under the public sandbox key would be stored in the clear in effect.
        fail("refusing to store credentials for a real AIS server without CONNECTOR_SECRET_KEY: "
              + vaults.GENERATE_HINT)
    document = {
        "base_url": base_url,
        "username": _ask(username, "AIS username"),
        "password": _ask_secret("AIS password"),
        "environment": _ask(environment, "JDE environment"),
        "role": _ask(role, "JDE role"),
        "device_name": _ask(device_name, "Device name"),
    }
    if verify:
        _verify_ais(settings, {k: v for k, v in document.items() if v})
    _store(settings, vault, "ais", document)
    _forget_shared_tokens(settings)


def _verify_ais(settings, document: dict) -> None:
    """A fresh login with what is about to be stored (merged with the environment, as it will be used)."""
    from connector.jde.errors import AisError
    from connector.jde.session import AisLogin, AisSession
    from connector.runtime import sandbox_ais_url

    creds = vaults.effective_ais(settings, document)
    try:
        base_url = creds.base_url or sandbox_ais_url(settings)
    except embedded.ServicesNotRunning as exc:
        fail(f"cannot check the login: {exc} (or store them with --no-verify)")
    login = AisLogin(base_url=base_url, username=creds.username or "", password=creds.password or "",
                     environment=creds.environment or "", role=creds.role or "",
                     device_name=creds.device_name or settings.ais_device_name)
    # No Redis: a fresh login shares nothing before the credentials are stored.
    session = AisSession(login, None, timeout=(5, 20))
    try:
        token, date_format = session.fresh_login()
    except AisError as exc:
        fail(f"not stored: the AIS login failed: {exc.text}. Fix: check the values, or store them with "
              "--no-verify where AIS is not reachable from this machine.")
    session.end(token)
    click.echo(f"AIS login ok on {base_url} as {login.username} (date format {date_format})")


def _forget_shared_tokens(settings) -> None:
    """The workers' shared token belongs to the old credentials: drop it, the next call logs in anew."""
    import redis

    try:
        client = redis.Redis.from_url(embedded.resolve_urls(settings).redis_url, socket_connect_timeout=2)
        for key in client.scan_iter("connector:ais:token:*"):
            client.delete(key)
    except (redis.RedisError, embedded.ServicesNotRunning):
        click.secho("note: Redis is not reachable: the workers keep their current token until it expires",
                    fg="yellow", err=True)


@set_.command("woo")
@click.option("--store-url", help="e.g. https://shop.example.com")
@click.option("--consumer-key")
def set_woo(store_url, consumer_key):
    """WooCommerce REST keys; the consumer and webhook secrets are asked at hidden prompts."""
    settings, vault = _settings_and_vault()
    document = {
        "store_url": _ask(store_url, "Store URL"),
        "consumer_key": _ask(consumer_key, "Consumer key"),
        "consumer_secret": _ask_secret("Consumer secret"),
    }
    webhook_secret = _ask_secret("Webhook secret (blank: the consumer secret)", required=False)
    document["webhook_secrets"] = [webhook_secret] if webhook_secret else []
    _store(settings, vault, "woo", document)


@set_.command("admin")
@click.option("--username", default="admin", show_default=True)
def set_admin(username):
    """The login of the /admin pages; only a salted hash of the password is kept (encrypted)."""
    from werkzeug.security import generate_password_hash

    settings, vault = _settings_and_vault()
    # NFC, as the login compares names: the same name typed with composed or decomposed accents.
    username = unicodedata.normalize("NFC", username)
    if not username.strip():
        fail("the admin user name is blank: not stored")
    sandbox = _on_sandbox(settings, vault)
    password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    try:
        vaults.check_password(password, "the admin password", sandbox=sandbox)
    except vaults.WeakSecret as exc:
        fail(str(exc))
    # A new hash (new salt) even for the same password: every admin session of the old one ends.
    _store(settings, vault, "admin", {"username": username, "password_hash": generate_password_hash(password)})


def _on_sandbox(settings, vault) -> bool:
    from connector.admin_sessions import on_sandbox

    with _transaction(settings) as cur:
        return on_sandbox(cur, settings, vault)


def _shown(name: str, value) -> str:
    if name in vaults.SECRET_FIELDS:
        return "set" if value else "not set"
    if isinstance(value, (tuple, list)):
        return ", ".join(value) or "-"
    return "-" if value in (None, "") else str(value)


@credentials.command("show")
def show():
    """What is stored, what is effective and where each value comes from (secrets redacted)."""
    settings, vault = _settings_and_vault()
    with _transaction(settings) as cur:
        rows = {row["name"]: row for row in store.all(cur)}
    click.echo(f"keys: {', '.join(vault.fingerprints)}" + (" (sandbox-only key)" if vault.sandbox else ""))
    for name, resolve in (("ais", vaults.resolve_ais), ("woo", vaults.resolve_woo)):
        row, stored = rows.get(name), None
        if row is None:
            click.echo(f"\n[{name}] nothing stored")
        else:
            try:
                stored = vault.decrypt(row["ciphertext"])
                state = "current key" if row["key_fingerprint"] == vault.fingerprint else "old key: run rotate-key"
            except vaults.InvalidToken:
                state = "CANNOT DECRYPT: its key is not in CONNECTOR_SECRET_KEY; ignored"
            click.echo(f"\n[{name}] stored {row['updated_at']:%Y-%m-%d %H:%M:%S%z}, key {row['key_fingerprint']} ({state})")
        effective, sources = resolve(settings, stored)
        for field_name, source in sources.items():
            click.echo(f"  {field_name:<16} {_shown(field_name, getattr(effective, field_name)):<40} {source}")


@credentials.command("rotate-key")
def rotate_key():
    """Re-encrypt every stored row under the newest key (put the new key first in CONNECTOR_SECRET_KEY)."""
    settings, vault = _settings_and_vault()
    try:
        with _transaction(settings) as cur:
            count = vaults.rotate_all(cur, vault)
    except vaults.UndecryptableCredentials as exc:
        fail(str(exc))
    click.echo(f"re-encrypted {count} row(s) under key {vault.fingerprint}")
    if len(vault.fingerprints) > 1:
        click.echo("the older key(s) can now be removed from CONNECTOR_SECRET_KEY")


@credentials.command("generate-key")
def generate_key():
    """Print a new Fernet key (put it first in CONNECTOR_SECRET_KEY)."""
    click.echo(vaults.generate_key())
