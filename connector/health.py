"""The health facts: is each part of the connector doing its job, and does anything need a person?

One structure for the admin dashboard's strip and for /readyz's body. Each part (JDE,
WooCommerce, the last poll, posting, the queues, the last reconciliation) is `ok`, `bad` or
`unknown`, with a headline, its `since` (when it became so) and `at` (when it was last seen),
and a detail for a person:

- `bad` only for what needs a person: JDE not answering, a failing poll or webhook upkeep,
  orders a person must look at, work nobody takes up, a failed reconciliation or one with
  discrepancies;
- `ok` only for what is proven: JDE answered the probe within the last `health_cache_seconds`,
  a webhook arrived within the hour or the upkeep found the webhooks active, the last poll
  and reconciliation succeeded on time, JDE took a posting and no order waits for a person;
- `unknown` otherwise (nothing tried yet, overdue, or the fact could not be read).

JDE's reachability is the circuit breaker (what posting met) plus a probe of AIS without a
login: `GET /jderest/v2/defaultconfig` (Oracle's "Get Configuration": no token, the server's
release; v2 also checks AIS's own JAS server), `/jderest/defaultconfig` on a server too old
for v2. The probe's answer is kept in Redis for `health_cache_seconds` (15 at most), so page
loads and /readyz, from any number of processes, cost AIS one GET per interval, and a stopped
AIS shows on the first page load after that.

A queue is not bad because it holds messages, only when work waits past the lease (a delivery
unfinished for two leases, an order whose lease ran out a lease ago) or its depth kept growing
over the last lease (`growing`), sampled on every read at most every 5 s.

The judges (`judge_*`, `growing`) are pure functions of facts already read; `facts()` reads
them (Postgres, Redis, the broker through the `queue_depths` callable, AIS) and never raises.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import redis as redis_lib
import requests

from connector.times import local_text
from connector.times import parse_utc as _parse

log = logging.getLogger(__name__)

OK, BAD, UNKNOWN = "ok", "bad", "unknown"
PROBE_PATHS = ("/jderest/v2/defaultconfig", "/jderest/defaultconfig")
PROBE_TIMEOUT = (2.0, 3.0)   # connect, read (seconds): a page load waits at most this once per interval
PROBE_KEY = "connector:health:ais-probe"
SAMPLES_KEY = "connector:health:queue-depths"
SAMPLE_EVERY_SECONDS = 5.0
SAMPLES_KEPT = 240            # 20 minutes at one sample per 5 s
WEBHOOK_RECENT = timedelta(hours=1)
_REDIS_DOWN = (redis_lib.RedisError, OSError)


@dataclass
class Part:
    name: str                      # jde, woo, poll, posting, queues, reconciliation
    title: str
    status: str                    # ok | bad | unknown
    text: str                      # the headline
    since: datetime | None = None  # when it became so
    at: datetime | None = None     # when it was last seen or done
    detail: str = ""
    facts: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"status": self.status, "text": self.text, "detail": self.detail,
                "since": self.since.isoformat() if self.since else None,
                "at": self.at.isoformat() if self.at else None,
                **{k: v for k, v in self.facts.items() if isinstance(v, (str, int, float, bool, type(None)))}}

    def line(self) -> str:
        """One line, times in UTC: "reachable", "unreachable since …: why"."""
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        return f"{self.text}{since}: {self.detail}".rstrip(": ") if self.detail else f"{self.text}{since}"


@dataclass
class Health:
    parts: list[Part]
    at: datetime

    def __getitem__(self, name: str) -> Part:
        return next(part for part in self.parts if part.name == name)

    @property
    def degraded(self) -> list[str]:
        return [part.name for part in self.parts if part.status == BAD]

    def as_json(self) -> dict:
        return {part.name: part.as_json() for part in self.parts}


# -- reading the facts ----------------------------------------------------------------------

def facts(runtime, *, queue_depths: Callable[[], dict] | None = None, now: datetime | None = None) -> Health:
    """Every part's state now; never raises (a fact that cannot be read makes its part unknown)."""
    now = now or datetime.now(timezone.utc)
    settings, tz = runtime.settings, runtime.mapping.store.timezone
    rows, db_error = _read_database(runtime)
    parts = [
        _guarded("jde", "JDE", lambda: _jde(runtime, now)),
        _guarded("woo", "WooCommerce", lambda: judge_woo(
            last_webhook=_need(rows, db_error)["last_webhook"], upkeep=rows["upkeep"],
            upkeep_on=bool(settings.public_url), webhooks_seconds=settings.webhooks_seconds, now=now, tz=tz)),
        _guarded("poll", "Last poll", lambda: judge_poll(
            _need(rows, db_error)["poll"], poll_seconds=settings.poll_seconds, now=now, tz=tz)),
        _guarded("posting", "Posting", lambda: judge_posting(
            last=_need(rows, db_error)["last_posting"], waiting=rows["waiting"])),
        _guarded("queues", "Queues", lambda: _queues(runtime, rows, db_error, queue_depths, now)),
        _guarded("reconciliation", "Last reconciliation", lambda: judge_reconciliation(
            _need(rows, db_error)["run"], running=rows["running"], reconcile_seconds=settings.reconcile_seconds,
            now=now)),
    ]
    return Health(parts, now)


