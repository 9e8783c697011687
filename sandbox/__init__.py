"""Stand-ins for the WooCommerce store and the JDE AIS server, over real HTTP on loopback.

Used by `make run` (the demo), the integration and end-to-end tests, and the benchmarks.
"""
