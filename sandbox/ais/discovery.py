"""What the discovery services say about the sandbox's orchestrations.

Oracle-documented ("List Orchestrations", GET /jderest/discover, and "Get Orchestration",
GET /jderest/discover/{orchestration}): `{"orchestrations": [...]}`, each with `name`,
`description`, `inputFormat` ("JDE Standard" here, the format the sandbox's orchestrations are
built for), `inputs` as `{name, type}` with types String, Numeric or Date, `category`,
`exposeInputsInDiscovery`, `exposeOrchInDiscovery` and `containsContinueOnError`. Both are
authenticated like any other call. The GL orchestration says `containsContinueOnError: true`:
the sandbox's WARNING answer (service._warning_outputs) imitates its report step failing under
"Continue on Error".

The sandbox's own choices: the grid input listed as one input of type "Array" named after the
grid (GridData); an unknown name on /discover/{name} answered as an unknown orchestration
(500); and GET /jderest/v2/open-api-catalog/{name} as a minimal Swagger 2.0 document (one
POST path with the inputs as body properties), not the full document a real server writes.
"""
from __future__ import annotations

from sandbox.ais.inputs import GRID
from sandbox.ais.ledger import ADD_CUSTOMER, POST_JOURNAL_ENTRY

CATEGORY = "WooCommerce"

_CATALOG = {
    POST_JOURNAL_ENTRY: {
        "description": "Journal entry from a WooCommerce order: writes the lines through the journal entry "
                       "batch input (F0911Z1, P0911Z1) and answers the document number",
        "inputs": [("BatchNumber", "String"), ("Company", "String"), ("DocumentType", "String"),
                   ("GLDate", "String"), ("Currency", "String"), ("Explanation", "String"),
                   ("AddressNumber", "Numeric"), (GRID, "Array")],
        "containsContinueOnError": True,
    },
    ADD_CUSTOMER: {
        "description": "Address Book entry for a WooCommerce customer (P01012), with its email address",
        "inputs": [("AlphaName", "String"), ("SearchType", "String"), ("TaxId", "String"), ("Email", "String")],
        "containsContinueOnError": False,
    },
}
# The columns of one GridData row (what the open-api document shows under the grid).
GRID_INPUTS = [("LineNumber", "Numeric"), ("AccountNumber", "String"), ("Amount", "Numeric"),
               ("Explanation", "String")]


def describe(name: str) -> dict:
    """One orchestration as the discovery service lists it."""
    entry = _CATALOG[name]
    return {"name": name, "description": entry["description"], "inputFormat": "JDE Standard",
            "inputs": [{"name": input_name, "type": kind} for input_name, kind in entry["inputs"]],
            "category": CATEGORY, "exposeInputsInDiscovery": True, "exposeOrchInDiscovery": True,
            "containsContinueOnError": entry["containsContinueOnError"]}


def open_api(name: str, base_url: str) -> dict:
    """A minimal Swagger 2.0 document of one orchestration."""
    def schema(kind: str) -> dict:
        return {"type": {"Numeric": "number", "Array": "array"}.get(kind, "string")}

    properties = {}
    for input_name, kind in _CATALOG[name]["inputs"]:
        properties[input_name] = schema(kind)
        if kind == "Array":
            properties[input_name]["items"] = {"type": "object", "properties": {
                column: schema(column_kind) for column, column_kind in GRID_INPUTS}}
    host = base_url.split("://", 1)[-1]
    return {
        "swagger": "2.0",
        "info": {"title": name, "description": _CATALOG[name]["description"], "version": "1.0"},
        "host": host, "basePath": "/jderest", "schemes": ["http"],
        "paths": {f"/v3/orchestrator/{name}": {"post": {
            "tags": [CATEGORY], "operationId": name, "consumes": ["application/json"],
            "produces": ["application/json"],
            "parameters": [{"in": "body", "name": "body", "required": True,
                            "schema": {"type": "object", "properties": properties}}],
            "responses": {"200": {"description": "Successful Execution"},
                          "500": {"description": "Server Failed to Process Request"}},
        }}},
    }


def names() -> list[str]:
    return list(_CATALOG)
