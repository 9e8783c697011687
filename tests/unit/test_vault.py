"""Fernet vault: round trips, key rotation, key errors, and stored > env > default resolution."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken

from connector import vault as vaults
from connector.config import load_settings
from connector.store import credentials as store

PASSWORD = "s3cret-Pa55word-xyz"


def settings(**env):
    return load_settings(environ=env, dotenv=False)


def test_round_trip():
    vault = vaults.Vault([Fernet.generate_key()])
    document = {"username": "ops", "password": PASSWORD, "webhook_secrets": ["a", "b"]}
    token = vault.encrypt(document)
    assert PASSWORD.encode() not in token
    assert vault.decrypt(token) == document


def test_rotation_lets_the_old_key_go():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = vaults.Vault([old]).encrypt({"password": PASSWORD})

    both = vaults.Vault([new, old])
    assert both.decrypt(token) == {"password": PASSWORD}  # the old key still decrypts
    rotated = both.rotate(token)

    only_new = vaults.Vault([new])
    assert only_new.decrypt(rotated) == {"password": PASSWORD}
    with pytest.raises(InvalidToken):
        only_new.decrypt(token)
    assert both.fingerprint == vaults.key_fingerprint(new) != vaults.key_fingerprint(old)


def test_malformed_key_names_its_position_not_its_text():
    good, bad = Fernet.generate_key().decode(), "not-a-fernet-key-but-a-secret-anyway"
    with pytest.raises(vaults.InvalidSecretKey) as caught:
        vaults.vault_for(settings(CONNECTOR_SECRET_KEY=f"{good},{bad}"))
    message = str(caught.value)
    assert "entry 2 of 2" in message
    assert bad not in message and good not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_key_outside_the_sandbox():
    with pytest.raises(vaults.MissingSecretKey, match="generate-key"):
        vaults.vault_for(settings(AIS_BASE_URL="https://ais.example.com"))


def test_sandbox_fallback_key():
    vault = vaults.vault_for(settings())
    assert vault.sandbox
    assert vault.decrypt(vault.encrypt({"password": "JDE"})) == {"password": "JDE"}
    # The configured key always wins, sandbox or not.
    key = Fernet.generate_key().decode()
    configured = vaults.vault_for(settings(CONNECTOR_SECRET_KEY=key))
    assert not configured.sandbox and configured.fingerprint == vaults.key_fingerprint(key)


def test_store_round_trip_keeps_ciphertext_only(db):
    vault = vaults.Vault([Fernet.generate_key()])
    vaults.store_credentials(db, vault, "ais", {"username": "ops", "password": PASSWORD})
    assert vaults.load_credentials(db, vault, "ais") == {"username": "ops", "password": PASSWORD}
    assert vaults.load_credentials(db, vault, "woo") is None

    db.execute("SELECT * FROM credentials WHERE name = 'ais'")
    row = db.fetchone()
    raw = b"".join(bytes(v) if isinstance(v, memoryview) else str(v).encode() for v in row.values())
    assert PASSWORD.encode() not in raw and b"password" not in raw
    assert row["key_fingerprint"] == vault.fingerprint


def test_store_rotate_all(db):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    vaults.store_credentials(db, vaults.Vault([old]), "ais", {"password": PASSWORD})
    vaults.store_credentials(db, vaults.Vault([old]), "woo", {"consumer_secret": "cs"})

    assert vaults.rotate_all(db, vaults.Vault([new, old])) == 2

    only_new = vaults.Vault([new])
    assert vaults.load_credentials(db, only_new, "ais") == {"password": PASSWORD}
    assert {row["key_fingerprint"] for row in store.all(db)} == {only_new.fingerprint}
    with pytest.raises(vaults.UndecryptableCredentials):
        vaults.load_credentials(db, vaults.Vault([old]), "ais")


def test_rotate_all_refuses_a_row_no_key_can_read(db):
    vaults.store_credentials(db, vaults.Vault([Fernet.generate_key()]), "ais", {"password": PASSWORD})
    with pytest.raises(vaults.UndecryptableCredentials, match="'ais'"):
        vaults.rotate_all(db, vaults.Vault([Fernet.generate_key()]))


def test_precedence_stored_then_env_then_default_field_by_field():
    env = settings(AIS_BASE_URL="https://ais.example.com", AIS_USERNAME="env-user", AIS_PASSWORD="env-pw",
                   AIS_ENVIRONMENT="JPD920", CONNECTOR_SECRET_KEY=Fernet.generate_key().decode())
    ais, sources = vaults.resolve_ais(env, {"password": "stored-pw", "username": ""})
    assert ais.password == "stored-pw" and sources["password"] == "stored"
    assert ais.username == "env-user" and sources["username"] == "env"  # empty stored value does not win
    assert ais.environment == "JPD920"
    assert ais.role is None and sources["role"] == "not set"  # no sandbox defaults for a real server
    assert ais.device_name == "woo-jde-connector" and sources["device_name"] == "env"


def test_sandbox_defaults():
    ais = vaults.effective_ais(settings(), None)
    assert (ais.base_url, ais.username, ais.password, ais.environment, ais.role, ais.device_name) == (
        None, "JDE", "JDE", "JDV920", "*ALL", "woo-jde-connector")
    # A stored server is a real server: it is never sent the sandbox login.
    ais = vaults.effective_ais(settings(), {"base_url": "https://ais.example.com", "username": "ops"})
    assert ais.password is None and ais.username == "ops"


def test_woo_webhook_secret_follows_the_effective_consumer_secret():
    env = settings(WOO_STORE_URL="https://shop.example", WOO_CONSUMER_KEY="ck_env", WOO_CONSUMER_SECRET="cs_env")
    woo, sources = vaults.resolve_woo(env, None)
    assert woo.webhook_secrets == ("cs_env",)
    woo, sources = vaults.resolve_woo(env, {"consumer_secret": "cs_stored"})
    assert woo.consumer_key == "ck_env" and woo.consumer_secret == "cs_stored"
    assert woo.webhook_secrets == ("cs_stored",) and sources["webhook_secrets"].startswith("stored")
    explicit = settings(WOO_CONSUMER_SECRET="cs_env", WOO_WEBHOOK_SECRET="wh1,wh2")
    assert vaults.effective_woo(explicit, {"consumer_secret": "cs_stored"}).webhook_secrets == ("wh1", "wh2")
    assert vaults.effective_woo(explicit, {"webhook_secrets": ["wh_stored"]}).webhook_secrets == ("wh_stored",)


def test_repr_shows_no_secret():
    ais = vaults.effective_ais(settings(AIS_PASSWORD=PASSWORD), None)
    woo = vaults.effective_woo(settings(WOO_CONSUMER_SECRET=PASSWORD, WOO_WEBHOOK_SECRET="whsec-zz"), None)
    key = Fernet.generate_key().decode()
    text = repr(ais) + repr(woo) + repr(vaults.Vault([key]))
    assert PASSWORD not in text and "whsec-zz" not in text and key not in text
