"""Times as a person reads them (the admin pages, the health facts): stored as UTC, shown in the
store's time zone, to the second, with the zone's abbreviation."""
from __future__ import annotations

from datetime import datetime, timezone


def parse_utc(value) -> datetime | None:
    """A datetime from a datetime or an ISO text; naive means UTC (WooCommerce's *_gmt fields,
    naive UTC columns). None for nothing, or for a text that is no time."""
    if not value:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def local_text(moment: datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
