"""Each fault scenario's figures: written to var/faults/<scenario>.json by the test, collected by
`make faults` into var/faults.json (and the README's table)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

FIGURES_DIR = Path(__file__).resolve().parents[2] / "var" / "faults"


def record(scenario: str, **figures) -> Path:
    """Keep `figures` (orders, faults injected, lost, doubled, logins, seconds to recover, …) for
    `scenario`, and print them so a plain `pytest -s` run shows them too."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / f"{scenario}.json"
    document = {"scenario": scenario, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **figures}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nfaults {scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    return path
