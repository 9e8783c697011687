"""A stand-in JD Edwards AIS server over real HTTP on loopback (DESIGN §5, §6).

Tokens, the two WooCommerce orchestrations, the discovery service, the table data service
with paging, seeded fault knobs, and /sandbox/* endpoints to inspect and steer it.
`AisSandbox` runs it in a background thread; `python -m sandbox.ais --port N` runs it in the
foreground, `--state-file PATH` keeping its tables across restarts (state.py says why).

What follows Oracle's documented AIS behaviour: the token response and the user's date
format in it; 444 for an invalid token; orchestrations in the JDE Standard and the generic
input formats (the generic one adds a single grid row); their outputs with `jde__*` fields;
a failed orchestration as a 500 nesting the form's errors, an unknown one as a 500; "continue
on error" answered 200 WARNING; GET /jderest/defaultconfig answered without a token (the
server's release and capabilities); GET /jderest/discover listing the orchestrations with their
inputs; data pages with numbers as numbers, dates as `yyyyMMdd`, date conditions in the
user's format, next links carrying every parameter and the token; a result set that expires
with JAS_MSG347. What follows JDE's database: accounts checked against the Account Master
F0901 (MCU right-justified in 12, a posting edit code N or I refusing postings), Julian dates.
What is the sandbox's own: the default chart of accounts (chart.py), the error CODEs, the
/sandbox/* endpoints, the state file, and every knob (faults.Knobs): the user's date format,
how the GL orchestration reads its date, random errors, drops, timeouts, warnings, 403s and
result-set expiries, the next-link style, the result-set TTL, and outages (refused connects,
or a proxy answering 503).
"""
from sandbox.ais.server import AisSandbox, serve

__all__ = ["AisSandbox", "serve"]
