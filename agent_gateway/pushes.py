"""Core outputs become pushes to the desktops of the agents they concern.

The host hands every output batch to `PushRouter.deliver`, synchronously, right after the
engine decided; an offer's frame is written to its socket before the batch returns, which is
where the offer latency is measured. Outputs of agents without a session are only counted.

Who hears about a call: the agents on it (before and after a parties change, so the one who
left learns it too), the agent consulting on a consult leg, and an agent whose part of the
call ended without a parties change (an internal blind transfer) gets a `call` push with
event `left`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import structlog

from acd import events as ev
from acd.engine import Engine
from acd.states import AgentState
from acd.timers import deadline as timer_deadline
from agent_gateway import messages as m
from agent_gateway.sessions import SessionTable
from agent_gateway.views import Today, screen_pop

log = structlog.get_logger("agent_gateway.pushes")

# An enum's `.value` is a property (about half a microsecond); a state change needs three.
_STATE_VALUE: dict[AgentState | None, str | None] = {s: s.value for s in AgentState}
_STATE_VALUE[None] = None
_CAUSE_VALUE = {c: c.value for c in ev.EndCause}
_ON_CALL = AgentState.ON_CALL
_WRAP_UP = AgentState.WRAP_UP


class RecentContacts(Protocol):
    """The part of the journal the screen pop uses."""

    def recent_contacts(self, number: str, limit: int = 5) -> Sequence[Mapping[str, Any]]: ...


class OfferLatency(Protocol):
    """The part of the metrics component offers report to."""

    def offer_latency(self, seconds: float) -> None: ...


class PushRouter:
    """Turns engine outputs into per-agent pushes."""

    def __init__(
        self,
        engine: Engine,
        sessions: SessionTable,
        today: Today,
        *,
        clock: Callable[[], float],
        journal: Callable[[], RecentContacts | None],
        metrics: Callable[[], OfferLatency | None],
        recent_limit: int,
        on_left_alone: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.today = today
        self.clock = clock
        self.journal = journal
        self.metrics = metrics
        self.recent_limit = recent_limit
        self.on_left_alone = on_left_alone  # an agent without a desktop needs the host's help
        self.parties: dict[str, set[str]] = {}  # call id -> agents told about it
        self.owners: dict[str, str] = {}  # consult leg id -> consulting agent
        self.ringing: dict[str, m.Offer] = {}  # agent id -> its offer while it rings
        self.offers_pushed = 0
        self._left: list[tuple[str, str, float]] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.CallOffered: self._offered,
            ev.OfferEnded: self._offer_ended,
            ev.CallPartiesChanged: self._parties,
            ev.CallEnded: self._ended,
            ev.AgentStateChanged: self._state,
            ev.WrapUpEnded: self._wrap_ended,
            ev.CallbackAttempted: self._callback,
        }

    def deliver(self, outputs: Sequence[ev.Output]) -> None:
        """The host's sink: every batch, in order."""
        handlers = self._handlers
        for o in outputs:
            h = handlers.get(type(o))
            if h is not None:
                try:
                    h(o)
                except Exception:  # one bad push must not cost the rest of the batch
                    log.exception("push failed", output=type(o).__name__)
        if self._left:
            self._settle_left()

    def _settle_left(self) -> None:
        """Agents whose part of a call ended with no parties change telling them so."""
        left, self._left = self._left, []
        for call_id, aid, at in left:
            told = self.parties.get(call_id)
            if told is None or aid not in told:
                continue
            told.discard(aid)
            push = m.CallChanged(
                at=at, call_id=call_id, event="left", agents=sorted(told), external=[], held=False
            )
            self._push(aid, push)

    def _push(self, agent_id: str, push: m.Push) -> bool:
        s = self.sessions.by_agent.get(agent_id)
        return s is not None and s.push(push)

    # offers -----------------------------------------------------------------------------

    def _offered(self, o: ev.CallOffered) -> None:
        c = self.today.of(o.agent_id, o.at)
        c.offered += 1
        s = self.sessions.by_agent.get(o.agent_id)
        if s is None:
            return
        recent: Sequence[Mapping[str, Any]] = ()
        journal = self.journal()
        number = o.screen.call.caller
        if journal is not None and number and self.recent_limit:
            try:
                recent = journal.recent_contacts(number, self.recent_limit)
            except Exception:  # the pop goes out without history rather than not at all
                log.exception("recent contacts failed", call_id=o.call_id)
        if o.screen.consult_from:
            self.owners[o.call_id] = o.screen.consult_from
        push = m.Offer(
            at=o.at,
            call_id=o.call_id,
            group=o.group,
            ring_seconds=round(o.ring_deadline - o.at, 3),
            ring_deadline=o.ring_deadline,
            screen=screen_pop(o.screen, recent),
            assigned_by=o.assigned_by,
        )
        self.ringing[o.agent_id] = push
        sent = s.push(push)
        self.offers_pushed += 1
        if sent and self.metrics() is not None:
            # the channel flushes at the end of this loop turn (scheduled before this): measure
            # once the frame is in the socket
            asyncio.get_running_loop().call_soon(self._observe_offer, o.at)

    def _observe_offer(self, decided_at: float) -> None:
        metrics = self.metrics()
        if metrics is not None:
            metrics.offer_latency(max(0.0, self.clock() - decided_at))

    def _offer_ended(self, o: ev.OfferEnded) -> None:
        ringing = self.ringing.get(o.agent_id)
        if ringing is not None and ringing.call_id == o.call_id:
            del self.ringing[o.agent_id]
        c = self.today.of(o.agent_id, o.at)
        if o.result == "rejected":
            c.rejected += 1
        elif o.result == "timeout":
            c.missed += 1
        self._push(
            o.agent_id, m.OfferEnded(at=o.at, call_id=o.call_id, result=o.result, reason=o.reason)
        )

    # calls ------------------------------------------------------------------------------

    def _audience(self, call_id: str, agents: Iterable[str]) -> set[str]:
        told = self.parties.get(call_id)
        who = set(agents)
        if told:
            who |= told
        owner = self.owners.get(call_id)
        if owner is not None:
            who.add(owner)
        return who

    def _parties(self, o: ev.CallPartiesChanged) -> None:
        push_to = self._audience(o.call_id, o.agents)
        self.parties[o.call_id] = set(o.agents)
        agents, external = list(o.agents), list(o.external)
        for a in push_to:
            self._push(
                a,
                m.CallChanged(
                    at=o.at,
                    call_id=o.call_id,
                    event=o.event,
                    agents=agents,
                    external=external,
                    held=o.held,
                ),
            )

    def _ended(self, o: ev.CallEnded) -> None:
        told = self.parties.pop(o.call_id, set())
        owner = self.owners.pop(o.call_id, None)
        if owner is not None:
            told.add(owner)
        cause = _CAUSE_VALUE[o.cause]
        for a in told:
            self._push(a, m.CallEnded(at=o.at, call_id=o.call_id, cause=cause, by=o.by))

    # agent states -----------------------------------------------------------------------

    def _state(self, o: ev.AgentStateChanged) -> None:
        self.today.state_changed(o)
        aid, old, new = o.agent_id, o.old, o.new
        if old is _ON_CALL and new is not _ON_CALL and o.call_id:
            self._left.append((o.call_id, aid, o.at))  # settled at the end of the batch
        s = self.sessions.by_agent.get(aid)
        if s is None:
            if new is _WRAP_UP and o.pending is AgentState.LOGGED_OUT:
                self.on_left_alone(aid)
            return
        values = _STATE_VALUE
        s.push(
            m.StateChanged(
                at=o.at,
                state=values[new],  # type: ignore[arg-type]  # never None: a state
                old=values[old],  # type: ignore[arg-type]
                reason=o.reason,
                actor=o.actor,
                pending=values[o.pending],
                pending_reason=o.pending_reason,
                call_id=o.call_id,
            )
        )
        if new is _WRAP_UP and old is not _WRAP_UP:
            a = self.engine.agents.get(aid)
            w = a.wrap if a is not None else None
            if w is not None:
                deadline = timer_deadline(w.timer) if w.timer is not None else None
                s.push(
                    m.WrapUpStarted(
                        at=o.at, call_id=w.call_id, group=w.group, mode=w.mode.value,
                        deadline=deadline,
                    )
                )  # fmt: skip

    def _wrap_ended(self, o: ev.WrapUpEnded) -> None:
        self.today.of(o.agent_id, o.at).wrap += o.seconds
        self._push(
            o.agent_id, m.WrapUpEnded(at=o.at, call_id=o.call_id, code=o.code, seconds=o.seconds)
        )

    def _callback(self, o: ev.CallbackAttempted) -> None:
        if o.agent_id:
            self._push(
                o.agent_id,
                m.CallbackResult(at=o.at, call_id=o.call_id, outcome=o.outcome, attempt=o.attempt),
            )
