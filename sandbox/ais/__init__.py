"""A stand-in JD Edwards AIS server over real HTTP on loopback (DESIGN §5, §6).

Tokens, the two WooCommerce orchestrations, the table data service with paging, seeded
fault knobs, and /sandbox/* endpoints to inspect and steer it. `AisSandbox` runs it in a
background thread; `python -m sandbox.ais --port N` runs it in the foreground.

What follows Oracle's documented AIS behaviour: the token response and the user's date
format in it; 444 for an invalid token; orchestrations in the JDE Standard and the generic
input formats (the generic one adds a single grid row); their outputs with `jde__*` fields;
a failed orchestration as a 500 nesting the form's errors, an unknown one as a 500; "continue
on error" answered 200 WARNING; data pages with numbers as numbers, dates as `yyyyMMdd`, date
conditions in the user's format, next links carrying every parameter and the token; a result
set that expires with JAS_MSG347. What is the sandbox's own: the account rule (object
accounts starting with "9" are not in the chart), the error CODEs, the /sandbox/* endpoints,
and every knob (faults.Knobs): the user's date format, how the GL orchestration reads its
date, random errors, drops, timeouts, warnings, 403s and result-set expiries, the next-link
style, the result-set TTL, and outages (refused connects, or a proxy answering 503).
"""
from sandbox.ais.server import AisSandbox, serve

__all__ = ["AisSandbox", "serve"]
