"""The durable journal (component "journal"): every engine output batch becomes records in the
store, committed in batches by the store's writer, off the event loop.

Other sides use it through `acd.journal_api.Journal`: `note` (IVR path, surveys, recordings,
voicemail, blocks...), `audit` (supervisor actions), `barrier` (the switch link awaits it before
acknowledging a call's final event, so an acknowledged call always has its record) and
`recent_contacts` (the screen pop's history, from memory: `acd.recent`).

Records are handed to the store's writer in batches, at most `HAND_OVER` seconds after they
were made (with the next group of barriers, below, when someone awaits one): one hand-over
wakes the writer thread, which then contends for the interpreter lock, so a hand-over per
engine step cost more than the records. A crash loses only records nobody was told about.

Barriers are grouped into commits on the loop (group commit): a barrier asked for when no
commit was asked for in the last `group_commit` seconds is handed over at the end of the loop
turn (with every barrier of that turn); otherwise it waits for the end of that window, with
every barrier asked for meanwhile. A quiet server commits each barrier at once; a busy one
commits at most once per window for all of them, where each commit costs its fixed share
(about 500 µs of the writer's CPU with its fsync). Every waiter of a group is released by one
wake-up of the loop once the commit is done.

Settings come from the `[store]` section (see `parse_store`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from acd import events as ev
from acd.configread import Problems
from acd.model import CenterConfig
from acd.recent import RecentContacts
from acd.recorder import Recorder, config_record
from acd.settings import section_reader
from acd.store import AuditRecord, CallRecord, NoteRecord, SqliteStore, Store, open_store
from acd.store.base import CommitHook

if TYPE_CHECKING:
    from acd.app import App

# Seconds records nobody waits for may stay on the event loop before going to the writer. Under
# load they go sooner, with the next barrier group; each hand-over wakes the writer thread.
HAND_OVER = 0.1
GROUP_COMMIT = 0.05  # seconds: at most one barrier commit per window while barriers keep coming
TASK_KINDS = (ev.CallKind.CALLBACK, ev.CallKind.VOICEMAIL)
# outputs that make records of the journal's own (beside the recorder's)
_EXTRA = frozenset({ev.ConfigApplied, ev.CallbackQueued, ev.DialOut, ev.CallAnswered})
NOTE_KINDS = frozenset(
    {"ivr", "survey", "recording", "voicemail", "block", "lost", "intercept", "handback", "owed"}
)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The `[store]` section: how the journal writes."""

    synchronous: Literal["off", "normal", "full", "extra"] = "full"
    batch: int = 5000  # most records in one commit
    group_commit: float = GROUP_COMMIT  # seconds between barrier commits under load (0: none)


def parse_store(center: CenterConfig, problems: Problems) -> StoreSettings:
    """Read `[store]` (every key optional)."""
    d = StoreSettings()
    r = section_reader(center, "store", problems)
    if r is None:
        return d
    sync = r.one_of("synchronous", ("off", "normal", "full", "extra"), d.synchronous)
    settings = StoreSettings(
        synchronous=sync,
        batch=r.integer("batch", d.batch, lo=1, hi=1_000_000),
        group_commit=r.number("group_commit", d.group_commit, lo=0.0, hi=1.0),
    )
    r.finish()
    return settings


