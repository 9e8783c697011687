"""`python -m sandbox.ais --port 7070 [--seed 1] [--latency 0.1] ...`: serve until Ctrl-C."""
from __future__ import annotations

import argparse

from sandbox.ais.server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.ais", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="seeds the fault dice and the token generator")
    parser.add_argument("--username", default="JDE")
    parser.add_argument("--password", default="JDE")
    for knob, default, text in [
        ("token-ttl", 3600.0, "seconds a token lives after issue"),
        ("idle-timeout", 1200.0, "seconds a token survives unused"),
        ("latency", 0.0, "seconds added to every orchestrator and data-service call"),
        ("error-rate", 0.0, "fraction answered 500 without committing"),
        ("timeout-rate", 0.0, "fraction that commit, then answer after --timeout-seconds"),
        ("timeout-seconds", 30.0, "the delay of a timeout fault"),
        ("drop-rate", 0.0, "fraction of orchestrations that commit, then close without answering"),
    ]:
        parser.add_argument(f"--{knob}", type=float, default=default, help=text)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = vars(parser.parse_args(argv))
    serve(args.pop("port"), **args)


if __name__ == "__main__":
    main()
