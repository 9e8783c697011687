"""JSON in and out with exact decimals.

AIS writes amounts as JSON numbers. The sandbox keeps them as Decimal and must write the
digits it holds (29.35, never 29.349999...), which the stdlib encoder cannot do for Decimal,
so this module writes the JSON text itself. Request bodies are read with Decimal floats for
the same reason: an Amount sent as a JSON number stays exact.
"""
from __future__ import annotations

import json
from decimal import Decimal

_encode_string = json.encoder.encode_basestring_ascii


def loads(raw: bytes):
    return json.loads(raw.decode("utf-8"), parse_float=Decimal)


def dumps(document) -> bytes:
    out: list[str] = []
    _write(document, out)
    return "".join(out).encode("ascii")


def _write(value, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a JSON number: {value}")
        # str() of a finite Decimal is always valid JSON number text ("-18.00", "1E+2").
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
