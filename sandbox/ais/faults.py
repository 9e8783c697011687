"""Run-time knobs and the seeded dice that turn them into faults.

Every knob is a sandbox control, not AIS behaviour; what each one imitates is written beside
it. Faults hit orchestrator and data-service calls only. The fault dice are rolled under the
service lock in a fixed order (error, then drop, then timeout), every roll taken whatever the
rates, so one seed and one sequence of calls give the same faults every run. The later knobs
(warning, 403, result-set expiry) each roll their own generator, seeded from the same seed,
so adding them never shifted the error/drop/timeout sequence an older seed gives.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields

from sandbox.ais.dates import user_format
from sandbox.ais.errors import AisError

ERROR, DROP, TIMEOUT = "error", "drop", "timeout"
WARNING, EXPIRED, TOKEN_403 = "warning", "expired", "token_403"
FAULTS = (ERROR, DROP, TIMEOUT, WARNING, EXPIRED, TOKEN_403)
_RATES = ("error_rate", "timeout_rate", "drop_rate", "warning_rate", "invalid_token_403_rate",
          "result_set_expiry_rate")
GL_DATE_INPUTS = ("julian", "user", "epoch_ms")
NEXT_LINK_STYLES = ("oracle", "context_string", "context_object")


def _one_of(choices):
    def check(value):
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
    return check


_TEXT_KNOBS = {
    "date_format": user_format,
    "gl_date_input": _one_of(GL_DATE_INPUTS),
    "next_link_style": _one_of(NEXT_LINK_STYLES),
}


@dataclass
class Knobs:
    token_ttl: float = 3600.0
    idle_timeout: float = 1200.0
    latency: float = 0.0
    error_rate: float = 0.0            # 500 "Server Failed to Process Request", nothing committed
    timeout_rate: float = 0.0          # committed, answered after timeout_seconds
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0             # orchestrations: committed, connection closed unanswered
    # The AIS user's date format (its user profile in JDE); MM/dd/yyyy is deliberately not the
    # default, so a client that assumes it is caught.
    date_format: str = "dd.MM.yyyy"
    # How the GL orchestration's designer mapped GLDate: julian CYYDDD, the user's format, or
    # epoch milliseconds.
    gl_date_input: str = "julian"
    warning_rate: float = 0.0          # GL lines written, 200 WARNING (report step failed), no outputs
    invalid_token_403_rate: float = 0.0  # an invalid token answered 403 "Token is Invalid", not 444
    next_link_style: str = "oracle"    # how a data page's next link looks (see dataservice.py)
    result_set_ttl: float = 60.0       # seconds a paging cursor lives unused (AIS's default 60)
    result_set_expiry_rate: float = 0.0  # /next answered JAS_MSG347 whatever the cursor's age

    def update(self, changes: dict) -> None:
        """Apply `changes` all or nothing; AisError 400 on an unknown knob or a bad value."""
        names = {field.name for field in fields(self)}
        checked = {}
        for name, value in changes.items():
            if name not in names:
                raise AisError(400, f"unknown knob {name!r}; knobs: {', '.join(sorted(names))}")
            checked[name] = _text(name, value) if name in _TEXT_KNOBS else _number(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return asdict(self)


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise AisError(400, f"knob {name} must be a string, got {value!r}")
    try:
        _TEXT_KNOBS[name](value)
    except ValueError as error:
        raise AisError(400, f"knob {name}: {error}") from None
    return value


def _number(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AisError(400, f"knob {name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or number < 0 or number != number or (name in _RATES and number > 1):
        raise AisError(400, f"knob {name} out of range: {value!r}")
    return number


class Dice:
    def __init__(self, seed):
        self._rng = random.Random(seed)
        self._warning = random.Random(f"{seed}:warning")
        self._token_403 = random.Random(f"{seed}:token_403")
        self._expiry = random.Random(f"{seed}:expiry")

    def roll(self, knobs: Knobs, *, can_drop: bool) -> str | None:
        error = self._rng.random() < knobs.error_rate
        drop = self._rng.random() < knobs.drop_rate if can_drop else False
        timeout = self._rng.random() < knobs.timeout_rate
        return ERROR if error else DROP if drop else TIMEOUT if timeout else None

    def warning(self, knobs: Knobs) -> bool:
        """Rolled once per GL orchestration that runs."""
        return self._warning.random() < knobs.warning_rate

    def token_403(self, knobs: Knobs) -> bool:
        """Rolled once per invalid-token answer of an orchestrator or data-service call."""
        return self._token_403.random() < knobs.invalid_token_403_rate

    def expiry(self, knobs: Knobs) -> bool:
        """Rolled once per /dataservice/next call that runs."""
        return self._expiry.random() < knobs.result_set_expiry_rate
