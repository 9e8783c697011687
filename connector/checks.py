"""`connector check`: does this configuration fit the real systems? Each check is short,
independent where it can be, and says what to do when it fails.

Order: the mapping; Postgres and Redis; the records' JDE; AIS reachable (DNS, TCP, TLS — with
this machine's address, since AIS servers commonly allow-list callers); an AIS login with the
stored credentials (a fresh token, not the cache) and the user's date format; read access to
F0911, F0101 and F01151; the two orchestrations; every mapped account in F0901 and open for
posting; the WooCommerce REST API (orders, products, refunds, webhooks); and each webhook the
connector needs (there, active, pointing at CONNECTOR_PUBLIC_URL, signing with the connector's
secret).
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

OK, FAIL, WARN = "ok", "fail", "warn"
ALLOW_LIST = ("AIS servers commonly allow-list their callers (a firewall, or the HTML server's Allowed Hosts): "
              "ask the JDE administrator to allow {address}")


@dataclass(frozen=True)
class Check:
    name: str
    status: str      # ok | fail | warn
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _ok(name, detail):
    return Check(name, OK, detail)


def _fail(name, detail, fix=""):
    return Check(name, FAIL, detail, fix)


def _warn(name, detail, fix=""):
    return Check(name, WARN, detail, fix)


# -- AIS reachable ------------------------------------------------------------------------------


def egress(host: str, port: int, settings) -> str:
    """This machine's address as a server at host:port would see it, as far as it can be learnt."""
    local = "unknown"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))        # no packet is sent: only the route is chosen
            local = probe.getsockname()[0]
    except OSError:
        pass
    public = settings.egress_ip or "unknown (set CONNECTOR_EGRESS_IP to the platform's outbound address)"
    return f"local address {local}, public address {public}"


def reach(url: str, settings, timeout: float) -> Check:
    name = "AIS reachable"
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return _fail(name, f"{url}: the name {host!r} does not resolve ({exc.strerror})",
                     "check AIS_BASE_URL (or `connector credentials set ais`)")
    address = addresses[0][4]
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            local = conn.getsockname()[0]
            if parts.scheme == "https":
                try:
                    with ssl.create_default_context().wrap_socket(conn, server_hostname=host):
                        pass
                except ssl.SSLError as exc:
                    return _fail(name, f"{url}: TLS handshake failed ({exc.reason or exc})",
                                 "the server's certificate must be valid for this name and trusted here "
                                 "(REQUESTS_CA_BUNDLE for a private CA)")
    except (socket.timeout, TimeoutError):
        return _fail(name, f"{url}: no TCP connection within {timeout:.0f} s ({address[0]})",
                     ALLOW_LIST.format(address=egress(host, port, settings)))
    except OSError as exc:
        return _fail(name, f"{url}: {exc.strerror or exc} ({address[0]}:{port})",
                     "check the URL and port; " + ALLOW_LIST.format(address=egress(host, port, settings)))
    return _ok(name, f"{url} answers TCP{' and TLS' if parts.scheme == 'https' else ''} (from {local})")


# -- AIS session, data, orchestrations, accounts ------------------------------------------------


def ais_checks(runtime, timeout: float) -> list[Check]:
    from connector.jde.client import AisClient
    from connector.jde.errors import AisError, AisOutage
    from connector.jde.session import AisSession

    login = runtime.ais_login()
    checks = [reach(login.base_url, runtime.settings, timeout)]
    if checks[-1].status == FAIL:
        return checks
    session = AisSession(login, runtime.redis, timeout=(timeout, timeout))
    try:
        token, date_format = session.fresh_login()
    except AisOutage as exc:
        return checks + [_fail("AIS login", f"{login.base_url}: {exc.text} within {timeout:.0f} s",
                               "the port accepts connections but AIS does not answer: check the AIS server "
                               "(and that AIS_BASE_URL names AIS, not the HTML server); "
                               + ALLOW_LIST.format(address=egress(urlsplit(login.base_url).hostname or "",
                                                                  urlsplit(login.base_url).port or 443,
                                                                  runtime.settings)))]
    except AisError as exc:
        return checks + [_fail("AIS login", f"user {login.username} on {login.base_url}: {exc.text}",
                               "check the AIS user, password, environment and role "
                               "(`connector credentials set ais`)")]
    checks.append(_ok("AIS login", f"user {login.username}, environment {login.environment or '-'}, role "
                                   f"{login.role or '-'}; the user's date format is {date_format}"))
    client = AisClient(session, timeout=(timeout, timeout), max_tries=1, max_time=timeout)
    try:
        for table, columns in (("F0911", ["DOC", "DCT", runtime.mapping.orchestrations.reference_column]),
                               ("F0101", ["AN8", "ALPH"]), ("F01151", ["AN8", "EMAL"])):
            checks.append(_read(client, table, columns))
        checks += orchestrations(client, runtime.mapping)
        checks += accounts(client, runtime.mapping)
    finally:
        session.end(token)
    return checks


