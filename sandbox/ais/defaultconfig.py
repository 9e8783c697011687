"""What GET /jderest/defaultconfig and /jderest/v2/defaultconfig answer.

Oracle-documented ("Get Configuration v1/v2"; "Example: Acceptable Output for the defaultconfig
Service on JSON"): the only AIS service read with GET, answered without a token, with the
server's release (`aisVersion`), its HTML (JAS) server, default environment and role, session
timeout and time to live (minutes, as strings) and `capabilityList` (`name`, `shortDescription`,
`longDescription`, `asOfRelease`). `requiredCapabilities=a,b` sets `requiredCapabilityMissing`
when one of them is not offered; `settings=true` leaves the capability list out; v2's
`bypassJASTest` skips the server's check of its JAS server, which the sandbox does not have.

The sandbox's own: the release string, the JAS URL, and the capability names and texts (one
per thing the sandbox does), not the full list a real server gives.
"""
from __future__ import annotations

AIS_VERSION = "EnterpriseOne 9.2.8.4 (sandbox)"
JAS_SERVER = "http://jas.sandbox"
CAPABILITIES = (
    ("orchestrator", "Orchestrations", "Run orchestrations built in Orchestrator Studio.", "9.2.1.2"),
    ("dataservice", "Data Service", "Browse tables and views through the data service.", "9.2.1.2"),
    ("dataServicePaging", "Data Service Paging", "Next-page links for large data-service results.",
     "9.2.1.2"),
    ("discovery", "Orchestration Discovery", "List the orchestrations and their inputs.", "9.2.1.2"),
)


def _minutes(seconds: float) -> str:
    return str(max(1, round(seconds / 60)))


def document(query: dict, *, idle_timeout: float, token_ttl: float) -> dict:
    """The configuration document for a GET with `query` (its decoded query string)."""
    answer = {
        "jasHost": "jas.sandbox", "jasPort": "80", "jasProtocol": "http",
        "defaultEnvironment": "JDV920", "defaultRole": "*ALL",
        "displayEnvironment": True, "displayRole": True, "displayJasServer": False,
        "defaultJasServer": JAS_SERVER, "ssoAllowed": False, "allowSelfSignedSsl": False,
        "sessionTimeout": _minutes(idle_timeout), "timeToLive": _minutes(token_ttl),
        "aisVersion": AIS_VERSION,
    }
    required = [name.strip() for name in (query.get("requiredCapabilities") or "").split(",") if name.strip()]
    offered = {name for name, *_ in CAPABILITIES}
    answer["requiredCapabilityMissing"] = any(name not in offered for name in required)
    if str(query.get("settings", "")).lower() != "true":
        answer["capabilityList"] = [{"name": name, "shortDescription": short, "longDescription": long,
                                     "asOfRelease": release} for name, short, long, release in CAPABILITIES]
    return answer
