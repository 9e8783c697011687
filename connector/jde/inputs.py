"""Orchestration inputs in the two formats an orchestration can be built for.

- **JDE Standard** (the default, `[orchestrations] input_format = "standard"`): header values
  as `inputs: [{"name", "value"}]`, and the rows of a grid as `detailInputs: [{"name":
  "GridData", "repeatingInputs": [{"inputs": [...]}, ...]}]`. An orchestration whose form
  request iterates over the grid adds one JDE grid row per repeating input. Values are text.
- **Generic**: one flat JSON object. Oracle: "If the generic format is used, only a single
  grid row can be added" — so a journal entry sent generic to an orchestration built on the
  journal-entry grid would add only its first line. Use it only for an orchestration built to
  take the whole `Lines` array itself (e.g. a custom Groovy step).

The names are the same in both (`BatchNumber`, `Company`, …; per row `LineNumber`,
`AccountNumber`, `Amount`, `Explanation`).
"""
from __future__ import annotations

INPUT_FORMATS = ("standard", "generic")
GRID_NAME = "GridData"


def _text(value) -> str:
    return "" if value is None else str(value)


def encode(values: dict, *, input_format: str, grid: str | None = None) -> dict:
    """The request body for `values` (a flat dict; `values[grid]` is the list of row dicts)."""
    if input_format == "generic":
        return dict(values)
    if input_format != "standard":
        raise ValueError(f"unknown orchestration input format {input_format!r}")
    header = {key: value for key, value in values.items() if key != grid}
    body = {"inputs": [{"name": key, "value": _text(value)} for key, value in header.items()]}
    if grid is not None:
        body["detailInputs"] = [{"name": GRID_NAME, "repeatingInputs": [
            {"inputs": [{"name": key, "value": _text(value)} for key, value in row.items()]}
            for row in values.get(grid) or []]}]
    return body