class _Unreadable(Exception):
    pass


def _need(rows, error):
    if rows is None:
        raise _Unreadable(f"Postgres could not be read ({error})")
    return rows


def _guarded(name: str, title: str, judge) -> Part:
    try:
        part = judge()
    except _Unreadable as exc:
        return Part(name, title, UNKNOWN, "not known", detail=str(exc))
    except Exception as exc:   # a health page must show the other parts whatever this one met
        log.warning("health fact %s could not be read: %s", name, type(exc).__name__, exc_info=True)
        return Part(name, title, UNKNOWN, "not known", detail=f"could not be read ({type(exc).__name__})")
    part.name, part.title = name, title
    return part


def _read_database(runtime) -> tuple[dict | None, str | None]:
    from connector.polling import last_poll_key
    from connector.store import health as rows_of
    from connector.store import reconciliation, sync_state
    from connector.webhook_upkeep import STATE_KEY

    lease = runtime.settings.lease_seconds
    try:
        with runtime.db.transaction() as cur:
            running = reconciliation.latest_run(cur)
            return {
                "last_webhook": rows_of.last_webhook_at(cur),
                "upkeep": sync_state.get(cur, STATE_KEY),
                "poll": sync_state.get(cur, last_poll_key(runtime.mapping.store.source)),
                "last_posting": rows_of.last_posting(cur),
                "waiting": rows_of.orders_waiting(cur),
                "stale_deliveries": rows_of.stale_deliveries(cur, older_than_seconds=2 * lease),
                "stale_orders": rows_of.stale_orders(cur, lease_seconds=lease),
                "run": reconciliation.latest_finished_run(cur),
                "running": running if running and running["state"] == "running" else None,
            }, None
    except Exception as exc:
        from connector.store.database import CONNECTION_ERRORS

        if not isinstance(exc, CONNECTION_ERRORS):   # not an outage: a fault of these reads, to be seen
            log.warning("health facts could not be read from Postgres: %s", type(exc).__name__, exc_info=True)
        return None, type(exc).__name__


# -- JDE ------------------------------------------------------------------------------------

def _jde(runtime, now: datetime) -> Part:
    from connector.embedded import ServicesNotRunning

    breaker = runtime.breaker.state()
    try:
        base_url = runtime.ais_login().base_url
    except ServicesNotRunning:   # no AIS_BASE_URL (nor stored) and no sandbox running
        base_url = None
    except Exception:
        # The stored credentials cannot be read (Postgres down): the environment's server, if named.
        base_url = runtime.settings.ais_base_url
        if not base_url:
            raise
    probe = token = None
    if base_url:
        probe = probe_ais(base_url, runtime.redis, cache_seconds=runtime.settings.health_cache_seconds)
        try:
            token = runtime.ais_session.shared_facts()
        except Exception as exc:
            log.debug("health: the shared AIS token could not be read: %s", type(exc).__name__)
    return judge_jde(breaker=breaker, configured=bool(base_url), probe=probe, token=token, now=now)


