"""A stand-in JD Edwards AIS server over real HTTP on loopback (DESIGN §5, §6).

Tokens, the two WooCommerce orchestrations, the table data service with paging, seeded
fault knobs, and /sandbox/* endpoints to inspect and steer it. `AisSandbox` runs it in a
background thread; `python -m sandbox.ais --port N` runs it in the foreground.
"""
from sandbox.ais.server import AisSandbox, serve

__all__ = ["AisSandbox", "serve"]
