"""Credentials encrypted at rest (Fernet) and how they combine with the environment.

`CONNECTOR_SECRET_KEY` holds one or more Fernet keys, newest first. New tokens are always
made with the first key; every key in the list can still decrypt, which is what lets an
operator rotate: put a new key first, run `connector credentials rotate-key`, then drop
the old key. The SQL is connector.store.credentials; it only ever sees ciphertext.

Resolution (docs/design.md §4): a stored non-empty value wins over the environment, field by
field; the environment fills the rest; in the sandbox, fixed defaults fill what is left.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, fields

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connector.store import credentials as store

GENERATE_HINT = "generate one with `connector credentials generate-key`"

# Sandbox only. This key is public (it is derived from a string in this file), so it
# PROTECTS NOTHING: it exists only so that the sandbox runs the same encrypt/decrypt code
# path as production. vault_for() never uses it outside the sandbox.
_SANDBOX_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"woo-jde-connector SANDBOX ONLY - this key is public and protects nothing").digest()
)


class MissingSecretKey(RuntimeError):
    """CONNECTOR_SECRET_KEY is unset where it is required (outside the sandbox)."""


class InvalidSecretKey(RuntimeError):
    """An entry of CONNECTOR_SECRET_KEY is not a Fernet key (the message names its position only)."""


class UndecryptableCredentials(RuntimeError):
    """A stored row was encrypted with a key that is no longer in CONNECTOR_SECRET_KEY."""


class WeakSecret(ValueError):
    """A secret or password that must not be stored (the message says why, never the value)."""


# Passwords the operator chooses (the admin login) outside the sandbox. Passwords set by other
# systems (JDE's, often limited to 10 characters) are only required to be non-blank.
MIN_PASSWORD_LENGTH = 12


def check_secret(value: str | None, what: str) -> str:
    """`value` unless it is empty or only whitespace: such a "secret" is guessed at the first try,
    and one typed by mistake would silently replace the real one."""
    if value is None or not value.strip():
        raise WeakSecret(f"{what} is blank or only spaces: not stored")
    return value


def check_password(value: str | None, what: str, *, sandbox: bool) -> str:
    """A password the operator chooses: non-blank, and at least MIN_PASSWORD_LENGTH characters
    outside the sandbox (whose login protects nothing anyway)."""
    check_secret(value, what)
    if not sandbox and len(value) < MIN_PASSWORD_LENGTH:
        raise WeakSecret(f"{what} has {len(value)} characters: choose one of at least {MIN_PASSWORD_LENGTH}")
    return value


def key_fingerprint(key: str | bytes) -> str:
    """First 8 hex digits of sha256(key): names a key in the table and in output, reveals nothing."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(raw.strip()).hexdigest()[:8]


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Vault:
    """Encrypts dicts as Fernet tokens of JSON under the newest key; decrypts with any key."""

    def __init__(self, keys, *, sandbox: bool = False):
        keys = tuple(keys)
        if not keys:
            raise MissingSecretKey(f"CONNECTOR_SECRET_KEY is empty: {GENERATE_HINT}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # `from None`: the original exception's context must not carry the key along.
                raise InvalidSecretKey(
                    f"CONNECTOR_SECRET_KEY entry {position} of {len(keys)} is not a valid Fernet key "
                    f"(32 url-safe base64-encoded bytes): {GENERATE_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.fingerprints = tuple(key_fingerprint(key) for key in keys)
        self.sandbox = sandbox

    def __repr__(self):
        return f"Vault(fingerprints={self.fingerprints!r}, sandbox={self.sandbox})"

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the newest key: the one every new token is made with."""
        return self.fingerprints[0]

    def encrypt(self, document: dict) -> bytes:
        return self._fernet.encrypt(json.dumps(document, sort_keys=True).encode("utf-8"))

    def decrypt(self, token: bytes) -> dict:
        """Raises cryptography.fernet.InvalidToken when no key in the list made `token`."""
        return json.loads(self._fernet.decrypt(bytes(token)).decode("utf-8"))

    def rotate(self, token: bytes) -> bytes:
        """The same document, re-encrypted under the newest key."""
        return self._fernet.rotate(bytes(token))


def vault_for(settings) -> Vault:
    """The vault of CONNECTOR_SECRET_KEY; the public sandbox key only when in the sandbox."""
    if settings.secret_keys:
        return Vault(settings.secret_keys)
    if settings.sandbox:
        return Vault((_SANDBOX_KEY,), sandbox=True)
    raise MissingSecretKey(f"CONNECTOR_SECRET_KEY is required outside the sandbox: {GENERATE_HINT}")


def store_credentials(cur, vault: Vault, name: str, fields: dict) -> None:
    # The last guard, whatever the caller: no blank secret is ever stored.
    for field_name in SECRET_FIELDS & fields.keys():
        value = fields[field_name]
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            check_secret(item if isinstance(item, str) else None, f"{name} {field_name.replace('_', ' ')}")
    store.put(cur, name, vault.encrypt(fields), vault.fingerprint)


def load_credentials(cur, vault: Vault, name: str) -> dict | None:
    token = store.get(cur, name)
    if token is None:
        return None
    try:
        return vault.decrypt(token)
    except InvalidToken:
        raise UndecryptableCredentials(
            f"stored credentials {name!r} were encrypted with a key that is not in CONNECTOR_SECRET_KEY "
            f"(see `connector credentials show` for the key fingerprint)"
        ) from None


def rotate_all(cur, vault: Vault) -> int:
    """Re-encrypt every stored row under the newest key; returns how many rows.

    All or nothing: a row no key can decrypt raises and the caller's transaction rolls back."""
    rows = store.all(cur, for_update=True)
    for row in rows:
        try:
            token = vault.rotate(row["ciphertext"])
        except InvalidToken:
            raise UndecryptableCredentials(
                f"stored credentials {row['name']!r} (key {row['key_fingerprint']}) cannot be decrypted "
                f"with any key in CONNECTOR_SECRET_KEY: keep that key in the list while rotating"
            ) from None
        store.put(cur, row["name"], token, vault.fingerprint)
    return len(rows)


# --- resolution -------------------------------------------------------------------------

@dataclass(frozen=True)
class AisCredentials:
    base_url: str | None
    username: str | None
    password: str | None = field(repr=False)
    environment: str | None
    role: str | None
    device_name: str | None


@dataclass(frozen=True)
class WooCredentials:
    store_url: str | None
    consumer_key: str | None
    consumer_secret: str | None = field(repr=False)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)


# Field names that are secrets (for `show`, which must redact them).
SECRET_FIELDS = frozenset(f.name for cls in (AisCredentials, WooCredentials) for f in fields(cls) if not f.repr)

STORED, ENV, DEFAULT, UNSET = "stored", "env", "default", "not set"


def _merge(names, stored: dict | None, env: dict, defaults: dict) -> tuple[dict, dict]:
    """Per field: stored non-empty value, else env, else default. Returns (values, sources)."""
    stored = stored or {}
    values, sources = {}, {}
    for name in names:
        for source, layer in ((STORED, stored), (ENV, env), (DEFAULT, defaults)):
            value = layer.get(name)
            if value not in (None, "", [], ()):
                values[name], sources[name] = value, source
                break
        else:
            values[name], sources[name] = None, UNSET
    return values, sources


def resolve_ais(settings, stored: dict | None) -> tuple[AisCredentials, dict[str, str]]:
    """The effective AIS credentials and, per field, where each value came from."""
    names = [f.name for f in fields(AisCredentials)]
    env = {
        "base_url": settings.ais_base_url, "username": settings.ais_username,
        "password": settings.ais_password, "environment": settings.ais_environment,
        "role": settings.ais_role, "device_name": settings.ais_device_name,
    }
    defaults = {"device_name": settings.ais_device_name}
    # The sandbox's well-known login, only when no server is named anywhere: a base URL
    # (stored or env) means a real server, which must never be sent JDE/JDE by accident.
    if not ((stored or {}).get("base_url") or settings.ais_base_url):
        defaults.update(username="JDE", password="JDE", environment="JDV920", role="*ALL")
    values, sources = _merge(names, stored, env, defaults)
    return AisCredentials(**values), sources


def resolve_woo(settings, stored: dict | None) -> tuple[WooCredentials, dict[str, str]]:
    """The effective WooCommerce credentials and, per field, where each value came from."""
    names = [f.name for f in fields(WooCredentials)]
    # Settings falls back to the consumer secret when WOO_WEBHOOK_SECRET is unset; that
    # fallback is re-applied below to the *effective* consumer secret (which may be stored),
    # so it must not count as an explicit environment value here.
    env_webhook = settings.woo_webhook_secrets
    if settings.woo_consumer_secret and env_webhook == (settings.woo_consumer_secret.strip(),):
        env_webhook = ()
    env = {
        "store_url": settings.woo_store_url, "consumer_key": settings.woo_consumer_key,
        "consumer_secret": settings.woo_consumer_secret, "webhook_secrets": env_webhook,
    }
    values, sources = _merge(names, stored, env, {})
    if not values["webhook_secrets"] and values["consumer_secret"]:
        values["webhook_secrets"] = (values["consumer_secret"],)
        sources["webhook_secrets"] = f"{sources['consumer_secret']} (consumer secret)"
    values["webhook_secrets"] = tuple(values["webhook_secrets"] or ())
    return WooCredentials(**values), sources


def effective_ais(settings, stored: dict | None) -> AisCredentials:
    return resolve_ais(settings, stored)[0]


def effective_woo(settings, stored: dict | None) -> WooCredentials:
    return resolve_woo(settings, stored)[0]
