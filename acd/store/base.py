"""The store interface: what the journal writes and what reports read.

A store takes records from the event loop without blocking it, writes them in batches (group
commit) and tells waiters when everything handed in before them is durable. The embedded
implementation is SQLite (`acd.store.sqlite`); a PostgreSQL store would implement the same
protocol. Nothing outside `acd.store` speaks SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.store.records import (
    AgentStateRecord,
    AuditRecord,
    CallRecord,
    ConfigRecord,
    HandledRecord,
    NoteRecord,
    OfferRecord,
    Record,
)

CommitHook = Callable[[float, int], None]  # (seconds the commit took, records in it)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit rows to list."""

    who: str | None = None
    action: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int | None = None


class Store(Protocol):
    """Durable, append-only records."""

    def append(self, records: Sequence[Record]) -> None:
        """Queue records for the writer; never blocks, safe from any thread."""

    def sync(self, done: Callable[[], None]) -> None:
        """Call `done` (from the writer) once everything appended before is committed."""

    def close(self) -> None:
        """Write what is queued, commit and stop."""

    # Reading (any thread; sees committed records) ------------------------------------

    def calls(
        self, since: float, until: float, *, caller: str | None = None
    ) -> Iterator[CallRecord]:
        """Call records that ended in [since, until), oldest first."""

    def recent_calls(self, caller: str, limit: int) -> list[CallRecord]:
        """The caller's latest call records, newest first."""

    def callers(self) -> Iterator[str]:
        """Every caller number with a call record (each once)."""

    def offers(self, since: float, until: float) -> Iterator[OfferRecord]:
        """Offers that ended in [since, until)."""

    def agent_states(self, since: float, until: float) -> Iterator[AgentStateRecord]:
        """State intervals overlapping [since, until)."""

    def handled(self, since: float, until: float) -> Iterator[HandledRecord]:
        """Handled calls whose handling ended in [since, until)."""

    def notes(self, since: float, until: float, *, kind: str | None = None) -> Iterator[NoteRecord]:
        """Notes taken in [since, until), of one kind if given."""

    def notes_for(self, call_id: str) -> list[NoteRecord]:
        """Every note of one call."""

    def audit_rows(self, flt: AuditFilter) -> list[AuditRecord]:
        """Audit rows matching the filter, oldest first."""

    def config_versions(self) -> list[ConfigRecord]:
        """Every configuration version recorded, oldest first."""

    def span(self) -> tuple[float, float] | None:
        """Earliest arrival and latest end of the calls recorded, or None when there is none."""

    def check(self) -> str:
        """An integrity check of the underlying storage ("ok" when sound)."""
