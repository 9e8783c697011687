"""AIS token rules.

One token serves every worker: it lives in Redis (sealed with the vault, so a Redis dump
does not hand out a JDE session), keyed by server, environment and user, with an
in-process copy so a call costs no Redis round trip. The AIS server returns no expiry (it
has an inactivity timeout and a time-to-live), so the token is kept alive by the beat task
`refresh_ais_token` (validate with touch, log in again when invalid), and replaced at once
when a call answers 444. Replacement is single-flight: under a Redis lock, and a process
that finds another already replaced the token it holds takes the new one instead of
logging in again. A fixed deviceName is always sent; without one AIS binds the token to
the caller's IP address, which differs between dynos.

A 403 "Token is Invalid" means the same as 444 (some Tools releases answer it on data and
orchestration calls). The token response also says how the AIS user writes dates
(`userInfo.simpleDateFormat`); the data service wants date conditions in that form, so it is
kept with the token (connector/jde/dates.py).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import requests

from connector import metrics
from connector.jde import dates
from connector.jde.errors import AisError, AisInvalidToken, AisNotSent, AisOutage, classify

log = logging.getLogger(__name__)

TOKEN_PATH = "/jderest/v2/tokenrequest"
VALIDATE_PATH = "/jderest/v2/tokenrequest/validate"
LOGOUT_PATH = "/jderest/v2/tokenrequest/logout"
# Kept in Redis at most this long without a successful validation (server TTLs are hours).
REDIS_TTL_SECONDS = 12 * 3600
LOCK_SECONDS = 30


@dataclass(frozen=True)
class AisLogin:
    base_url: str
    username: str
    environment: str
    role: str
    device_name: str
    password: str = ""

    def __repr__(self):   # the password never reaches a log line
        return f"AisLogin({self.base_url!r}, user={self.username!r}, env={self.environment!r})"


class AisSession:
    def __init__(self, login: AisLogin, redis, *, http: requests.Session | None = None,
                 timeout=(3.05, 30), seal: Callable[[str], bytes] | None = None,
                 unseal: Callable[[bytes], str] | None = None, on_call: Callable[[dict], None] | None = None):
        self.login_info = login
        self.redis = redis
        if http is None:
            http = requests.Session()
            # requests re-reads proxy and CA settings from the environment on every call
            # (~1 ms each); read them once instead.
            http.trust_env = False
            http.proxies = requests.utils.get_environ_proxies(login.base_url)
            http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.http = http
        self.timeout = timeout
        self._seal = seal or (lambda token: token.encode())
        self._unseal = unseal or (lambda blob: blob.decode())
        self._on_call = on_call
        self._token: str | None = None
        self._date_format: str | None = None
        digest = hashlib.sha256(f"{login.base_url}|{login.environment}|{login.username}".encode()).hexdigest()[:16]
        self.key = f"connector:ais:token:{digest}"

    @property
    def base_url(self) -> str:
        return self.login_info.base_url.rstrip("/")

    def auth_headers(self, token: str) -> dict:
        return {"jde-AIS-Auth": token, "jde-AIS-Auth-Device": self.login_info.device_name}

    # -- the token ---------------------------------------------------------------------
    def token(self) -> str:
        """The shared token: in-process copy, else Redis, else a (single-flight) login."""
        if self._token is None:
            shared = self._shared()
            if shared:
                self._token, self._date_format = shared
            else:
                self.renew(None)
        return self._token

    @property
    def date_format(self) -> str:
        """The AIS user's date pattern (SimpleDateFormat), as the token response gave it."""
        self.token()
        return self._date_format or dates.DEFAULT_USER_FORMAT

    def renew(self, stale: str | None) -> str:
        """Replace `stale` (None: there is none yet); one login however many callers ask."""
        with self.redis.lock(self.key + ":lock", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS + 5):
            current = self._shared()
            if current and current[0] != stale:
                self._token, self._date_format = current   # another process already replaced it
                return self._token
            token, date_format = self._login()
            self.redis.set(self.key, self._seal(json.dumps({"token": token, "date_format": date_format,
                                                            "issued_at": time.time()})),
                           ex=REDIS_TTL_SECONDS)
            self._token, self._date_format = token, date_format
            return token

    def keep_alive(self) -> str:
        """Beat: touch the shared token so it never idles out; log in again if it is invalid."""
        token = (self._shared() or (None, None))[0]
        if token and self._validate(token):
            self.redis.expire(self.key, REDIS_TTL_SECONDS)
            return "valid"
        self.renew(token)
        return "renewed"

    def fresh_login(self) -> tuple[str, str]:
        """A new token for this process alone (not the shared one): `connector check` tests the
        credentials themselves, not a cached session. Returns (token, the user's date format)."""
        token, date_format = self._login()
        self._token, self._date_format = token, date_format
        return token, date_format

    def end(self, token: str) -> None:
        """Log a token of this process's own out (best effort)."""
        try:
            self._request(LOGOUT_PATH, {"token": token}, "logout")
        except AisError:
            pass
        if self._token == token:
            self._token = None

    def forget_shared(self) -> None:
        """Drop the shared token (new credentials were stored: the next call logs in with them)."""
        self.redis.delete(self.key)
        self._token = None

    def probe(self) -> bool:
        """Does the AIS server answer at all? Validate the shared token (or ask for one): any
        answer from AIS, even "invalid token", means it is reachable."""
        token = (self._shared() or (None, None))[0]
        try:
            if token:
                self._validate(token)
            else:
                self.renew(None)
        except AisOutage:
            return False
        except AisError:
            return True    # AIS answered (e.g. a refused login): reachable
        return True

    def logout(self) -> None:
        token = (self._shared() or (None, None))[0]
        if token:
            self._request(LOGOUT_PATH, {"token": token}, "logout")
            self.redis.delete(self.key)
        self._token = None

    def shared_facts(self) -> dict | None:
        """What the shared token says about itself, without using it or logging in (the health
        facts): {"issued_at": epoch seconds or None (a token stored before it was kept),
        "date_format": the user's pattern or None}; None when there is no usable shared token."""
        blob = self.redis.get(self.key)
        if blob is None:
            return None
        try:
            document = json.loads(self._unseal(blob))
        except Exception:   # sealed under a key we no longer have: the next call logs in again
            return None
        issued = document.get("issued_at")
        return {"issued_at": float(issued) if isinstance(issued, (int, float)) else None,
                "date_format": document.get("date_format")}

    # -- internals ---------------------------------------------------------------------
    def _shared(self) -> tuple[str, str | None] | None:
        """(token, the user's date format) as shared in Redis, or None."""
        blob = self.redis.get(self.key)
        if blob is None:
            return None
        try:
            document = json.loads(self._unseal(blob))
            return str(document["token"]), document.get("date_format")
        except Exception:   # sealed under a key we no longer have, or an older layout: log in again
            return None

    def _login(self) -> tuple[str, str]:
        info = self.login_info
        body = self._request(TOKEN_PATH, {
            "username": info.username, "password": info.password, "environment": info.environment,
            "role": info.role, "deviceName": info.device_name,
        }, "tokenrequest")
        user_info = body.get("userInfo") or {}
        token = user_info.get("token")
        if not token:
            raise AisError("AIS token request answered without userInfo.token")
        try:
            date_format = dates.user_pattern(user_info)
        except dates.DateFormatError as exc:
            raise AisError(f"AIS token request: the user's date format cannot be used: {exc}") from None
        metrics.ais_login()
        log.info("AIS login for %s on %s (device %s, dates %s)", info.username, self.base_url, info.device_name,
                 date_format)
        return token, date_format

    def _validate(self, token: str) -> bool:
        # Oracle: any answer but 200 means the token is not valid; an outage is no answer.
        try:
            body = self._request(VALIDATE_PATH, {"token": token, "touch": True}, "validate",
                                 headers=self.auth_headers(token))
        except AisOutage:
            raise
        except AisError:
            return False
        return bool(body.get("isValidSession"))

    def _request(self, path: str, body: dict, what: str, headers: dict | None = None) -> dict:
        started = time.monotonic()
        outcome, status = "ok", None
        try:
            try:
                response = self.http.post(self.base_url + path, json=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                outcome = "unavailable"
                raise AisNotSent(f"AIS {what} failed: {type(exc).__name__} reaching {self.base_url}") from None
            status = response.status_code
            answer, is_json = _json(response)
            error = classify(status, answer, json_body=is_json, service=what, url=self.base_url)
            if error is not None:
                outcome = ("invalid_token" if isinstance(error, AisInvalidToken) else
                           "unavailable" if isinstance(error, AisOutage) else "rejected")
                raise error
            return answer
        finally:
            seconds = time.monotonic() - started
            metrics.ais_call(what, outcome, seconds)
            if self._on_call:
                # Only the service and the user: never the password or the token.
                self._on_call({"service": what, "status": status, "outcome": outcome,
                               "duration_ms": int(seconds * 1000),
                               "request": {"username": self.login_info.username,
                                           "deviceName": self.login_info.device_name}})


def _json(response) -> tuple[dict, bool]:
    """(the answer as a dict, whether it was JSON at all)."""
    try:
        value = response.json()
    except ValueError:
        return {"message": response.text[:200]}, False
    return (value if isinstance(value, dict) else {"message": value}), True
