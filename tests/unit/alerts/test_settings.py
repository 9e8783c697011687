"""Alert settings: SMTP_URL and the channel variables, refused in one clear sentence that never quotes a secret."""
import pytest

from connector.config import ConfigError, load_settings, parse_smtp_url

PASSWORD = "pw-S3cret-smtp"


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.com", ("smtp", "mail.example.com", 25, None, None)),
    ("smtp://alerts:pw@mail.example.com:587", ("smtp", "mail.example.com", 587, "alerts", "pw")),
    ("smtps://alerts%40example.com:p%40ss%3Aw@mail.example.com", ("smtps", "mail.example.com", 465,
                                                                  "alerts@example.com", "p@ss:w")),
    ("smtps://u:@[::1]:2465/", ("smtps", "::1", 2465, "u", "")),
])
def test_parse_smtp_url_reads_scheme_host_port_and_login(url, expected):
    smtp = parse_smtp_url(url)
    assert (smtp.scheme, smtp.host, smtp.port, smtp.username, smtp.password) == expected
    assert smtp.implicit_tls == (expected[0] == "smtps")


@pytest.mark.parametrize("url, words", [
    (f"http://alerts:{PASSWORD}@mail.example.com", "smtp:// or smtps://"),
    (f"smtp://alerts:{PASSWORD}@mail.example.com:25x", "port"),
    (f"smtp://alerts:{PASSWORD}@mail.example.com:70000", "port"),
    (f"smtp://alerts:{PASSWORD}@:25", "no host"),
    (f"smtp://:{PASSWORD}@mail.example.com", "no user name"),
    (f"smtp://alerts:{PASSWORD}@mail.example.com/inbox", "path"),
])
def test_parse_smtp_url_malformed_says_what_without_the_password(url, words):
    with pytest.raises(ConfigError) as caught:
        parse_smtp_url(url)
    assert words in str(caught.value) and "Fix:" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_alert_settings_default_off():
    alerts = load_settings({}).alerts
    assert not alerts.enabled
    assert (alerts.window_seconds, alerts.jde_down_seconds) == (900.0, 900.0)


@pytest.mark.parametrize("smtp_url, sender, expected", [
    ("smtp://alerts%40shop.example:pw@mail.example.com:587", "", "alerts@shop.example"),
    ("smtp://alerts:pw@mail.example.com:587", "", "woo-jde-connector@mail.example.com"),
    ("smtp://mail.example.com", "Finance IT <it@shop.example>", None),
    ("smtp://mail.example.com", "it@shop.example", "it@shop.example"),
])
def test_alert_sender_default_and_override(smtp_url, sender, expected):
    environ = {"SMTP_URL": smtp_url, "CONNECTOR_ALERT_EMAIL": "ops@shop.example, cfo@shop.example",
               "CONNECTOR_ALERT_FROM": sender}
    if expected is None:
        with pytest.raises(ConfigError, match="CONNECTOR_ALERT_FROM"):
            load_settings(environ)
        return
    alerts = load_settings(environ).alerts
    assert alerts.email_from == expected
    assert alerts.email_to == ("ops@shop.example", "cfo@shop.example")


def test_alert_email_without_smtp_url_is_refused():
    with pytest.raises(ConfigError, match="SMTP_URL is not"):
        load_settings({"CONNECTOR_ALERT_EMAIL": "ops@shop.example"})


@pytest.mark.parametrize("name, value", [
    ("CONNECTOR_ALERT_EMAIL", "ops at shop"),
    ("CONNECTOR_ALERT_WINDOW_SECONDS", "0"),
    ("CONNECTOR_ALERT_WINDOW_SECONDS", "nan"),
    ("CONNECTOR_ALERT_JDE_SECONDS", "-5"),
    ("CONNECTOR_ALERT_JDE_SECONDS", "soon"),
])
def test_alert_settings_malformed_name_the_variable(name, value):
    environ = {"SMTP_URL": "smtp://mail.example.com", name: value}
    with pytest.raises(ConfigError, match=name):
        load_settings(environ)


@pytest.mark.parametrize("url", ["hooks.slack.com/services/T0/B0/tok3n-SECRET", "ftp://x/tok3n-SECRET",
                                 "https:///tok3n-SECRET"])
def test_alert_webhook_url_malformed_is_refused_without_quoting_it(url):
    with pytest.raises(ConfigError, match="CONNECTOR_ALERT_WEBHOOK_URL") as caught:
        load_settings({"CONNECTOR_ALERT_WEBHOOK_URL": url})
    assert "tok3n-SECRET" not in str(caught.value)


def test_alert_secrets_stay_out_of_repr():
    settings = load_settings({"CONNECTOR_ALERT_WEBHOOK_URL": "https://hooks.example.com/services/tok3n-SECRET",
                              "SMTP_URL": f"smtps://alerts:{PASSWORD}@mail.example.com",
                              "CONNECTOR_ALERT_EMAIL": "ops@shop.example"})
    assert settings.alerts.enabled
    assert "tok3n-SECRET" not in repr(settings) and PASSWORD not in repr(settings)
