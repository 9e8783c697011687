"""`python -m sandbox.ais --port 7070 [--seed 1] [--latency 0.1] [--state-file var/jde.json] ...`: serve
until Ctrl-C."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sandbox.ais.dates import user_format
from sandbox.ais.faults import GL_DATE_INPUTS, NEXT_LINK_STYLES, Knobs
from sandbox.ais.server import serve


def _date_format(text: str) -> str:
    try:
        return user_format(text).pattern
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _chart(path: str) -> list:
    """A chart file: a JSON list of chart entries (see sandbox/ais/chart.py), or text with one
    account a line, "M30.4010 Sales" (the description optional; # starts a comment)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read the chart {path}: {error}") from None
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"the chart {path} is not JSON: {error}") from None
    entries = []
    for line in text.splitlines():
        account, _, description = line.split("#", 1)[0].strip().partition(" ")
        if account:
            entries.append({"account": account, "description": description.strip()})
    return entries


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.ais", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="seeds the fault dice and the token generator")
    parser.add_argument("--username", default="JDE")
    parser.add_argument("--password", default="JDE")
    defaults = Knobs()
    for knob, text in [
        ("token-ttl", "seconds a token lives after issue"),
        ("idle-timeout", "seconds a token survives unused"),
        ("latency", "seconds added to every orchestrator and data-service call"),
        ("error-rate", "fraction answered 500 without committing"),
        ("timeout-rate", "fraction that commit, then answer after --timeout-seconds"),
        ("timeout-seconds", "the delay of a timeout fault"),
        ("drop-rate", "fraction of orchestrations that commit, then close without answering"),
        ("warning-rate", "fraction of GL orchestrations that write their lines but answer 200 WARNING"),
        ("invalid-token-403-rate", "fraction of invalid-token answers that are 403 'Token is Invalid', not 444"),
        ("result-set-ttl", "seconds a data-service result set lives unused before /next answers JAS_MSG347"),
        ("result-set-expiry-rate", "fraction of /next calls answered JAS_MSG347 whatever the cursor's age"),
    ]:
        name = knob.replace("-", "_")
        parser.add_argument(f"--{knob}", type=float, default=getattr(defaults, name),
                            help=f"{text} (default %(default)s)")
    parser.add_argument("--date-format", type=_date_format, default=defaults.date_format,
                        help="the AIS user's date format: dd, MM, yyyy joined by / . or - (default %(default)s)")
    parser.add_argument("--gl-date-input", choices=GL_DATE_INPUTS, default=defaults.gl_date_input,
                        help="how the GL orchestration reads GLDate (default %(default)s)")
    parser.add_argument("--next-link-style", choices=NEXT_LINK_STYLES, default=defaults.next_link_style,
                        help="how a data page's next link looks (default %(default)s)")
    parser.add_argument("--chart", type=_chart, default=None,
                        help="the chart of accounts (F0901) instead of the default one: a JSON list of "
                             "\"BU.Obj[.Sub]\" strings or objects, or one \"BU.Obj[.Sub] description\" a line")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="keep the tables and number counters in this file across restarts "
                             "(loaded at start if it exists, rewritten after every change)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = vars(parser.parse_args(argv))
    serve(args.pop("port"), **args)


if __name__ == "__main__":
    main()