def _read(client, table: str, columns: list[str]) -> Check:
    from connector.jde.errors import AisError

    name = f"AIS read {table}"
    try:
        rows = client.browse(table, columns=columns, conditions=[], page_size=1, all_pages=False)
    except AisError as exc:
        return _fail(name, exc.text, f"give the AIS user read access to {table} (data browser / row security)")
    return _ok(name, "readable" + ("" if rows else " (no row yet)"))


def orchestrations(client, mapping) -> list[Check]:
    from connector.jde.errors import AisError

    wanted = {"orchestrations.post_journal_entry": mapping.orchestrations.post_journal_entry,
              "orchestrations.add_customer": mapping.orchestrations.add_customer}
    try:
        known = {o.get("name"): o for o in client.discover()}
    except AisError as exc:
        if exc.status in (404, 405):
            return [_warn("orchestrations", "this Tools release has no discovery service (/jderest/discover): "
                          "the orchestrations cannot be listed",
                          f"call each once by hand (docs/ais.md) to be sure {', '.join(wanted.values())} exist")]
        return [_fail("orchestrations", exc.text, "give the AIS user access to the discovery service")]
    checks = []
    for key, name in wanted.items():
        if name in known:
            checks.append(_ok(f"orchestration {name}", f"known to AIS (input format "
                                                       f"{known[name].get('inputFormat') or '?'})"))
        else:
            checks.append(_fail(f"orchestration {name}", f"AIS has no orchestration {name} ([{key}])",
                                "build it in Orchestrator Studio (docs/ais.md), or correct the name in "
                                "connector.toml"))
    return checks


def mapped_accounts(mapping) -> dict[str, str]:
    """{"BU.Obj.Sub": the mapping key that names it} for every account the mapping can post to."""
    accounts = mapping.accounts
    named = {f"accounts.{key}": getattr(accounts, key) for key in ("revenue", "shipping", "fees", "tax_payable",
                                                                  "rounding", "discounts", "payment_fees",
                                                                  "gift_cards", "refunds_payable")
             if getattr(accounts, key) is not None}
    for table in ("clearing", "tax", "revenue_by_category"):
        named.update({f"accounts.{table}.{name}": account for name, account in getattr(accounts, table).items()})
    found: dict[str, str] = {}
    for key, account in named.items():
        found.setdefault(mapping.account_number(account), key)
    return found


def accounts(client, mapping) -> list[Check]:
    from connector.jde.errors import AisError

    checks = []
    for number, key in mapped_accounts(mapping).items():
        business_unit, obj, *sub = number.split(".")
        sub = sub[0] if sub else ""
        name = f"account {number}"
        try:
            rows = client.browse("F0901", columns=["MCU", "OBJ", "SUB", "PEC", "DL01"],
                                 conditions=[("OBJ", "EQUAL", [obj])], page_size=100)
        except AisError as exc:
            checks.append(_fail(name, exc.text, "give the AIS user read access to F0901"))
            continue
        # F0901.MCU is right-justified in 12 characters and SUB blank-padded: compare stripped.
        match = next((r for r in rows if str(r.get("F0901_MCU", "")).strip() == business_unit
                      and str(r.get("F0901_SUB", "")).strip() == sub), None)
        if match is None:
            checks.append(_fail(name, f"not in the JDE chart of accounts (F0901) — [{key}]",
                                f"create {number} in JDE, or map [{key}] to an account that exists"))
        elif str(match.get("F0901_PEC") or "").strip().upper() in ("N", "I"):
            checks.append(_fail(name, f"posting edit code {match['F0901_PEC']!r}: JDE refuses postings to it "
                                      f"— [{key}]", f"map [{key}] to a posting account (posting edit code blank)"))
        else:
            checks.append(_ok(name, f"{str(match.get('F0901_DL01') or '').strip() or 'exists'}, open for posting"))
    return checks


