"""An orchestration's input message, in either format AIS accepts, as one flat dict.

Oracle-documented ("Supported Input Message Formats", "Differences Between Input Message
Formats"): the JDE Standard format carries header values as `inputs: [{name, value}]` and
grid rows as `detailInputs: [{name: <grid>, repeatingInputs: [{inputs: [...]}]}]`; the
generic format is a flat JSON object of name: value, and through it an orchestration adds a
SINGLE grid row. The sandbox's GL orchestration takes its rows from the grid named
`GridData` in the standard format, and from `Lines` in the generic one, where it keeps only
`Lines[0]` as Oracle's single row, so a multi-line entry sent generic arrives unbalanced and
fails the way it would on a real server instead of passing here. Unknown names are ignored,
as JDE ignores inputs no step maps.
"""
from __future__ import annotations

GRID = "GridData"   # the grid input of the GL orchestration's standard format
LINES = "Lines"     # where the flat dict (and the generic format) keeps grid rows


def flatten(body: dict) -> dict:
    """The inputs of `body` by name, grid rows (if any) as a list under "Lines"."""
    if isinstance(body.get("inputs"), list):
        return _standard(body)
    flat = dict(body)
    if isinstance(flat.get(LINES), list):
        flat[LINES] = flat[LINES][:1]  # the generic format adds a single grid row
    return flat


def _pairs(inputs) -> dict:
    values = {}
    for item in inputs if isinstance(inputs, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            values[item["name"]] = item.get("value")
    return values


def _standard(body: dict) -> dict:
    flat = _pairs(body["inputs"])
    flat.pop(LINES, None)  # grid rows only ever come from detailInputs in this format
    for detail in body.get("detailInputs") or []:
        if isinstance(detail, dict) and detail.get("name") == GRID:
            rows = detail.get("repeatingInputs")
            flat[LINES] = [_pairs(row.get("inputs")) if isinstance(row, dict) else row
                           for row in (rows if isinstance(rows, list) else [])]
    return flat
