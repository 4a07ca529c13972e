"""Inputs to the engine (events and requests) and its outputs (facts and commands).

All are frozen msgspec Structs (cheap to build: the engine makes several per decision).
Outputs carry `at`, the injected time at which they
happened. Commands are outputs a host must carry out: `SwitchCommand`s go to the switch link,
`CallOffered` and friends to agent desktops. Facts feed the journal, metrics and wallboards.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from acd.model import CenterConfig
from acd.states import AgentState

# ---------------------------------------------------------------------------- shared values


class CallKind(StrEnum):
    """What a queued contact is."""

    INBOUND = "inbound"
    CALLBACK = "callback"  # the center calls the customer back
    VOICEMAIL = "voicemail"  # a message left by a caller, called back like a callback
    CONSULT = "consult"  # an agent consulting another agent or group


class EndCause(StrEnum):
    """The one final state of every call."""

    COMPLETED = "completed"  # handled by an agent and ended
    ABANDONED = "abandoned"  # the caller hung up before an agent answered
    BLOCKED = "blocked"  # the queue was full and the full action ended the call
    CLOSED = "closed"  # the group was closed or paused and the closed action ended the call
    TRANSFERRED_OUT = "transferred_out"  # blind-transferred outside the center
    CALLBACK_FAILED = "callback_failed"  # a callback ran out of attempts
    CANCELLED = "cancelled"  # a callback or voicemail task was cancelled
    VOICEMAIL_EMPTY = "voicemail_empty"  # sent to voicemail, hung up without a message
    ENDED = "ended"  # a consult leg ended (not a customer contact)
    LOST = "lost"  # the switch that held it went away and never resynced
    INTERCEPTED = "intercepted"  # a supervisor took the call over from its agent


class TargetKind(StrEnum):
    """Where a transfer, consult or conference goes."""

    AGENT = "agent"
    GROUP = "group"
    EXTERNAL = "external"


class Target(msgspec.Struct, frozen=True, gc=False):
    """A transfer / consult / conference destination."""

    kind: TargetKind
    value: str


class CallInfo(msgspec.Struct, frozen=True, gc=False):
    """What is known about a caller when the call reaches the queue (the screen pop's source)."""

    id: str
    caller: str = ""
    dialed: str = ""
    brand: str = ""
    vip: int = 0
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    ivr_path: tuple[str, ...] = ()
    inputs: dict[str, str] = msgspec.field(default_factory=dict)
    customer: dict[str, Any] = msgspec.field(default_factory=dict)
    arrived_at: float = 0.0
    trunk: str = ""
    switch: str = ""  # which switch owns the call


# ---------------------------------------------------------------------------- inputs


class Event(msgspec.Struct, frozen=True, gc=False):
    """Base of engine inputs.

    Events, outputs and the records they carry are immutable and never part of a reference
    cycle, so the garbage collector does not track them (gc=False): thousands are made per
    second and would otherwise trigger and lengthen its collections.
    """


# Calls, from the IVR and the switch link -------------------------------------------------


class EnqueueCall(Event, frozen=True):
    """An inbound call asks for an agent of `group`.

    `queued_at` is given when restoring a call after a restart or resync, so it keeps its place.
    `priority` replaces the brand/VIP base priority; `bonus` adds to it (IVR set-priority).
    """

    call: CallInfo
    group: str
    priority: float | None = None
    bonus: float = 0.0
    queued_at: float | None = None


class RestoreConnected(Event, frozen=True):
    """Resync: a call the switch reports as connected to an agent.

    `priority` is the base priority it had (None: from its brand and VIP level again).
    """

    call: CallInfo
    group: str
    agent_id: str
    queued_at: float
    answered_at: float
    held: bool = False
    kind: CallKind = CallKind.INBOUND
    priority: float | None = None


class CallerHangup(Event, frozen=True):
    """The caller's leg ended (in queue, while ringing, or while talking)."""

    call_id: str


class CallLost(Event, frozen=True):
    """The switch owning the call is gone and its grace period ran out."""

    call_id: str


class AgentLegAnswered(Event, frozen=True):
    """The switch connected the agent's leg (inbound connect, consult or callback dial-out)."""

    call_id: str
    agent_id: str


class AgentLegFailed(Event, frozen=True):
    """The switch could not connect the agent's leg."""

    call_id: str
    agent_id: str
    reason: str = "failed"


class AgentLegEnded(Event, frozen=True):
    """An agent's leg of a call ended (the agent hung up, or the switch dropped it)."""

    call_id: str
    agent_id: str


class HoldChanged(Event, frozen=True):
    """The switch put the caller on hold or took them off it."""

    call_id: str
    held: bool


class ExternalPartyChanged(Event, frozen=True):
    """An external party joined or left a conference or consult."""

    call_id: str
    party: str  # the external number
    joined: bool


class ConsultBridged(Event, frozen=True):
    """The switch bridged a consult leg into its call (transfer or conference)."""

    call_id: str
    conference: bool


class TransferredOut(Event, frozen=True):
    """The switch handed the caller to an external number; the call leaves the center."""

    call_id: str


class TransferFailed(Event, frozen=True):
    """The switch could not carry out a blind transfer; the call stays with its agent."""

    call_id: str
    reason: str = "failed"


class InterceptCall(Event, frozen=True):
    """A supervisor took the call over (the switch already dropped the agents' legs).

    The call leaves the ACD with cause `intercepted`; its agents go to after-call work.
    """

    call_id: str
    supervisor: str


class CallbackChosen(Event, frozen=True):
    """The caller accepted a callback (keeps the place) and will hang up. `at` schedules it."""

    call_id: str
    number: str = ""
    at: float | None = None


class VoicemailChosen(Event, frozen=True):
    """A waiting caller chose to leave a message (a queue key); the switch records it."""

    call_id: str


class ScheduleCallback(Event, frozen=True):
    """Create a callback task (from an agent, a supervisor or an API) due at `at`.

    Restoring an owed task after a restart: `queued_at` keeps its original place and
    `voicemail` (a recording reference) makes it a voicemail task; `attempts` already made.
    """

    call: CallInfo
    group: str
    number: str
    at: float
    actor: str = ""
    queued_at: float | None = None
    voicemail: str = ""
    attempts: int = 0


class DialOutResult(Event, frozen=True):
    """Outcome of the switch dialing a customer for a callback or voicemail task."""

    call_id: str
    answered: bool
    reason: str = ""


class VoicemailRecorded(Event, frozen=True):
    """The caller left a message; it becomes a task for agents, keeping the call's place."""

    call_id: str
    ref: str


# Agents, from the gateway ----------------------------------------------------------------


class AgentLogin(Event, frozen=True):
    """Sign in; `endpoint` is what the switch rings (hot-desking), default from config."""

    agent_id: str
    endpoint: str = ""


class AgentLogout(Event, frozen=True):
    """Sign out; deferred until the call ends. `actor` is set when a supervisor forces it."""

    agent_id: str
    actor: str = ""


class AgentReady(Event, frozen=True):
    """Go READY (or finish wrap-up); while busy it becomes the pending state."""

    agent_id: str
    actor: str = ""


class AgentNotReady(Event, frozen=True):
    """Go NOT_READY with a configured reason; while busy it becomes the pending state."""

    agent_id: str
    reason: str
    actor: str = ""


class SetPending(Event, frozen=True):
    """Choose the state to enter when the current work ends (None clears it)."""

    agent_id: str
    state: AgentState | None
    reason: str = ""


class AcceptOffer(Event, frozen=True):
    """The agent accepts the offer ringing at its desktop."""

    agent_id: str
    call_id: str


class RejectOffer(Event, frozen=True):
    """The agent declines the offer."""

    agent_id: str
    call_id: str


class AgentHangup(Event, frozen=True):
    """The agent asks to hang up its leg (confirmed by AgentLegEnded)."""

    agent_id: str
    call_id: str


class AgentHold(Event, frozen=True):
    """The agent asks to hold (held=True) or retrieve the caller."""

    agent_id: str
    call_id: str
    held: bool = True


class BlindTransfer(Event, frozen=True):
    """Hand the caller to another agent, group or external number and leave the call."""

    agent_id: str
    call_id: str
    target: Target


class ConsultStart(Event, frozen=True):
    """Hold the caller and call a target; `conference` joins the target on answer."""

    agent_id: str
    call_id: str
    target: Target
    conference: bool = False


class ConsultComplete(Event, frozen=True):
    """Complete a consult transfer (leave the caller with the consulted party)."""

    agent_id: str
    call_id: str


class ConsultCancel(Event, frozen=True):
    """End the consult leg and return to the caller."""

    agent_id: str
    call_id: str


class ConferenceMerge(Event, frozen=True):
    """Join the consulted party, the caller and the agent in one conference."""

    agent_id: str
    call_id: str


class ConferenceDrop(Event, frozen=True):
    """Drop a party (an agent id or an external number) from the conference."""

    agent_id: str
    call_id: str
    party: str


class SendDigits(Event, frozen=True):
    """Send DTMF on the agent's call (to an IVR or external party)."""

    agent_id: str
    call_id: str
    digits: str


class WrapUpCode(Event, frozen=True):
    """Record a wrap-up code; `finish` also ends wrap-up."""

    agent_id: str
    code: str
    finish: bool = False


class FinishWrapUp(Event, frozen=True):
    """End after-call work now."""

    agent_id: str


class CallbackOutcome(Event, frozen=True):
    """The agent's word on a callback or voicemail task it holds or held.

    outcome: "connected" (nothing more), "no_answer" (retry per policy), "cancelled",
    "reschedule" (at `at`).
    """

    agent_id: str
    call_id: str
    outcome: str
    at: float | None = None


class AgentDisconnected(Event, frozen=True):
    """The agent's desktop connection was lost."""

    agent_id: str


class AgentReconnected(Event, frozen=True):
    """The agent's desktop is back (resumed session, or signed in again while signed in);
    a non-empty `endpoint` is what the switch rings from now on (moved to another desk)."""

    agent_id: str
    endpoint: str = ""


# Supervisors ---------------------------------------------------------------------------


class AssignCall(Event, frozen=True):
    """Offer a waiting call to a named agent next."""

    call_id: str
    agent_id: str
    actor: str


class SetCallPriority(Event, frozen=True):
    """Change a waiting call's base priority (its arrival time is kept)."""

    call_id: str
    priority: float
    actor: str


class MoveCall(Event, frozen=True):
    """Move a waiting call to another group, keeping its place."""

    call_id: str
    group: str
    actor: str


class WithdrawCall(Event, frozen=True):
    """Take a waiting call out of the queue to voicemail or to a callback."""

    call_id: str
    to: str  # "voicemail" | "callback"
    actor: str


class SetAgentSkills(Event, frozen=True):
    """Change an agent's skills, levels or group order live (None keeps the current one)."""

    agent_id: str
    actor: str
    skills: dict[str, int] | None = None
    groups: tuple[str, ...] | None = None


class PauseGroup(Event, frozen=True):
    """Drain a group: no new calls; calls in it are still served."""

    group: str
    actor: str
    paused: bool = True


class Reload(Event, frozen=True):
    """Apply a new configuration: new calls follow it, calls in progress are not disturbed."""

    config: CenterConfig
    actor: str = ""


class Tick(Event, frozen=True):
    """Nothing but the passing of time (timers due are processed)."""


# ---------------------------------------------------------------------------- outputs


class Output(msgspec.Struct, frozen=True, gc=False):
    """Base of engine outputs; `at` is the injected time it happened."""

    at: float


class CallQueued(Output, frozen=True):
    """A call or task entered a group's queue (or came back to it)."""

    call_id: str
    group: str
    kind: CallKind
    priority: float
    queued_at: float
    requeued: bool = False
    restored: bool = False  # back after a restart or resync: not a new offered call


class CallBlocked(Output, frozen=True):
    """A call was refused by a group: `reason` is full, closed or paused."""

    call_id: str
    group: str
    reason: str


class Screen(msgspec.Struct, frozen=True, gc=False):
    """The screen pop carried by an offer."""

    call: CallInfo
    kind: CallKind
    group: str
    waited: float
    number: str = ""  # callback number
    voicemail: str = ""  # recording reference
    consult_from: str = ""  # the agent consulting
    attempt: int = 0


class CallOffered(Output, frozen=True):
    """Reserve `agent_id` for the call: ring its desktop until `ring_deadline`."""

    call_id: str
    agent_id: str
    group: str
    ring_deadline: float
    screen: Screen
    assigned_by: str = ""


class OfferEnded(Output, frozen=True):
    """An offer stopped ringing: result is accepted, rejected, timeout or withdrawn."""

    call_id: str
    agent_id: str
    group: str
    result: str
    reason: str = ""


class CallAnswered(Output, frozen=True):
    """An agent's leg was connected to the customer (queue wait ends here)."""

    call_id: str
    agent_id: str
    group: str
    kind: CallKind
    wait: float


class CallAbandoned(Output, frozen=True):
    """The caller hung up before an agent answered."""

    call_id: str
    group: str
    wait: float
    ringing: bool


class CallOverflowed(Output, frozen=True):
    """An overflow rule (or a supervisor move) acted on a waiting call."""

    call_id: str
    from_group: str
    to_group: str
    action: str
    rule: str
    actor: str = ""


class CallbackQueued(Output, frozen=True):
    """A call became a callback or voicemail task, or a callback attempt was scheduled."""

    call_id: str
    group: str
    kind: CallKind
    due_at: float
    attempt: int
    number: str


class CallbackAttempted(Output, frozen=True):
    """A callback dial-out ended: outcome connected, no_answer, cancelled or rescheduled."""

    call_id: str
    group: str
    agent_id: str
    attempt: int
    outcome: str


class CallPartiesChanged(Output, frozen=True):
    """Who is on a call changed (answer, hold, transfer, conference)."""

    call_id: str
    agents: tuple[str, ...]
    external: tuple[str, ...]
    held: bool
    event: str  # connected, held, retrieved, transferred, conference, party_left, consult,
    # transfer_failed...


class CallEnded(Output, frozen=True):
    """The call's one final state, with what the record needs."""

    call_id: str
    group: str
    kind: CallKind
    cause: EndCause
    agents: tuple[str, ...]  # every agent that was connected, in order
    queued_at: float | None
    answered_at: float | None
    talk: float
    hold: float
    groups: tuple[str, ...]  # every group the call was in
    by: str = ""  # who ended it: caller, agent id, system, supervisor id
    info: CallInfo | None = None  # caller, dialed number, brand, IVR path...
    number: str = ""  # callback / voicemail tasks: the number called back
    voicemail: str = ""  # recording reference of a voicemail task
    attempts: int = 0  # callback dial-outs made


class AgentStateChanged(Output, frozen=True):
    """An agent's state changed (or its pending state did)."""

    agent_id: str
    old: AgentState
    new: AgentState
    reason: str
    actor: str
    pending: AgentState | None
    pending_reason: str = ""
    call_id: str = ""


class WrapUpEnded(Output, frozen=True):
    """After-call work for a call ended."""

    agent_id: str
    call_id: str
    group: str
    code: str
    seconds: float


class AgentSkillsChanged(Output, frozen=True):
    """A supervisor changed an agent's skills or group order."""

    agent_id: str
    skills: dict[str, int]
    groups: tuple[str, ...]
    actor: str


class GroupPaused(Output, frozen=True):
    """A group was paused (draining) or resumed."""

    group: str
    paused: bool
    actor: str


class CallAssigned(Output, frozen=True):
    """A supervisor handed a waiting call to a named agent (offered to it next)."""

    call_id: str
    group: str
    agent_id: str
    actor: str


class ConfigApplied(Output, frozen=True):
    """A configuration version took effect."""

    version: str
    actor: str


class CallPriorityChanged(Output, frozen=True):
    """A supervisor changed a waiting call's priority."""

    call_id: str
    group: str
    priority: float
    actor: str


# Commands for the switch -----------------------------------------------------------------


class SwitchCommand(Output, frozen=True):
    """Base of what the switch link must carry out."""

    call_id: str


class ConnectAgent(SwitchCommand, frozen=True):
    """Bridge the caller (or consult leg) to the agent's endpoint; announce its number first."""

    agent_id: str
    endpoint: str
    announce_number: str = ""
    consult_of: str = ""  # for consult legs: the call being consulted on
    from_agent: str = ""  # for consult legs: the consulting agent


class DialOut(SwitchCommand, frozen=True):
    """Call the customer back and bridge the agent (callback and voicemail tasks)."""

    agent_id: str
    endpoint: str
    number: str


class DropLeg(SwitchCommand, frozen=True):
    """Hang up one agent's leg of the call (or an external party's)."""

    party: str
    reason: str = ""


class HoldCaller(SwitchCommand, frozen=True):
    """Hold (held=True) or retrieve the caller."""

    held: bool


class TransferExternal(SwitchCommand, frozen=True):
    """Blind-transfer the caller to an external number."""

    number: str


class DialConsult(SwitchCommand, frozen=True):
    """Open a consult leg `consult_id` from the agent to an external number."""

    consult_id: str
    agent_id: str
    number: str


class BridgeConsult(SwitchCommand, frozen=True):
    """Complete (transfer) or merge (conference) the consult leg into the call."""

    consult_id: str
    conference: bool


class PlayDigits(SwitchCommand, frozen=True):
    """Send DTMF on the call."""

    digits: str


class EntryTreatment(SwitchCommand, frozen=True):
    """The group could not take the call: play the prompt and hang up (message)."""

    group: str
    reason: str  # closed, paused, full
    prompt: str


class OfferCallback(SwitchCommand, frozen=True):
    """Ask the caller whether they want a callback (IVR dialog); the answer is CallbackChosen."""

    group: str
    estimated_wait: float | None  # None: nobody is staffed, the wait has no bound


class RecordVoicemail(SwitchCommand, frozen=True):
    """Take the caller to voicemail; the result is VoicemailRecorded or CallerHangup."""

    group: str


class ReleaseCaller(SwitchCommand, frozen=True):
    """The caller no longer needs the line (after choosing a callback)."""

    reason: str
