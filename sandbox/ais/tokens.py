"""AIS tokens: issued by tokenrequest, checked on every other call.

Like the real server the sandbox returns no expiry: a token dies of age (time-to-live since
issue), of idleness, of logout, or when the tester expires them all. A token is bound to the
deviceName it was issued for, or, when none was given, to the caller's IP address.
Not thread-safe on its own: the service calls it under its lock.
"""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass

from sandbox.ais.errors import invalid_token


@dataclass
class Session:
    token: str
    username: str
    environment: str
    role: str
    device: str | None  # None: bound to `address` instead
    address: str
    created: float
    last_used: float


class TokenStore:
    def __init__(self, rng: random.Random):
        self._rng = rng
        self._sessions: dict[str, Session] = {}
        self.issued: list[str] = []   # every token ever handed out (tests search logs for them)

    def issue(self, *, username: str, environment: str, role: str, device: str | None, address: str,
              now: float) -> Session:
        # '044' starts real AIS tokens; the rest only has to look opaque and be unique.
        token = "044" + base64.b64encode(self._rng.randbytes(96)).decode("ascii")
        session = Session(token, username, environment, role, device or None, address, now, now)
        self._sessions[token] = session
        self.issued.append(token)
        return session

    def check(self, token: str | None, *, device: str | None, address: str, now: float, ttl: float,
              idle: float, bind: bool = True) -> Session:
        """The live session of `token`, or AisError 444. `bind=False` skips the device check
        when the caller named no device (validate and logout only carry the token)."""
        if not token:
            raise invalid_token("no token")
        session = self._sessions.get(token)
        if session is None:
            raise invalid_token("unknown token")
        if now - session.created > ttl:
            del self._sessions[token]
            raise invalid_token("token time-to-live exceeded")
        if now - session.last_used > idle:
            del self._sessions[token]
            raise invalid_token("session timed out")
        if session.device is not None:
            if (bind or device) and device != session.device:
                raise invalid_token("token was issued for another device")
        elif bind and address != session.address:
            raise invalid_token("token was issued to another address")
        return session

    def logout(self, token: str) -> None:
        self._sessions.pop(token, None)

    def expire_all(self) -> None:
        self._sessions.clear()

    def alive(self, token: str) -> bool:
        return token in self._sessions
