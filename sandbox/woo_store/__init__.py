"""A stand-in WooCommerce shop over real HTTP on loopback (docs/design.md §5).

Orders and customers in memory, webhooks delivered asynchronously the way `WC_Webhook` does
it (payload built at delivery time, signed, single attempt, disabled after repeated
failures, optionally lost at a seeded `drop_rate`), and the REST API v3 a polling bridge
reads (`modified_after`, paging headers, Basic auth), webhooks managed over REST as
WooCommerce's webhooks controller does (a disabled one re-activated with PUT), and refunds
made, listed and read as its refunds controller does (refunds.py). `/sandbox/*`
steers it (stats, drop rate, generated orders, and conveniences a real shop lacks: disable a
webhook at once, point every webhook at another URL). `WooStoreServer` runs it in a
background thread; `python -m sandbox.woo_store [--port N]` runs it in the foreground.
"""
from sandbox.woo_store.server import WooStoreServer, serve
from sandbox.woo_store.store import WooStore

__all__ = ["WooStore", "WooStoreServer", "serve"]
