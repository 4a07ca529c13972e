"""What the journal writes: one frozen record type per table of the store.

Records are plain data; a store maps them to its own schema. Times are epoch seconds from the
engine's injected clock. Nested details (offers of a call, its queue segments...) travel as
plain lists and dicts that a store may keep as JSON.
"""

from __future__ import annotations

from typing import Any

import msgspec


class CallRecord(msgspec.Struct, frozen=True):
    """A call detail record (CDR), written when the call reached its one final state."""

    call_id: str
    kind: str  # inbound, callback, voicemail, consult
    group: str  # the group it was in last
    groups: list[str]  # every group it was in, in order
    cause: str  # EndCause value
    ended_by: str  # caller, an agent id, system, a supervisor id
    ended_at: float
    queued_at: float | None
    answered_at: float | None
    wait: float | None  # queue wait until the first answer
    talk: float  # connected time without hold
    hold: float
    agents: list[str]  # every agent connected, in order
    caller: str = ""
    dialed: str = ""
    brand: str = ""
    vip: int = 0
    trunk: str = ""
    ivr_path: list[str] = msgspec.field(default_factory=list)
    number: str = ""  # callback / voicemail tasks: the number called back
    voicemail: str = ""
    attempts: int = 0
    transfers: int = 0
    conference: bool = False
    # Detail lists (dicts with an `at`): segments (group entries: group, how, restored),
    # answers (group, agent, wait), abandon (group, wait, ringing), blocked (group, reason),
    # overflows (from, to, action, rule, actor), offers (agent, group, result, reason),
    # callbacks (event, attempt, outcome, due_at), parties (event, agents, external, held).
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class OfferRecord(msgspec.Struct, frozen=True):
    """One offer to an agent and how it ended (accepted, rejected, timeout, withdrawn)."""

    call_id: str
    agent_id: str
    group: str
    offered_at: float
    ended_at: float
    result: str
    reason: str = ""


class AgentStateRecord(msgspec.Struct, frozen=True):
    """An interval an agent spent in one state (with its not-ready reason)."""

    agent_id: str
    state: str
    reason: str
    start: float
    end: float
    actor: str = ""  # who put the agent in this state when it was not the agent
    call_id: str = ""


class HandledRecord(msgspec.Struct, frozen=True):
    """One call an agent finished handling: its talk and after-call work."""

    agent_id: str
    call_id: str
    group: str
    at: float  # when handling (wrap-up included) ended
    talk: float  # the agent's connected time on the call (hold included)
    acw: float
    code: str = ""


class NoteRecord(msgspec.Struct, frozen=True):
    """A fact about a call from outside the engine (ivr, survey, recording, voicemail...)."""

    call_id: str
    kind: str
    at: float
    data: dict[str, Any]


class AuditRecord(msgspec.Struct, frozen=True):
    """One supervisor or admin action, allowed or refused."""

    at: float
    who: str
    role: str
    action: str
    target: str
    params: dict[str, Any]
    result: str


class ConfigRecord(msgspec.Struct, frozen=True):
    """A configuration version that took effect, with what reports need of it."""

    at: float
    version: str
    actor: str
    # timezone, sl_threshold, interval_minutes, groups {id: {name, target_ratio,
    # target_seconds}}, members {group: [agent ids]}
    snapshot: dict[str, Any]


Record = (
    CallRecord
    | OfferRecord
    | AgentStateRecord
    | HandledRecord
    | NoteRecord
    | AuditRecord
    | ConfigRecord
)
