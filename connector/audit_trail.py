"""Writing the audit trail of one order (or customer) as it happens.

Each row is committed on its own, so the story of an attempt survives the attempt failing
or its worker dying. Callers hand in redacted summaries only (the AIS client builds them).
"""
from __future__ import annotations

from connector.store import audit


class AuditTrail:
    def __init__(self, db, subject_type: str, subject_id):
        self.db = db
        self.subject_type = subject_type
        self.subject_id = subject_id

    def ais_call(self, call: dict) -> None:
        """The `on_call` hook of the AIS client and session."""
        with self.db.transaction() as cur:
            audit.record(cur, subject_type=self.subject_type, subject_id=self.subject_id,
                         action=f"ais.{call['service']}", outcome=call["outcome"],
                         duration_ms=call.get("duration_ms"), request=call.get("request"),
                         response=call.get("response"),
                         detail=None if call.get("status") is None else f"HTTP {call['status']}")

    def state_change(self, cur, old: str | None, new: str, detail: str | None = None, *,
                     actor: str | None = None) -> None:
        """`actor`: the operator whose action this is (None: the connector's own doing)."""
        audit.record(cur, subject_type=self.subject_type, subject_id=self.subject_id,
                     action="order.state", outcome=new, detail=detail,
                     request={"from": old} if old else None, actor=actor)

    def note(self, cur, action: str, detail: str, *, actor: str | None = None) -> None:
        """A fact of the story that is neither a state change nor an AIS call."""
        audit.record(cur, subject_type=self.subject_type, subject_id=self.subject_id, action=action, detail=detail,
                     actor=actor)
