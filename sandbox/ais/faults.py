"""Run-time knobs and the seeded dice that turn them into faults.

Faults hit orchestrator and data-service calls only. The dice are rolled under the service
lock in a fixed order (error, then drop, then timeout), every roll taken whatever the rates,
so one seed and one sequence of calls give the same faults every run.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields

from sandbox.ais.errors import AisError

ERROR, DROP, TIMEOUT = "error", "drop", "timeout"
_RATES = ("error_rate", "timeout_rate", "drop_rate")


@dataclass
class Knobs:
    token_ttl: float = 3600.0
    idle_timeout: float = 1200.0
    latency: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0

    def update(self, changes: dict) -> None:
        """Apply `changes` all or nothing; AisError 400 on an unknown knob or a bad value."""
        names = {field.name for field in fields(self)}
        checked = {}
        for name, value in changes.items():
            if name not in names:
                raise AisError(400, f"unknown knob {name!r}; knobs: {', '.join(sorted(names))}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise AisError(400, f"knob {name} must be a number, got {value!r}") from None
            if isinstance(value, bool) or number < 0 or number != number or (name in _RATES and number > 1):
                raise AisError(400, f"knob {name} out of range: {value!r}")
            checked[name] = number
        for name, number in checked.items():
            setattr(self, name, number)

    def as_dict(self) -> dict:
        return asdict(self)


class Dice:
    def __init__(self, seed):
        self._rng = random.Random(seed)

    def roll(self, knobs: Knobs, *, can_drop: bool) -> str | None:
        error = self._rng.random() < knobs.error_rate
        drop = self._rng.random() < knobs.drop_rate if can_drop else False
        timeout = self._rng.random() < knobs.timeout_rate
        return ERROR if error else DROP if drop else TIMEOUT if timeout else None