class JournalComponent:
    """Records engine outputs and outside facts in the store; implements `Journal`."""

    name = "journal"

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        config: Callable[[], CenterConfig] | None = None,
        *,
        group_commit: float = GROUP_COMMIT,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config  # the configuration in force (recorded on ConfigApplied)
        self.recorder = Recorder()
        self.recent = RecentContacts()
        self.commit_hooks: list[CommitHook] = []
        self.recorded = 0
        self.engine: Any = None  # the live engine: what an owed task needs to be rebuilt
        # Bumped by every call record and owed task appended: a reply that follows such a
        # fact waits for the barrier (the switch link compares it around each request).
        self.critical = 0
        self._held: list[Any] = []  # records not yet handed to the store
        self._handover: asyncio.TimerHandle | None = None
        self.group_commit = group_commit
        self.barriers = 0  # barriers asked for
        self.syncs = 0  # commits asked for on their behalf (groups)
        self._waiters: list[asyncio.Future[None]] = []  # barriers of the group being formed
        self._sync_handle: asyncio.Handle | None = None
        self._last_sync = -math.inf  # loop time the last group was handed over

    # Journal protocol ---------------------------------------------------------------

    def record(self, outputs: Sequence[ev.Output]) -> None:
        """Take one batch of engine outputs (the host calls this after every step)."""
        records: list[Any] = self.recorder.feed(outputs)
        for o in outputs:
            if type(o) in _EXTRA:
                self._extra(o, records)
        if records:
            critical = False
            for r in records:
                t = type(r)
                if t is CallRecord:
                    critical = True
                    self.recent.add(r)
                elif t is NoteRecord:
                    critical = True
            if critical:
                self.critical += 1
            self.recorded += len(records)
            self._hand(records)

    def _extra(self, o: ev.Output, records: list[Any]) -> None:
        """Records the journal adds beside the recorder's: configurations and owed tasks."""
        t = type(o)
        if t is ev.ConfigApplied and self.config is not None:
            assert isinstance(o, ev.ConfigApplied)
            records.append(config_record(self.config(), o.at, o.actor))
        elif t is ev.CallbackQueued:
            assert isinstance(o, ev.CallbackQueued)
            records.append(self._owed(o))
        elif t is ev.DialOut:
            assert isinstance(o, ev.DialOut)
            dialing = self._dialing(o)
            if dialing is not None:
                records.append(dialing)
        elif t is ev.CallAnswered:
            assert isinstance(o, ev.CallAnswered)
            if o.kind in TASK_KINDS:
                # The customer is on the line: the switch holds the call from now on.
                records.append(NoteRecord(o.call_id, "owed", o.at, {"owed": False}))

    def _owed(self, o: ev.CallbackQueued) -> NoteRecord:
        """What restoring a callback or voicemail task needs (see acd.recovery)."""
        data: dict[str, Any] = {
            "owed": True,
            "group": o.group,
            "kind": o.kind.value,
            "number": o.number,
            "due_at": o.due_at,
            "attempts": o.attempt,
        }
        call = self.engine.calls.get(o.call_id) if self.engine is not None else None
        if call is not None:
            data["queued_at"] = call.queued_at
            data["voicemail"] = call.voicemail
            data["attempts"] = call.attempts
            data["info"] = msgspec.to_builtins(call.info)
        return NoteRecord(o.call_id, "owed", o.at, data)

    def _dialing(self, o: ev.DialOut) -> NoteRecord | None:
        """A task being dialled: still owed, but the switch may report it connected."""
        call = self.engine.calls.get(o.call_id) if self.engine is not None else None
        if call is None or call.kind not in TASK_KINDS:
            return None
        data: dict[str, Any] = {
            "owed": True,
            "dialing": True,
            "group": call.group,
            "kind": call.kind.value,
            "number": call.number,
            "due_at": o.at,
            "attempts": call.attempts,
            "queued_at": call.queued_at,
            "voicemail": call.voicemail,
            "info": msgspec.to_builtins(call.info),
        }
        return NoteRecord(o.call_id, "owed", o.at, data)

    def note(self, call_id: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        """A fact about a call from outside the engine."""
        if kind not in NOTE_KINDS:
            raise ValueError(f"unknown note kind {kind!r}")
        self.recorded += 1
        self._hand([NoteRecord(call_id, kind, at, dict(data))])

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
        self.recorded += 1
        self._hand([AuditRecord(at, who, role, action, target, dict(params), result)])

    def _hand(self, records: Sequence[Any]) -> None:
        """Hold records for the next hand-over (straight to the store outside a loop)."""
        self._held.extend(records)
        if self._handover is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._handover = loop.call_later(HAND_OVER, self.flush)

    def flush(self) -> None:
        """Hand every record held to the store's writer now."""
        if self._handover is not None:
            self._handover.cancel()
            self._handover = None
        if self._held:
            held, self._held = self._held, []
            self.store.append(held)

    async def barrier(self) -> None:
        """Return once everything recorded before this call is committed (grouped with the
        other barriers of its window; see the module docstring)."""
        await self.durable()

    def durable(self) -> asyncio.Future[None]:
        """A future done once everything recorded before this call is committed (a barrier
        for callers that only add a callback: no coroutine, no task)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        self.barriers += 1
        if self._sync_handle is None:
            wait = self._last_sync + self.group_commit - loop.time()
            if wait > 0:
                self._sync_handle = loop.call_later(wait, self._sync)
            else:
                self._sync_handle = loop.call_soon(self._sync)
        return fut

    def _sync(self) -> None:
        """Hand over everything held and ask the store to release this group once committed."""
        self._sync_handle = None
        waiters, self._waiters = self._waiters, []
        if not waiters:
            return
        loop = asyncio.get_running_loop()
        self._last_sync = loop.time()
        self.syncs += 1
        self.flush()

        def done() -> None:
            loop.call_soon_threadsafe(_resolve_all, waiters)

        self.store.sync(done)

    def recent_contacts(self, number: str, limit: int = 5) -> Sequence[Mapping[str, Any]]:
        """The caller's latest contacts with the center, newest first (from memory; the
        store is asked only for a number whose history is not held)."""
        return self.recent.get(number, limit, self.store.recent_calls)

    # Component ----------------------------------------------------------------------

    def _commit(self, seconds: float, count: int) -> None:
        for hook in self.commit_hooks:
            hook(seconds, count)

    async def start(self, app: App) -> None:
        """Record the configuration in force and subscribe to the engine's outputs."""
        if self.config is None:
            self.config = lambda: app.engine.config
        self.engine = app.engine
        # Every number with a history, before any record is added (records come from
        # the core, subscribed below).
        callers = getattr(self.store, "callers", None)
        if callers is not None:
            numbers = await asyncio.to_thread(lambda: list(callers()))
            self.recent.load(numbers)
        self._hand([config_record(app.engine.config, self.clock(), "start")])
        app.core.subscribe(self.record)

    async def stop(self, app: App) -> None:
        """Close open agent intervals, commit everything and close the store."""
        self._hand(self.recorder.close_states(self.clock()))
        if self._sync_handle is not None:  # a group waiting for its window: commit it now
            self._sync_handle.cancel()
            self._sync()
        self.flush()
        await asyncio.to_thread(self.store.close)


def _resolve_all(futs: list[asyncio.Future[None]]) -> None:
    for fut in futs:
        if not fut.done():  # a waiter may have been cancelled
            fut.set_result(None)


def component(app: App) -> JournalComponent:
    """The factory listed in `acd.app.COMPONENTS`."""
    settings = app.settings.parts.get("store")
    if not isinstance(settings, StoreSettings):
        settings = StoreSettings()
    journal: JournalComponent

    def hook(seconds: float, count: int) -> None:
        journal._commit(seconds, count)

    # The journal gathers records and groups barriers itself: the writer commits what it is
    # handed at once.
    store: SqliteStore = open_store(
        app.data_dir,
        synchronous=settings.synchronous,
        batch=settings.batch,
        on_commit=hook,
        sync_linger=0.0,
        linger=0.0,
    )
    journal = JournalComponent(store, app.core.now, group_commit=settings.group_commit)
    return journal