def probe_ais(base_url: str, redis, *, cache_seconds: float, http=requests) -> dict:
    """{"ok", "at", "since" (epoch seconds), "detail", "version"}: AIS's answer to defaultconfig,
    the one kept in Redis when younger than `cache_seconds`. `since` is when the answer last
    changed between answering and not (kept a week)."""
    key = f"{PROBE_KEY}:{hashlib.sha256(base_url.encode()).hexdigest()[:16]}"
    try:
        cached = redis.get(key) if cache_seconds > 0 else None
        if cached:
            return json.loads(cached)
        last = json.loads(redis.get(key + ":last") or "null")
    except (*_REDIS_DOWN, ValueError):
        last = None
    ok, detail, version = _ask_ais(base_url.rstrip("/"), http)
    at = time.time()
    since = last["since"] if last and last.get("ok") == ok else at
    result = {"ok": ok, "at": at, "since": since, "detail": detail, "version": version}
    try:
        if cache_seconds > 0:
            redis.set(key, json.dumps(result), px=max(1, int(cache_seconds * 1000)))
        redis.set(key + ":last", json.dumps({"ok": ok, "since": since}), ex=7 * 24 * 3600)
    except _REDIS_DOWN:
        pass
    return result


def _ask_ais(base_url: str, http) -> tuple[bool, str, str | None]:
    """(answered, what it said, its release)."""
    for path in PROBE_PATHS:
        try:
            response = http.get(base_url + path, timeout=PROBE_TIMEOUT, headers={"Accept": "application/json"},
                                allow_redirects=False)
        except requests.Timeout:
            return False, f"no answer within {PROBE_TIMEOUT[1]:.0f} s", None
        except requests.RequestException as exc:
            return False, f"cannot connect ({type(exc).__name__})", None
        if response.status_code == 404 and path != PROBE_PATHS[-1]:
            continue   # a Tools release before 9.2.1.2 has only v1
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # A proxy's or server's page: the AIS application itself did not answer.
            return False, f"answered {response.status_code} with a page that is not AIS's", None
        if response.status_code != 200:
            message = str(body.get("message") or body.get("errorMessage") or "")[:200]
            return False, f"AIS answered {response.status_code}" + (f": {message}" if message else ""), None
        version = str(body.get("aisVersion") or "") or None
        return True, f"AIS {version}" if version else "AIS answered", version
    return False, "AIS has no defaultconfig service", None


def judge_jde(*, breaker: dict, configured: bool, probe: dict | None, token: dict | None, now: datetime) -> Part:
    notes = []
    if token:
        issued = token.get("issued_at")
        notes.append(f"token {_age(now.timestamp() - issued)} old" if issued else "token of unknown age")
        if token.get("date_format"):
            notes.append(f"the AIS user's dates {token['date_format']}")
    elif configured:
        notes.append("no token yet (the next call logs in)")
    if breaker.get("state") == "unknown":
        notes.append("the circuit breaker's state is unknown (Redis unavailable)")
    facts = {"date_format": (token or {}).get("date_format"), "version": (probe or {}).get("version"),
             "token_issued_at": (token or {}).get("issued_at")}
    if breaker.get("state") == "open":
        answering = " AIS answers the probe again: posting resumes at the next watch." if probe and probe["ok"] else ""
        return Part("jde", "JDE", BAD, "unreachable", since=breaker.get("since"),
                    detail=f"{breaker.get('reason') or 'outage answers'}; posting waits.{answering}", facts=facts)
    if not configured:
        return Part("jde", "JDE", UNKNOWN, "no AIS server to ask",
                    detail="; ".join(["AIS_BASE_URL is not set (nor stored) and no sandbox is running", *notes]),
                    facts=facts)
    at, since = _epoch(probe.get("at")), _epoch(probe.get("since"))
    if not probe["ok"]:
        return Part("jde", "JDE", BAD, "unreachable", since=since, at=at, detail="; ".join([probe["detail"], *notes]),
                    facts=facts)
    return Part("jde", "JDE", OK, "reachable", at=at, detail="; ".join([probe["detail"], *notes]), facts=facts)


# -- WooCommerce, polling, posting -------------------------------------------------------------

