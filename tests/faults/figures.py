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


def collect(target: Path) -> list[dict]:
    """Every scenario's figures of the last run, in one file (`make faults`)."""
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(FIGURES_DIR.glob("*.json"))]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(documents, indent=2) + "\n", encoding="utf-8")
    return documents


if __name__ == "__main__":
    import sys

    collected = collect(Path(sys.argv[1]) if len(sys.argv) > 1 else FIGURES_DIR.parent / "faults.json")
    print(f"{len(collected)} scenario(s) collected")
    for document in collected:
        print(" ", document["scenario"] + ":", ", ".join(f"{k}={v}" for k, v in document.items()
                                                       if k not in ("scenario", "at")))
