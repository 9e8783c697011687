"""The shop's webhooks: which the connector needs, whether they are there and active, and
putting them right.

WooCommerce sends each delivery once and, after more than 5 consecutive failures
(`woocommerce_max_webhook_delivery_failures`), sets the webhook to `disabled`: from then on the
shop is silent and only the polling bridge notices its orders. So the connector checks its
webhooks (`connector check`), registers the missing ones and re-activates disabled ones
(`connector woo webhooks ensure`, and beat's `ensure_webhooks` when CONNECTOR_PUBLIC_URL is
set), then polls for the time a webhook was off.

A webhook of a needed topic that points elsewhere may belong to another integration: it is
reported and left alone, and the connector registers its own beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

# The topics the connector handles (orders into the ledger, customers into the Address Book,
# products for their categories).
TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created", "customer.updated",
          "product.created", "product.updated")
RECEIVER_PATH = "/webhooks/woocommerce"


def delivery_url(public_url: str) -> str:
    return public_url.rstrip("/") + RECEIVER_PATH


def _same_url(a: str | None, b: str) -> bool:
    return (a or "").rstrip("/").lower() == b.rstrip("/").lower()


@dataclass(frozen=True)
class TopicState:
    topic: str
    state: str            # ok | missing | inactive | wrong_secret | elsewhere
    webhook: dict | None = None
    others: tuple[str, ...] = ()     # delivery URLs of this topic's webhooks that are not ours
    secret_checked: bool = True      # False when the store does not show secrets

    @property
    def detail(self) -> str:
        hook = f"webhook {self.webhook['id']}" if self.webhook else ""
        return {
            "ok": f"{hook} active",
            "missing": "no webhook" + (f" (only to {', '.join(self.others)})" if self.others else ""),
            "inactive": f"{hook} is {self.webhook and self.webhook.get('status')}",
            "wrong_secret": f"{hook} signs with another secret than the connector verifies with",
        }.get(self.state, self.state)


def inspect(webhooks: list[dict], *, url: str, secret: str | None) -> list[TopicState]:
    """The state of each needed topic among the store's `webhooks`."""
    states = []
    for topic in TOPICS:
        of_topic = [w for w in webhooks if w.get("topic") == topic]
        ours = [w for w in of_topic if _same_url(w.get("delivery_url"), url)]
        others = tuple(sorted({w.get("delivery_url") or "" for w in of_topic if w not in ours}))
        if not ours:
            states.append(TopicState(topic, "missing", None, others))
            continue
        # Several of ours: the active one counts (a re-registration may have left an old one).
        hook = next((w for w in ours if w.get("status") == "active"), ours[0])
        shown = hook.get("secret")
        if hook.get("status") != "active":
            states.append(TopicState(topic, "inactive", hook, others, shown is not None))
        elif shown is not None and secret is not None and shown != secret:
            states.append(TopicState(topic, "wrong_secret", hook, others))
        else:
            states.append(TopicState(topic, "ok", hook, others, shown is not None))
    return states


@dataclass
class EnsureResult:
    created: list[str] = field(default_factory=list)        # topics
    reactivated: list[str] = field(default_factory=list)    # topics
    resecured: list[str] = field(default_factory=list)      # topics whose secret was replaced
    off_since: datetime | None = None   # the earliest time a re-activated webhook may have been off


def _modified(webhook: dict) -> datetime | None:
    text = webhook.get("date_modified_gmt") or webhook.get("date_created_gmt")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc) if text else None
    except ValueError:
        return None


def ensure(woo, *, url: str, secret: str) -> EnsureResult:
    """Register the missing webhooks, re-activate the disabled or paused ones, put the secret right."""
    result = EnsureResult()
    for state in inspect(woo.webhooks(), url=url, secret=secret):
        if state.state == "missing":
            woo.create_webhook({"name": f"JD Edwards connector: {state.topic}", "topic": state.topic,
                                "delivery_url": url, "secret": secret, "status": "active"})
            result.created.append(state.topic)
        elif state.state == "inactive":
            # WooCommerce stamps date_modified when it disables a webhook: the shop was silent
            # for this topic since then.
            off = _modified(state.webhook)
            if off is not None and (result.off_since is None or off < result.off_since):
                result.off_since = off
            woo.update_webhook(state.webhook["id"], {"status": "active", "secret": secret})
            result.reactivated.append(state.topic)
        elif state.state == "wrong_secret":
            woo.update_webhook(state.webhook["id"], {"secret": secret})
            result.resecured.append(state.topic)
    return result