# -- WooCommerce ---------------------------------------------------------------------------------


def woo_checks(runtime, public_url: str | None, timeout: float) -> list[Check]:
    from connector.woo import registration
    from connector.woo.client import ORDERS_PATH, PRODUCTS_PATH, WooError

    woo = runtime.woo_client()
    woo.timeout, woo.max_tries = (timeout, timeout), 1
    checks = []
    try:
        orders = woo.list(ORDERS_PATH, per_page=1)
        checks.append(_ok("WooCommerce orders", f"{woo.base}: readable"))
        woo.list(PRODUCTS_PATH, per_page=1)
        checks.append(_ok("WooCommerce products", "readable"))
        if orders:
            woo.list(f"{ORDERS_PATH}/{int(orders[0]['id'])}/refunds", per_page=1)
            checks.append(_ok("WooCommerce refunds", "readable"))
        else:
            checks.append(_warn("WooCommerce refunds", "the shop has no order yet to read refunds of",
                                "run the check again once an order exists"))
        hooks = woo.webhooks()
        checks.append(_ok("WooCommerce webhooks", f"readable ({len(hooks)} registered)"))
    except WooError as exc:
        return checks + [_fail("WooCommerce REST", str(exc),
                               "check WOO_STORE_URL and that the REST key has Read/Write permissions "
                               "(WooCommerce → Settings → Advanced → REST API)")]
    if not public_url:
        return checks + [_warn("webhooks", "CONNECTOR_PUBLIC_URL is not set: cannot tell which webhooks are ours",
                               "set CONNECTOR_PUBLIC_URL to the receiver's public base URL")]
    secrets = runtime.webhook_secrets()
    url = registration.delivery_url(public_url)
    for state in registration.inspect(hooks, url=url, secret=secrets[0] if secrets else None):
        name = f"webhook {state.topic}"
        if state.state == "ok":
            checks.append(_ok(name, state.detail + ("" if state.secret_checked else
                                                    " (the store does not show secrets: not compared)")))
        elif state.state == "missing" and state.others:
            checks.append(_fail(name, f"points at {', '.join(state.others)}, not at {url}",
                                "`connector woo webhooks ensure` registers the connector's own (or correct "
                                "CONNECTOR_PUBLIC_URL)"))
        else:
            checks.append(_fail(name, f"{state.detail} (delivery URL {url})", "`connector woo webhooks ensure`"))
    return checks


# -- everything ----------------------------------------------------------------------------------


def run_checks(settings, *, timeout: float = 10.0, public_url: str | None = None) -> list[Check]:
    from connector import embedded
    from connector.ledger_target import MixedLedgers
    from connector.mapping import MappingError, load_mapping
    from connector.runtime import Runtime

    try:
        mapping = load_mapping(settings.config_path)
    except MappingError as exc:
        return [_fail("mapping", str(exc), "correct connector.toml")]
    checks = [_ok("mapping", f"{settings.config_path}: store {mapping.store.source}, company {mapping.store.company}, "
                             f"business unit {mapping.store.business_unit}")]
    try:
        urls = embedded.resolve_urls(settings)
    except embedded.ServicesNotRunning as exc:
        return checks + [_fail("Postgres and Redis", str(exc))]
    runtime = Runtime(settings=settings, mapping=mapping, database_url=urls.database_url, redis_url=urls.redis_url)
    try:
        try:
            runtime.redis.ping()
            with runtime.db.transaction() as cur:
                cur.execute("SELECT 1")
        except Exception as exc:    # any failure to reach them is the finding
            return checks + [_fail("Postgres and Redis", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
                                   "check DATABASE_URL and REDIS_URL")]
        checks.append(_ok("Postgres and Redis", "reachable"))
        try:
            runtime.check_jde_target()
            checks.append(_ok("records", "the database's postings belong to the configured JDE"))
        except MixedLedgers as exc:
            checks.append(_fail("records", str(exc)))
        try:
            checks += ais_checks(runtime, timeout)
        except embedded.ServicesNotRunning as exc:
            checks.append(_fail("AIS", str(exc)))
        try:
            checks += woo_checks(runtime, public_url, timeout)
        except embedded.ServicesNotRunning as exc:
            checks.append(_fail("WooCommerce", str(exc)))
    finally:
        runtime.db.close()
    return checks