def judge_woo(*, last_webhook: datetime | None, upkeep: dict | None, upkeep_on: bool, webhooks_seconds: float,
              now: datetime, tz) -> Part:
    upkeep = upkeep or {}
    checked = _parse(upkeep.get("checked_at"))
    notes = []
    repair = upkeep.get("last_repair") or {}
    repaired_at = _parse(repair.get("at"))
    if repaired_at and now - repaired_at < timedelta(days=1):
        done = "; ".join(f"{what} {', '.join(repair[what])}" for what in ("reactivated", "created", "resecured")
                         if repair.get(what))
        off = _parse(repair.get("off_since"))
        notes.append(f"{done} at {_local(repaired_at, tz)}" + (f" (off since {_local(off, tz)}; polled for that "
                                                                 "time)" if off else ""))
    if upkeep.get("error"):
        return Part("woo", "WooCommerce", BAD, "webhook upkeep failing", since=_parse(upkeep.get("failing_since")),
                    at=checked, detail="; ".join([upkeep["error"], *notes]))
    upkeep_fresh = (upkeep_on and checked is not None and upkeep.get("active")
                    and now - checked <= timedelta(seconds=2 * webhooks_seconds + 60))
    if upkeep_fresh:
        notes.insert(0, f"{len(upkeep['active'])} webhooks active (checked {_local(checked, tz)})")
    elif not upkeep_on:
        notes.insert(0, "webhook upkeep off: CONNECTOR_PUBLIC_URL is not set")
    else:
        notes.insert(0, "webhooks not checked lately" if checked else "webhooks not checked yet")
    recent = last_webhook is not None and now - last_webhook <= WEBHOOK_RECENT
    text = "last webhook received" if last_webhook else "no webhook received yet"
    return Part("woo", "WooCommerce", OK if recent or upkeep_fresh else UNKNOWN, text, at=last_webhook,
                detail="; ".join(notes))


def judge_poll(state: dict | None, *, poll_seconds: float, now: datetime, tz) -> Part:
    if not state:
        return Part("poll", "Last poll", UNKNOWN, "no poll yet")
    at = _parse(state.get("at"))
    if state.get("error"):
        last_ok = _parse(state.get("last_ok"))
        return Part("poll", "Last poll", BAD, "failing", since=_parse(state.get("failing_since")), at=at,
                    detail=state["error"] + (f"; last good poll {_local(last_ok, tz)}" if last_ok else ""))
    found = (f"{state.get('seen', 0)} orders seen, {state.get('stored', 0)} new or changed, "
             f"{state.get('ready', 0)} ready to post")
    if at is None or now - at > timedelta(seconds=2 * poll_seconds + 60):
        return Part("poll", "Last poll", UNKNOWN, "overdue", at=at,
                    detail=f"{found}; beat polls every {poll_seconds:.0f} s: is it running?")
    return Part("poll", "Last poll", OK, found, at=at)


def judge_posting(*, last: dict | None, waiting: dict) -> Part:
    at = last["posted_at"] if last else None
    person = waiting.get("failed", 0) + waiting.get("needs_attention", 0)
    notes = []
    if last:
        notes.append(f"last: {last['batch_number']} as document {last['document_number']}")
    if waiting.get("waiting_for_jde"):
        notes.append(f"{waiting['waiting_for_jde']} waiting for JDE")
    facts = dict(waiting)
    if person:
        return Part("posting", "Posting", BAD, f"{person} order{'s need' if person != 1 else ' needs'} a person", at=at,
                    detail="; ".join([f"{waiting.get('failed', 0)} failed, {waiting.get('needs_attention', 0)} "
                                      "need attention", *notes]), facts=facts)
    if last is None:
        return Part("posting", "Posting", UNKNOWN, "nothing posted yet", detail="; ".join(notes), facts=facts)
    return Part("posting", "Posting", OK, "last posting", at=at, detail="; ".join(notes), facts=facts)


# -- queues ---------------------------------------------------------------------------------

def _queues(runtime, rows, db_error, queue_depths, now: datetime) -> Part:
    depths = queue_depths() if queue_depths else None
    samples = _sample(runtime.redis, depths, now.timestamp()) if depths else []
    window = max(60.0, float(runtime.settings.lease_seconds))
    rising = sorted(name for name in (depths or {})
                    if growing([(s["t"], s["d"].get(name)) for s in samples], now=now.timestamp(), window=window))
    data = _need(rows, db_error)
    return judge_queues(depths=depths, rising=rising, stale_deliveries=data["stale_deliveries"],
                        stale_orders=data["stale_orders"], lease_seconds=runtime.settings.lease_seconds,
                        tz=runtime.mapping.store.timezone)


def _sample(redis, depths: dict, now: float) -> list[dict]:
    """Record this reading (at most one per SAMPLE_EVERY_SECONDS, fleet-wide) and return the
    samples kept, newest first."""
    try:
        newest = redis.lindex(SAMPLES_KEY, 0)
        if newest is None or now - json.loads(newest)["t"] >= SAMPLE_EVERY_SECONDS:
            pipe = redis.pipeline()
            pipe.lpush(SAMPLES_KEY, json.dumps({"t": now, "d": depths}))
            pipe.ltrim(SAMPLES_KEY, 0, SAMPLES_KEPT - 1)
            pipe.execute()
        return [json.loads(raw) for raw in redis.lrange(SAMPLES_KEY, 0, -1)]
    except (*_REDIS_DOWN, ValueError, KeyError, TypeError):
        return []


