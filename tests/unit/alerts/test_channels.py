"""The channels as the log and the operator see them: hosts, never the webhook's token or the SMTP password."""
from connector.alerts import channels
from connector.config import load_settings

TOKEN, PASSWORD = "tok3n-Hook-SECRET", "smtp-Pa55-SECRET"
BOTH = {"CONNECTOR_ALERT_WEBHOOK_URL": f"https://hooks.example.com/services/T0/B0/{TOKEN}",
        "CONNECTOR_ALERT_EMAIL": "ops@shop.example,cfo@shop.example",
        "SMTP_URL": f"smtps://alerts:{PASSWORD}@mail.example.com"}


def test_describe_off_names_the_variables():
    assert channels.describe(load_settings({}).alerts) == \
        "alerts: off (set CONNECTOR_ALERT_WEBHOOK_URL, or CONNECTOR_ALERT_EMAIL and SMTP_URL)"


def test_describe_on_names_hosts_only():
    alerts = load_settings(BOTH).alerts
    line = channels.describe(alerts)
    assert line == ("alerts: webhook to hooks.example.com, e-mail to 2 recipient(s) via mail.example.com:465; "
                    "at most one message per kind every 900 s")
    configured = channels.configured(alerts)
    assert [c.name for c in configured] == ["webhook", "e-mail"]
    shown = line + repr(configured) + " ".join(c.fix for c in configured)
    assert TOKEN not in shown and PASSWORD not in shown
