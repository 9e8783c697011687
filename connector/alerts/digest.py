"""The texts of alerts, and when the next one of a kind may go.

At most one message per kind and channel per window (15 minutes): the first fact goes at once,
what comes inside the window waits and goes, all of it, in the next message. A message says how
many, names the first few (order numbers, topics, runs, batch numbers) and where to look (the
admin page, the `connector` command). It is built from the whitelisted fields rules.py keeps,
nothing else: no error text, payload, customer, credential or URL with credentials in it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

TITLE = "WooCommerce → JDE connector"
# How many order numbers, runs or outages a message names; the rest are counted.
FIRST = 5


@dataclass(frozen=True)
class Message:
    subject: str
    body: str

    @property
    def text(self) -> str:
        """The webhook's text: the subject, then the body."""
        return f"{self.subject}\n{self.body}"


def due(last_sent_at: datetime | None, now: datetime, window_seconds: float) -> bool:
    return last_sent_at is None or now - last_sent_at >= timedelta(seconds=window_seconds)


def admin_base(public_url: str | None) -> str:
    """CONNECTOR_PUBLIC_URL as a person may see it: scheme, host and path, no credentials."""
    if not public_url:
        return ""
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        netloc += f":{parts.port}" if parts.port else ""
    except ValueError:
        pass
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _when(iso: str | None) -> str:
    if not iso:
        return "an unknown time"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _more(shown: int, total: int) -> str:
    return f", and {total - shown} more" if total > shown else ""


def orders(pending: dict, base: str) -> Message:
    seen: dict[str, str] = {}
    for event in pending["events"]:
        seen.setdefault(event["subject"], event["detail"].get("state", "needs_attention"))
    first = list(seen.items())[:FIRST]
    total = pending["subjects"]
    subject = f"{TITLE}: {_plural(total, 'order needs', 'orders need')} attention"
    listed = ", ".join(f"{number} ({state})" for number, state in first)
    number = first[0][0]
    body = (f"{listed}{_more(len(first), total)}.\n"
            f"See {base}/admin/orders/{number} or `connector orders show {number}`; once the cause is fixed, "
            f"`connector replay {number}` (or `connector replay --failed`).")
    return Message(subject, body)


def webhooks(pending: dict, base: str) -> Message:
    events = pending["events"]
    topics = sorted({t for e in events for t in e["detail"].get("topics", [])})
    off = min((e["detail"]["off_since"] for e in events if e["detail"].get("off_since")), default=None)
    times = f" ({pending['count']} times since the last message)" if pending["count"] > 1 else ""
    subject = f"{TITLE}: WooCommerce had disabled webhooks"
    body = (f"WooCommerce had disabled the connector's webhooks {', '.join(topics)}{times}, off since {_when(off)}. "
            "The connector re-activated them and polled for the orders of that time.\n"
            "`connector check` shows the webhooks now; if the shop keeps disabling them, it cannot reach "
            f"{base or 'the receiver'}/webhooks/woocommerce.")
    return Message(subject, body)


def jde(pending: dict, base: str, *, down_seconds: float) -> Message:
    sinces = [e["detail"]["since"] for e in pending["events"]][:FIRST]
    minutes = round(down_seconds / 60)
    subject = f"{TITLE}: JDE unreachable"
    if pending["count"] == 1:
        what = f"JDE AIS has been unreachable since {_when(sinces[0])} ({minutes} minutes or more)."
    else:
        what = (f"JDE AIS was unreachable {pending['count']} times for {minutes} minutes or more, since "
                f"{', '.join(map(_when, sinces))}{_more(len(sinces), pending['count'])}.")
    body = (f"{what} Orders wait (no attempt used) and are posted once JDE answers.\n"
            f"`connector status` says whether it answers now; {base}/admin shows it too.")
    return Message(subject, body)


def _run_line(event: dict) -> str:
    d = event["detail"]
    where = f"run {event['subject']} (GL {d['from']}..{d['to']})"
    if d["state"] == "failed":
        return f"{where}: failed (the worker's log has why)"
    kinds = ", ".join(f"{kind} {n}" for kind, n in d["by_kind"].items())
    batches = f"; batches {', '.join(d['batches'])}" if d["batches"] else ""
    return f"{where}: {_plural(d['discrepancies'], 'difference', 'differences')} ({kinds}){batches}"


def reconciliation(pending: dict, base: str) -> Message:
    events = pending["events"][:FIRST]
    failed = all(e["detail"]["state"] == "failed" for e in events)
    if pending["count"] > 1:
        subject = f"{TITLE}: {pending['count']} reconciliation runs need a look"
    elif failed:
        subject = f"{TITLE}: reconciliation failed"
    else:
        subject = (f"{TITLE}: reconciliation found "
                   f"{_plural(events[0]['detail']['discrepancies'], 'difference', 'differences')}")
    last = events[-1]["detail"]
    lines = [_run_line(e) for e in events]
    body = ("\n".join(lines) + _more(len(events), pending["count"]) + "\n"
            f"`connector reconcile --from {last['from']} --to {last['to']}` shows the differences and what to do; "
            f"{base}/admin the last run.")
    return Message(subject, body)


def compose(kind: str, pending: dict, *, public_url: str | None, jde_down_seconds: float = 900) -> Message:
    """The message for the `pending` events of `kind` (store.alerts.pending)."""
    base = admin_base(public_url)
    if kind == "jde":
        return jde(pending, base, down_seconds=jde_down_seconds)
    return {"orders": orders, "webhooks": webhooks, "reconciliation": reconciliation}[kind](pending, base)


def trial_message(channel: str) -> Message:
    return Message(f"{TITLE}: test message",
                   f"`connector alerts test` sent this to check the {channel} channel. Nothing needs doing.")
