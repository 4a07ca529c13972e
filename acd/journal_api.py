"""What the other sides may ask of the durable journal (the component named "journal").

The store implements it; the agent gateway (recent contacts for the screen pop), the switch
link (commit before acknowledging a call's final event; IVR facts, surveys, recordings) and the
admin socket (audit trail) use it. Sides must work without a journal (tests of one side alone),
so they look it up with `App.component("journal")` and check for None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from acd.events import Output


class Journal(Protocol):
    """Append-only records, committed in batches off the routing path."""

    name: str

    def record(self, outputs: Sequence[Output]) -> None:
        """Take engine outputs (the host feeds every batch); cheap, never blocks."""

    def note(self, call_id: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        """A fact about a call from outside the engine: `ivr` (path, inputs), `survey`
        (score, agent), `recording` (ref), `voicemail` (ref), `block` (rule)."""

    def audit(
        self,
        *,
        at: float,
        who: str,
        role: str,
        action: str,
        target: str,
        params: Mapping[str, Any],
        result: str,
    ) -> None:
        """One supervisor or admin action, allowed or refused."""

    async def barrier(self) -> None:
        """Return once everything recorded before the call is durably committed."""

    def durable(self) -> asyncio.Future[None]:
        """A future done once everything recorded before the call is durably committed
        (`barrier` without a coroutine, for callers that only add a callback)."""

    def recent_contacts(self, number: str, limit: int = 5) -> Sequence[Mapping[str, Any]]:
        """The caller's latest contacts with the center, newest first."""
