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
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

import requests

from connector.jde.errors import AisError, AisInvalidToken, AisRejected, AisUnavailable

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
            self._token = self._shared() or self.renew(None)
        return self._token

    def renew(self, stale: str | None) -> str:
        """Replace `stale` (None: there is none yet); one login however many callers ask."""
        with self.redis.lock(self.key + ":lock", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS + 5):
            current = self._shared()
            if current and current != stale:
                self._token = current        # another process already replaced it
                return current
            token = self._login()
            self.redis.set(self.key, self._seal(token), ex=REDIS_TTL_SECONDS)
            self._token = token
            return token

    def keep_alive(self) -> str:
        """Beat: touch the shared token so it never idles out; log in again if it is invalid."""
        token = self._shared()
        if token and self._validate(token):
            self.redis.expire(self.key, REDIS_TTL_SECONDS)
            return "valid"
        self.renew(token)
        return "renewed"

    def logout(self) -> None:
        token = self._shared()
        if token:
            self._request(LOGOUT_PATH, {"token": token}, "logout")
            self.redis.delete(self.key)
        self._token = None

    # -- internals ---------------------------------------------------------------------
    def _shared(self) -> str | None:
        blob = self.redis.get(self.key)
        if blob is None:
            return None
        try:
            return self._unseal(blob)
        except Exception:   # sealed under a key we no longer have: log in again
            return None

    def _login(self) -> str:
        info = self.login_info
        body = self._request(TOKEN_PATH, {
            "username": info.username, "password": info.password, "environment": info.environment,
            "role": info.role, "deviceName": info.device_name,
        }, "tokenrequest")
        token = (body.get("userInfo") or {}).get("token")
        if not token:
            raise AisError("AIS token request answered without userInfo.token")
        log.info("AIS login for %s on %s (device %s)", info.username, self.base_url, info.device_name)
        return token

    def _validate(self, token: str) -> bool:
        try:
            body = self._request(VALIDATE_PATH, {"token": token, "touch": True}, "validate",
                                 headers=self.auth_headers(token))
        except (AisInvalidToken, AisRejected):
            return False
        return bool(body.get("isValidSession"))

    def _request(self, path: str, body: dict, what: str, headers: dict | None = None) -> dict:
        started = time.monotonic()
        outcome, status = "ok", None
        try:
            response = self.http.post(self.base_url + path, json=body, headers=headers, timeout=self.timeout)
            status = response.status_code
            if status == 444:
                outcome = "invalid_token"
                raise AisInvalidToken("AIS answered 444: invalid or expired token", status=444)
            if status >= 500:
                outcome = "unavailable"
                raise AisUnavailable(f"AIS {what} answered {status}", status=status)
            if status >= 400:
                outcome = "rejected"
                raise AisRejected.from_response(status, _json(response))
            return _json(response)
        except requests.RequestException as exc:
            outcome = "unavailable"
            raise AisUnavailable(f"AIS {what} failed: {type(exc).__name__}") from None
        finally:
            if self._on_call:
                # Only the service and the user: never the password or the token.
                self._on_call({"service": what, "status": status, "outcome": outcome,
                               "duration_ms": int((time.monotonic() - started) * 1000),
                               "request": {"username": self.login_info.username,
                                           "deviceName": self.login_info.device_name}})


def _json(response) -> dict:
    try:
        value = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return value if isinstance(value, dict) else {"message": value}
