"""`python -m sandbox.woo_store [--port 7080] [--seed 1] [--drop-rate 0.1] [--orders 50]`: serve until Ctrl-C.

Without --port it listens on a free port and prints its URL."""
from __future__ import annotations

import argparse

from sandbox.woo_store.server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.woo_store", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default 0: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the drop dice and generated orders")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of webhook deliveries never sent")
    parser.add_argument("--delivery-timeout", type=float, default=60.0, help="seconds a delivery may take")
    parser.add_argument("--consumer-key", default="ck_sandbox")
    parser.add_argument("--consumer-secret", default="cs_sandbox")
    parser.add_argument("--source-url", default=None, help="X-WC-Webhook-Source (default: the listening URL)")
    parser.add_argument("--orders", type=int, default=0, help="orders to generate at start")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = vars(parser.parse_args(argv))
    serve(args.pop("port"), **args)


if __name__ == "__main__":
    main()
