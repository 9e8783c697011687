"""State that survives a restart: the sandbox's tables and number counters in one JSON file.

Why: `make run` keeps the demo's orders in an embedded Postgres across runs. The stand-in JDE
must keep its ledger across runs too, or the next run's reconciliation would report every old
order as missing from JDE, and journal entries would be numbered from 100001 again. A real
JDE keeps its database when its AIS server restarts; so, with a state file, does the sandbox.

What is kept: F0911, F0101, F01151 and F0901, and the next document, batch (ICU) and address
numbers. What is not: tokens, paging cursors, knobs, counts, removed orchestrations. A
restarted AIS server has lost its sessions and result sets too, and knobs are how a test
steers one run. Amounts stay exact Decimals (jsontext writes and reads the digits held).

The file is replaced atomically (a temp file beside it, flushed and fsynced, then os.replace),
so a crash leaves the old state or the new one, never half of one. Snapshots are taken under
the service's lock and written outside it; a snapshot older than the one already written is
dropped, so the newest state always wins. A file that cannot be read back is set aside as
`<name>.corrupt` with a warning on stderr, and the sandbox starts empty rather than crash.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from sandbox.ais import jsontext

FORMAT = "sandbox-ais-state/1"


def warn(message: str) -> None:
    print(f"sandbox AIS: {message}", file=sys.stderr, flush=True)


class StateFile:
    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()  # one writer at a time; never held with the service's lock
        self._written = -1             # the version of the newest snapshot on disk

    def load(self) -> dict | None:
        """The saved state ({"tables", "counters"}), or None: no file yet, or one set aside."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            warn(f"cannot read the state file {self.path} ({error}); starting empty")
            return None
        try:
            document = jsontext.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            self.set_aside(f"it is not JSON ({error})")
            return None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            self.set_aside(f"it is not a {FORMAT} document")
            return None
        return document

    def set_aside(self, reason: str) -> None:
        """Keep an unreadable file for a human to look at, out of the way of the next save."""
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
            where = f"moved to {aside}"
        except OSError as error:
            where = f"left in place ({error})"
        warn(f"the state file {self.path} cannot be used: {reason}; {where}; starting empty")

    def write(self, version: int, state: dict) -> None:
        """Replace the file with `state` unless a newer version is already written."""
        data = jsontext.dumps({"format": FORMAT, **state})
        with self._lock:
            if version <= self._written:
                return
            temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(temp, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.path)
            except OSError as error:
                # The sandbox keeps serving; the next successful write catches up.
                warn(f"cannot save the state file {self.path}: {error}")
                try:
                    temp.unlink()
                except OSError:
                    pass
                return
            self._written = version
