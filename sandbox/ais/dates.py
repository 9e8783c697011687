"""Dates the way JD Edwards spells them.

Oracle-documented: JDE stores a date as a Julian `CYYDDD` (C = centuries after 1900, DDD the
day of the year), so F0911.DGJ holds "126330" for 2026-11-26. The token response tells the
client its user's date format (`simpleDateFormat` as a Java SimpleDateFormat pattern,
`dateSeperator`, and JDE's three-letter `dateFormat` code); the data service reads the
values of date conditions in that format and writes date columns as `yyyyMMdd`.
An orchestration's date input is read the way its designer typed it, so the sandbox makes
that a knob (`gl_date_input`). Strictness is the sandbox's choice: exactly two-digit day and
month and a four-digit year, and epoch milliseconds only at a UTC midnight, so a client that
sends a local-time midnight is caught instead of silently posting to the day before.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

_FIELDS = {"dd": "D", "MM": "M", "yyyy": "E"}  # JDE's letters: D day, M month, E 4-digit year
_DAY = 86_400_000  # milliseconds
_EPOCH = date(1970, 1, 1)
JULIAN_EXAMPLE = "126330"


@dataclass(frozen=True)
class UserDateFormat:
    pattern: str               # "dd.MM.yyyy"
    order: tuple[str, ...]     # ("dd", "MM", "yyyy")
    separator: str             # "."

    @property
    def code(self) -> str:
        """JDE's `dateFormat`: the order as letters, "DME" for dd.MM.yyyy."""
        return "".join(_FIELDS[field] for field in self.order)

    def parse(self, text) -> date | None:
        if not isinstance(text, str):
            return None
        parts = text.split(self.separator)
        if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
            return None
        fields = dict(zip(self.order, parts))
        if len(fields["dd"]) != 2 or len(fields["MM"]) != 2 or len(fields["yyyy"]) != 4:
            return None
        try:
            return date(int(fields["yyyy"]), int(fields["MM"]), int(fields["dd"]))
        except ValueError:
            return None

    def format(self, day: date) -> str:
        values = {"dd": f"{day.day:02d}", "MM": f"{day.month:02d}", "yyyy": f"{day.year:04d}"}
        return self.separator.join(values[field] for field in self.order)


def user_format(pattern) -> UserDateFormat:
    """The format of a SimpleDateFormat pattern of dd, MM and yyyy in any order joined by one
    of / . - used twice; ValueError for anything else."""
    if not isinstance(pattern, str):
        raise ValueError(f"a date format must be a string, got {pattern!r}")
    match = re.fullmatch(r"(dd|MM|yyyy)([/.\-])(dd|MM|yyyy)\2(dd|MM|yyyy)", pattern)
    if not match or len({match.group(1), match.group(3), match.group(4)}) != 3:
        raise ValueError(f"date format {pattern!r} must be dd, MM and yyyy joined by one of / . - "
                         "(e.g. dd.MM.yyyy, MM/dd/yyyy, yyyy-MM-dd)")
    return UserDateFormat(pattern, (match.group(1), match.group(3), match.group(4)), match.group(2))


def to_julian(day: date) -> str | None:
    """`CYYDDD`, or None outside the years 1900-2899 a one-digit century can say."""
    if not 1900 <= day.year <= 2899:
        return None
    return f"{(day.year - 1900) // 100}{day.year % 100:02d}{day.timetuple().tm_yday:03d}"


def from_julian(value) -> date | None:
    """The day of a Julian `CYYDDD` (5 or 6 digits, or an int), None when it is no real day."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"\d{5,6}", value):
        return None
    value = value.zfill(6)
    start = date(1900 + 100 * int(value[0]) + int(value[1:3]), 1, 1)
    day = start + timedelta(days=int(value[3:]) - 1)
    return day if int(value[3:]) >= 1 and day.year == start.year else None


def from_epoch_ms(value) -> date | None:
    """The day of an epoch-milliseconds value (a JSON number or a digit string) that falls
    exactly on a UTC midnight; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value.strip())
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int) or value % _DAY:
        return None
    try:
        return _EPOCH + timedelta(days=value // _DAY)
    except OverflowError:
        return None


def compact(day: date) -> str:
    """`yyyyMMdd`, how the data service writes a date column."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"