def growing(samples: list[tuple[float, int | None]], *, now: float, window: float) -> bool:
    """True when a queue's depth rose over the last `window` seconds and never fell: at least
    three readings spanning half the window or more, each as deep as the one before, the last
    deeper than the first. A queue that drains, even slowly, is never growing."""
    recent = sorted((t, d) for t, d in samples if d is not None and 0 <= now - t <= window)
    if len(recent) < 3 or recent[-1][0] - recent[0][0] < window / 2:
        return False
    depths = [d for _, d in recent]
    return all(b >= a for a, b in zip(depths, depths[1:])) and depths[-1] > depths[0]


def judge_queues(*, depths: dict | None, rising: list[str], stale_deliveries: dict, stale_orders: dict,
                 lease_seconds: float, tz) -> Part:
    facts = {f"depth_{name}": n for name, n in (depths or {}).items()}
    shown = ", ".join(f"{name} {'?' if n is None else n}" for name, n in (depths or {}).items())
    problems = []
    if stale_deliveries.get("n"):
        problems.append(f"{stale_deliveries['n']} webhook deliveries unprocessed since "
                        f"{_local(stale_deliveries['oldest'], tz)} (over {2 * lease_seconds:.0f} s): is a worker "
                        "running?")
    if stale_orders.get("n"):
        problems.append(f"{stale_orders['n']} orders due since {_local(stale_orders['oldest'], tz)} and not taken "
                        f"up (over the {lease_seconds:.0f} s lease): are the worker and beat running?")
    if rising:
        problems.append(f"{', '.join(rising)} growing for the last {max(60.0, float(lease_seconds)):.0f} s: the "
                        "workers do not keep up")
    if depths is not None and any(n is None for n in depths.values()):
        problems.insert(0, "the broker does not answer")
    if problems:
        since = min((r["oldest"] for r in (stale_deliveries, stale_orders) if r.get("n") and r.get("oldest")),
                    default=None)
        return Part("queues", "Queues", BAD, shown or "waiting work", since=since, detail="; ".join(problems),
                    facts=facts)
    if depths is None:
        return Part("queues", "Queues", UNKNOWN, "depths not measured", facts=facts)
    return Part("queues", "Queues", OK, shown, detail="no work waits past its lease", facts=facts)


# -- reconciliation -------------------------------------------------------------------------

def judge_reconciliation(run: dict | None, *, running: dict | None, reconcile_seconds: float,
                         now: datetime) -> Part:
    note = f"run {running['id']} running since {running['started_at']:%Y-%m-%d %H:%M:%S} UTC" if running else ""
    if run is None:
        return Part("reconciliation", "Last reconciliation", UNKNOWN, "none yet", detail=note)
    facts = {"run_id": run["id"], "run_state": run["state"], "discrepancies": run["discrepancies"]}
    window = f"GL dates {run['gl_date_from']} to {run['gl_date_to']}"
    at = run["finished_at"]
    detail = "; ".join(part for part in (window, note) if part)
    if run["state"] == "failed":
        return Part("reconciliation", "Last reconciliation", BAD, "failed", at=at,
                    detail="; ".join(p for p in (run["error"] or "no reason recorded", window, note) if p), facts=facts)
    if run["discrepancies"]:
        n = run["discrepancies"]
        return Part("reconciliation", "Last reconciliation", BAD, f"{n} discrepanc{'ies' if n != 1 else 'y'}", at=at,
                    detail=detail, facts=facts)
    if at is None or now - at > timedelta(seconds=max(2 * reconcile_seconds, 3600)):
        return Part("reconciliation", "Last reconciliation", UNKNOWN, "no discrepancy, but overdue", at=at,
                    detail=detail, facts=facts)
    return Part("reconciliation", "Last reconciliation", OK, "no discrepancy", at=at,
                detail=f"every order of {window} is in JDE exactly once" + (f"; {note}" if note else ""), facts=facts)


# -- small helpers --------------------------------------------------------------------------

def _epoch(seconds) -> datetime | None:
    return datetime.fromtimestamp(float(seconds), timezone.utc) if seconds else None


def _local(moment: datetime | None, tz) -> str:
    """As the admin pages' `when` filter writes a time (connector.times)."""
    return "?" if moment is None else local_text(moment, tz)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
