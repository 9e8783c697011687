"""`connector credentials …` against the test database: ciphertext only, redacted output, rotation."""
from __future__ import annotations

import psycopg2
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connector import vault as vaults
from connector.cli.credentials import credentials

PASSWORD = "Hunter2-very-secret-pw"
CONSUMER_SECRET = "cs_0123456789abcdef-secret"
WEBHOOK_SECRET = "whsec-distinct-secret"


def _raw_rows(database_url) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, ciphertext, key_fingerprint, updated_at::text FROM credentials ORDER BY name")
        return cur.fetchall()


def _raw_bytes(rows) -> bytes:
    return b"".join(bytes(v) if isinstance(v, memoryview) else str(v).encode() for row in rows for v in row)


@pytest.fixture
def cli(clean_db, monkeypatch):
    """Run `connector credentials …` with a fresh key, on an empty credentials table."""
    def empty():
        conn = psycopg2.connect(clean_db)
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM credentials")  # clean_db's TRUNCATE list does not include it
        conn.close()

    for name in ("AIS_BASE_URL", "AIS_USERNAME", "AIS_PASSWORD", "WOO_CONSUMER_SECRET"):
        monkeypatch.delenv(name, raising=False)
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", key)
    empty()
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(credentials, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    invoke.key = key
    yield invoke
    empty()


def test_set_ais_stores_ciphertext_only_and_show_redacts(cli, clean_db):
    answers = ["https://ais.example.com:9300", "OPS", PASSWORD, PASSWORD, "JPD920", "*ALL", ""]
    output = cli("set", "ais", "--no-verify", input="\n".join(answers) + "\n")
    assert "stored ais credentials" in output and PASSWORD not in output

    rows = _raw_rows(clean_db)
    assert [row[0] for row in rows] == ["ais"]
    raw = _raw_bytes(rows)
    assert PASSWORD.encode() not in raw and b"OPS" not in raw and b"password" not in raw
    assert rows[0][2] == vaults.key_fingerprint(cli.key)

    shown = cli("show")
    assert PASSWORD not in shown and cli.key not in shown
    password_line = next(line for line in shown.splitlines() if line.strip().startswith("password"))
    assert password_line.split()[1:] == ["set", "stored"]
    username_line = next(line for line in shown.splitlines() if line.strip().startswith("username"))
    assert username_line.split()[1:] == ["OPS", "stored"]
    device_line = next(line for line in shown.splitlines() if line.strip().startswith("device_name"))
    assert device_line.split()[-1] == "env"  # left blank: the environment fills it


def test_set_woo_never_echoes_secrets(cli, clean_db):
    answers = ["https://shop.example", "ck_123", CONSUMER_SECRET, CONSUMER_SECRET, WEBHOOK_SECRET, WEBHOOK_SECRET]
    output = cli("set", "woo", input="\n".join(answers) + "\n")
    output += cli("show")
    for secret in (CONSUMER_SECRET, WEBHOOK_SECRET):
        assert secret not in output
        assert secret.encode() not in _raw_bytes(_raw_rows(clean_db))
    assert "ck_123" in output  # the consumer key is an identifier, not a secret


def test_rotate_key_re_encrypts_under_the_new_key(cli, clean_db, monkeypatch):
    old = cli.key
    cli("set", "ais", "--no-verify", "--base-url", "https://ais.example.com", "--username", "OPS", "--environment", "JPD920",
        "--role", "*ALL", "--device-name", "dev1", input=f"{PASSWORD}\n{PASSWORD}\n")
    before = _raw_rows(clean_db)

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", f"{new},{old}")
    assert "old key: run rotate-key" in cli("show")
    output = cli("rotate-key")
    assert "re-encrypted 1 row(s)" in output and vaults.key_fingerprint(new) in output

    after = _raw_rows(clean_db)
    assert after[0][2] == vaults.key_fingerprint(new) != before[0][2]
    assert bytes(after[0][1]) != bytes(before[0][1])

    monkeypatch.setenv("CONNECTOR_SECRET_KEY", new)  # the old key is gone now
    shown = cli("show")
    assert "current key" in shown and PASSWORD not in shown
    assert vaults.Vault([new]).decrypt(bytes(after[0][1]))["password"] == PASSWORD


def test_generate_key_prints_a_usable_key(cli):
    key = cli("generate-key").strip()
    assert vaults.Vault([key]).fingerprint == vaults.key_fingerprint(key)


def test_refuses_a_real_server_under_the_sandbox_key(cli, clean_db, monkeypatch):
    monkeypatch.delenv("CONNECTOR_SECRET_KEY")
    result = CliRunner().invoke(credentials, ["set", "ais", "--base-url", "https://ais.example.com"])
    assert result.exit_code == 2 and "CONNECTOR_SECRET_KEY" in result.output
    assert _raw_rows(clean_db) == []


@pytest.fixture
def jde():
    """A sandbox JDE whose login is OPS / PASSWORD."""
    from sandbox.ais import AisSandbox

    with AisSandbox(seed=3, username="OPS", password=PASSWORD) as server:
        yield server


@pytest.mark.parametrize("password, stored", [(PASSWORD, True), ("wrong-password-1", False)])
def test_set_ais_logs_in_before_it_stores(cli, clean_db, jde, redis_url, password, stored):
    import redis

    shared = redis.Redis.from_url(redis_url)
    shared.set("connector:ais:token:old-login", b"sealed")       # the workers' token of the old credentials
    answers = [jde.url, "OPS", password, password, "JDV920", "*ALL", "dev-1"]
    result = CliRunner().invoke(credentials, ["set", "ais"], input="\n".join(answers) + "\n")
    assert (result.exit_code == 0) is stored, result.output
    assert [row[0] for row in _raw_rows(clean_db)] == (["ais"] if stored else [])
    if stored:
        assert "AIS login ok" in result.output and "dd.MM.yyyy" in result.output
        assert shared.get("connector:ais:token:old-login") is None   # the next call logs in with the new ones
    else:
        assert "not stored: the AIS login failed" in result.output and "--no-verify" in result.output
        assert shared.get("connector:ais:token:old-login") == b"sealed"
    assert password not in result.output
    assert jde.stats()["token_requests"] == 1 and jde.stats()["logouts"] == (1 if stored else 0)


# --- blank secrets and short passwords ------------------------------------------------------

def _refused(args, answers, *, env=None):
    result = CliRunner().invoke(credentials, args, input="\n".join(answers) + "\n", env=env)
    assert result.exit_code == 2, result.output
    return result.output


@pytest.mark.parametrize("blank", [" ", "   ", "\t "])
def test_set_woo_refuses_a_whitespace_webhook_secret(cli, clean_db, blank):
    output = _refused(["set", "woo", "--store-url", "https://shop.example", "--consumer-key", "ck_1"],
                      [CONSUMER_SECRET, CONSUMER_SECRET, blank, blank])
    assert "Webhook secret" in output and "blank or only spaces: not stored" in output
    assert _raw_rows(clean_db) == []


def test_set_woo_refuses_a_whitespace_consumer_secret(cli, clean_db):
    output = _refused(["set", "woo", "--store-url", "https://shop.example", "--consumer-key", "ck_1"], [" ", " "])
    assert "Consumer secret is blank" in output and _raw_rows(clean_db) == []


def test_set_woo_empty_webhook_secret_still_means_the_consumer_secret(cli, clean_db):
    cli("set", "woo", "--store-url", "https://shop.example", "--consumer-key", "ck_1",
        input=f"{CONSUMER_SECRET}\n{CONSUMER_SECRET}\n\n\n")
    assert "webhook_secrets" not in vaults.Vault([cli.key]).decrypt(bytes(_raw_rows(clean_db)[0][1]))


def test_set_ais_refuses_a_whitespace_password(cli, clean_db):
    output = _refused(["set", "ais", "--no-verify", "--base-url", "https://ais.example.com", "--username", "OPS",
                       "--environment", "JPD920", "--role", "*ALL", "--device-name", "d1"], ["  ", "  "])
    assert "AIS password is blank" in output and _raw_rows(clean_db) == []


@pytest.mark.parametrize("sandbox", [True, False])
def test_set_admin_refuses_twelve_spaces(cli, clean_db, monkeypatch, sandbox):
    if not sandbox:
        monkeypatch.setenv("AIS_BASE_URL", "https://ais.example.com")
    output = _refused(["set", "admin"], [" " * 12, " " * 12])
    assert "admin password is blank" in output and _raw_rows(clean_db) == []


def test_set_admin_refuses_a_short_password_outside_the_sandbox(cli, clean_db, monkeypatch):
    monkeypatch.setenv("AIS_BASE_URL", "https://ais.example.com")
    output = _refused(["set", "admin"], ["eleven-char", "eleven-char"])
    assert "has 11 characters: choose one of at least 12" in output and _raw_rows(clean_db) == []
    cli("set", "admin", input="twelve-chars\ntwelve-chars\n")
    assert [row[0] for row in _raw_rows(clean_db)] == ["admin"]


def test_set_admin_refuses_a_short_password_when_a_real_ais_server_is_stored(cli, clean_db):
    # No AIS_BASE_URL, but a real server stored: not the sandbox.
    cli("set", "ais", "--no-verify", "--base-url", "https://ais.example.com", "--username", "OPS", "--environment",
        "JPD920", "--role", "*ALL", "--device-name", "d1", input=f"{PASSWORD}\n{PASSWORD}\n")
    output = _refused(["set", "admin"], ["short", "short"])
    assert "at least 12" in output and [row[0] for row in _raw_rows(clean_db)] == ["ais"]


def test_set_admin_accepts_a_short_password_on_the_sandbox(cli, clean_db):
    # The sandbox's login protects nothing (admin / sandbox is public): only blank is refused there.
    cli("set", "admin", input="short\nshort\n")
    assert [row[0] for row in _raw_rows(clean_db)] == ["admin"]


def test_set_admin_refuses_a_blank_user_name(cli, clean_db):
    output = _refused(["set", "admin", "--username", "  "], [])
    assert "user name is blank" in output and _raw_rows(clean_db) == []


def test_store_credentials_refuses_blank_secrets_whatever_the_caller(clean_db):
    from connector.store import Database

    vault = vaults.Vault([Fernet.generate_key()])
    database = Database(clean_db, size=1)
    try:
        for document in ({"password": " "}, {"consumer_secret": "\n"}, {"webhook_secrets": ["ok-secret", "  "]}):
            with pytest.raises(vaults.WeakSecret, match="blank"), database.transaction() as cur:
                vaults.store_credentials(cur, vault, "woo", document)
    finally:
        database.close()
    assert _raw_rows(clean_db) == []
