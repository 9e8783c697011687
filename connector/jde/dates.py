"""Dates as JD Edwards and its AIS server speak them.

Three forms, each where JDE wants it:

- **Julian `CYYDDD`** (C = centuries after 1900): how JDE stores a date (2026-11-26 →
  `126330`). Orchestration inputs mapped straight to a table column take it.
- **The AIS user's format**: the token response's `userInfo.simpleDateFormat` (a Java
  SimpleDateFormat pattern such as `MM/dd/yyyy` or `dd.MM.yyyy`, with `dateSeperator` — Oracle's
  spelling — and the 3-letter `dateFormat` code). Data-service conditions on a date column
  take their values in this form, as a person would type them on the form; so do form
  fields an orchestration fills in.
- **`yyyyMMdd`**: how a data-service grid returns a date column.

Epoch milliseconds (UTC midnight) is a fourth form an Orchestrator Studio input of type
date may be built to take.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone

DEFAULT_USER_FORMAT = "MM/dd/yyyy"   # JDE's default for a user profile with no date format set
GRID_FORMAT = "yyyyMMdd"

# JDE's dateFormat codes name the order of the fields: D day, M month, E four-digit year,
# Y two-digit year.
_CODE_FIELDS = {"D": "dd", "M": "MM", "E": "yyyy", "Y": "yy"}
_TOKEN = re.compile(r"yyyy|yy|MM|M|dd|d|'[^']*'|.", re.S)


class DateFormatError(ValueError):
    """A date or a date pattern that cannot be read."""


def julian(day: date) -> str:
    """JDE's CYYDDD: C = centuries after 1900, YY = year in century, DDD = day of year."""
    return f"{(day.year - 1900) // 100}{day.year % 100:02d}{day.timetuple().tm_yday:03d}"


def from_julian(value) -> date:
    text = str(value).strip().zfill(6)
    if not re.fullmatch(r"\d{6}", text):
        _bad(value, "CYYDDD")
    year, day_of_year = 1900 + 100 * int(text[0]) + int(text[1:3]), int(text[3:])
    if not 1 <= day_of_year <= (366 if calendar.isleap(year) else 365):
        _bad(value, "CYYDDD")
    return date(year, 1, 1) + timedelta(days=day_of_year - 1)


def _bad(value, pattern):
    raise DateFormatError(f"{value!r} is not a date in the form {pattern}")


def epoch_ms(day: date) -> int:
    """Milliseconds since 1970-01-01 at UTC midnight of `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1000


def user_pattern(user_info: dict | None) -> str:
    """The AIS user's date pattern from a token response's `userInfo`.

    `simpleDateFormat` when the server sends it (Tools 9.2); else built from the `dateFormat`
    code and `dateSeperator`; else JDE's default.
    """
    info = user_info or {}
    pattern = info.get("simpleDateFormat")
    if isinstance(pattern, str) and pattern.strip():
        check_pattern(pattern.strip())
        return pattern.strip()
    code = str(info.get("dateFormat") or "").strip().upper()
    separator = info.get("dateSeperator") if isinstance(info.get("dateSeperator"), str) else "/"
    if len(code) == 3 and set(code) <= set(_CODE_FIELDS) and len(set(code)) == 3:
        return separator.join(_CODE_FIELDS[letter] for letter in code)
    return DEFAULT_USER_FORMAT


def _tokens(pattern: str) -> list[str]:
    return _TOKEN.findall(pattern)


def check_pattern(pattern: str) -> None:
    """Refuse a pattern that does not name day, month and year exactly once."""
    fields = [t for t in _tokens(pattern) if t in ("yyyy", "yy", "MM", "M", "dd", "d")]
    kinds = sorted(t[0] for t in fields)
    if kinds != ["M", "d", "y"]:
        raise DateFormatError(f"date pattern {pattern!r} must have one day (dd), one month (MM) and one "
                              "year (yyyy or yy) field")


def format_date(day: date, pattern: str) -> str:
    """`day` written in a SimpleDateFormat pattern made of d, M and y fields."""
    check_pattern(pattern)
    out = []
    for token in _tokens(pattern):
        out.append({"yyyy": f"{day.year:04d}", "yy": f"{day.year % 100:02d}", "MM": f"{day.month:02d}",
                    "M": str(day.month), "dd": f"{day.day:02d}", "d": str(day.day)}.get(
            token, token[1:-1] if token.startswith("'") else token))
    return "".join(out)


def parse_date(text: str, pattern: str) -> date:
    """Read `text` written in `pattern` (two-digit years are 1950–2049, as JDE's window)."""
    check_pattern(pattern)
    regex, fields = [], []
    for token in _tokens(pattern):
        if token in ("yyyy", "MM", "dd", "yy"):
            regex.append(rf"(\d{{{len(token)}}})")
            fields.append(token)
        elif token in ("M", "d"):
            regex.append(r"(\d{1,2})")
            fields.append(token)
        else:
            regex.append(re.escape(token[1:-1] if token.startswith("'") else token))
    match = re.fullmatch("".join(regex), str(text).strip())
    if not match:
        _bad(text, pattern)
    parts = dict(zip(fields, map(int, match.groups())))
    year = parts.get("yyyy")
    if year is None:
        year = parts["yy"] + (2000 if parts["yy"] < 50 else 1900)
    try:
        return date(year, parts.get("MM", parts.get("M")), parts.get("dd", parts.get("d")))
    except ValueError:
        return _bad(text, pattern)


def parse_grid_date(value, user_format: str) -> date:
    """A date column of a data-service grid: `yyyyMMdd` as documented, else the user's format."""
    text = str(value).strip()
    if re.fullmatch(r"\d{8}", text):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    return parse_date(text, user_format)
