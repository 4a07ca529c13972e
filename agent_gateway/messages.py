"""The agent softphone protocol on `/agent`: every request, reply result and push, as Structs.

One schema per message: msgspec validates while decoding and encodes both MessagePack (binary
frames) and JSON (text frames). Requests carry a client `id` and get exactly one reply
(`framing.Ok` / `framing.Error`); pushes carry `seq`, numbered per session. Requests never
name the acting agent: a session acts as the agent that signed in. Requests that do name an
agent (`agent_id`) are refused with `forbidden` unless it is the session's own.

`docs/protocol.md` is generated from this module (`python -m agent_gateway.protocol_doc`).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from agent_gateway.framing import RequestId

PROTOCOL = "acd-agent"
VERSION = 1

TargetKind = Literal["agent", "group", "external"]
PendingState = Literal["ready", "not_ready", "logged_out"]


class Target(msgspec.Struct, frozen=True):
    """Where a transfer, consult or conference goes: an agent id, a group id or a number."""

    kind: TargetKind
    value: str


# ---------------------------------------------------------------------------- requests


class Request(msgspec.Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Base of client requests: `id` is echoed in the one reply."""

    id: RequestId


class Hello(Request, tag="hello"):
    """First frame of a connection: the protocol version the client speaks."""

    version: int
    client: str = ""


class SignIn(Request, tag="sign_in"):
    """Authenticate as an agent; `endpoint` is what the switch rings (hot-desking). Signing in
    again while signed in (moved to another desk) with an `endpoint` rings that one from the
    next call on; a call already connected stays where it is."""

    agent_id: str
    secret: str
    endpoint: str = ""


class Resume(Request, tag="resume"):
    """Take back a lost session with its token; pushes after `last_seq` are replayed."""

    token: str
    last_seq: int = 0


class SignOut(Request, tag="sign_out"):
    """Sign out (deferred until the current call's work ends)."""

    agent_id: str | None = None


class Ready(Request, tag="ready"):
    """Go ready (also ends wrap-up); while busy it becomes the pending state."""

    agent_id: str | None = None


class NotReady(Request, tag="not_ready"):
    """Go not ready with a configured reason code; while busy it becomes the pending state."""

    reason: str
    agent_id: str | None = None


class SetPending(Request, tag="set_pending"):
    """The state to enter when the current work ends (null clears it)."""

    state: PendingState | None
    reason: str = ""
    agent_id: str | None = None


class Accept(Request, tag="accept"):
    """Accept the offer ringing at this desktop."""

    call_id: str


class Reject(Request, tag="reject"):
    """Decline the offer ringing at this desktop."""

    call_id: str


class Hangup(Request, tag="hangup"):
    """Hang up this agent's leg of a call."""

    call_id: str


class Hold(Request, tag="hold"):
    """Put the caller on hold."""

    call_id: str


class Retrieve(Request, tag="retrieve"):
    """Take the caller off hold."""

    call_id: str


class Transfer(Request, tag="transfer"):
    """Blind transfer: hand the caller to the target and leave the call."""

    call_id: str
    target: Target


class ConsultStart(Request, tag="consult_start"):
    """Hold the caller and call the target (consult transfer, first step)."""

    call_id: str
    target: Target


class ConsultComplete(Request, tag="consult_complete"):
    """Leave the caller with the consulted party."""

    call_id: str


class ConsultCancel(Request, tag="consult_cancel"):
    """End the consult leg and return to the caller."""

    call_id: str


class ConferenceAdd(Request, tag="conference_add"):
    """Add a party: with `target`, call it and join it on answer; without, merge the open
    consult into a three-way call."""

    call_id: str
    target: Target | None = None


class ConferenceDrop(Request, tag="conference_drop"):
    """Drop a party (an agent id or an external number) from the conference."""

    call_id: str
    party: str


class Digits(Request, tag="digits"):
    """Send DTMF digits (0-9, *, #, A-D) on the call."""

    call_id: str
    digits: str


class WrapUpCode(Request, tag="wrap_up_code"):
    """Record the wrap-up code of the call just ended; `finish` also ends wrap-up."""

    code: str
    finish: bool = False


class FinishWrapUp(Request, tag="finish_wrap_up"):
    """End after-call work now (then the pending state, else ready)."""


class CallbackOutcome(Request, tag="callback_outcome"):
    """The agent's word on a callback task: connected, no_answer, cancelled or reschedule."""

    call_id: str
    outcome: Literal["connected", "no_answer", "cancelled", "reschedule"]
    at: float | None = None  # reschedule: epoch seconds


class Snapshot(Request, tag="snapshot"):
    """Ask for the full view: state, calls, groups served, today's counters."""


REQUESTS: tuple[type[Request], ...] = (
    Hello,
    SignIn,
    Resume,
    SignOut,
    Ready,
    NotReady,
    SetPending,
    Accept,
    Reject,
    Hangup,
    Hold,
    Retrieve,
    Transfer,
    ConsultStart,
    ConsultComplete,
    ConsultCancel,
    ConferenceAdd,
    ConferenceDrop,
    Digits,
    WrapUpCode,
    FinishWrapUp,
    CallbackOutcome,
    Snapshot,
)

AnyRequest = (
    Hello
    | SignIn
    | Resume
    | SignOut
    | Ready
    | NotReady
    | SetPending
    | Accept
    | Reject
    | Hangup
    | Hold
    | Retrieve
    | Transfer
    | ConsultStart
    | ConsultComplete
    | ConsultCancel
    | ConferenceAdd
    | ConferenceDrop
    | Digits
    | WrapUpCode
    | FinishWrapUp
    | CallbackOutcome
    | Snapshot
)

# ---------------------------------------------------------------------------- results


class HelloResult(msgspec.Struct):
    """The reply to `hello`."""

    protocol: str
    version: int
    server: str
    ping_interval: float


class Counters(msgspec.Struct):
    """The agent's own figures since the center's local midnight."""

    day: str  # YYYY-MM-DD in the center's time zone
    offered: int = 0
    answered: int = 0
    rejected: int = 0
    missed: int = 0  # ring timeouts
    handled: int = 0  # calls whose talk ended
    talk_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    not_ready_seconds: float = 0.0


class CallView(msgspec.Struct):
    """One call the agent is on, as the snapshot shows it."""

    call_id: str
    group: str
    kind: str
    phase: str
    caller: str
    held: bool
    agents: list[str]
    external: list[str]
    since: float  # when this agent joined it


class GroupView(msgspec.Struct):
    """A group the agent serves, with its level there and the queue right now."""

    group: str
    name: str
    level: int
    waiting: int
    oldest_wait: float


class WrapUpView(msgspec.Struct):
    """After-call work in progress."""

    call_id: str
    group: str
    mode: str
    code: str
    started: float
    deadline: float | None


class SnapshotResult(msgspec.Struct):
    """Everything a desktop needs to draw itself from scratch."""

    agent_id: str
    name: str
    number: str
    endpoint: str
    state: str
    reason: str
    since: float
    pending: str | None
    pending_reason: str
    calls: list[CallView]
    offer: Offer | None
    wrap_up: WrapUpView | None
    groups: list[GroupView]
    today: Counters
    reasons: dict[str, str]
    wrap_up_codes: dict[str, str]


class SignInResult(msgspec.Struct):
    """The reply to `sign_in` and `resume`."""

    agent_id: str
    token: str  # resume token of this session; keep it secret
    resume_grace: float
    seq: int  # the last push seq of this session so far
    resumed: bool
    replayed: int  # pushes replayed after this reply (resume)
    snapshot: SnapshotResult | None  # sign-in, or a resume whose missed pushes were dropped


# ---------------------------------------------------------------------------- pushes


class Push(msgspec.Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Base of server pushes: `seq` numbers them per session; `at` is when it happened."""

    seq: int = 0
    at: float = 0.0


class ScreenPop(msgspec.Struct, omit_defaults=True):
    """What the desktop shows about the caller when the offer rings."""

    caller: str
    dialed: str
    brand: str
    vip: int
    city: str
    attributes: dict[str, str]
    ivr_path: list[str]
    inputs: dict[str, str]
    customer: dict[str, Any]
    recent_contacts: list[dict[str, Any]]
    kind: str
    waited: float
    number: str = ""  # callback / voicemail: the number to call back
    voicemail: str = ""  # recording reference
    consult_from: str = ""  # the agent consulting
    attempt: int = 0


class Offer(Push, tag="offer"):
    """A call rings at this desktop until `ring_deadline` (epoch seconds)."""

    call_id: str
    group: str
    ring_seconds: float
    ring_deadline: float
    screen: ScreenPop
    assigned_by: str = ""


class OfferEnded(Push, tag="offer_ended"):
    """The offer stopped ringing: accepted, rejected, timeout or withdrawn (with a reason)."""

    call_id: str
    result: str
    reason: str = ""


class CallChanged(Push, tag="call"):
    """Who is on the call changed: connected, held, retrieved, transferred, conference,
    party_joined, party_left, consult, left (this agent's part is over)."""

    call_id: str
    event: str
    agents: list[str]
    external: list[str]
    held: bool


class CallEnded(Push, tag="call_ended"):
    """The call reached its final state."""

    call_id: str
    cause: str
    by: str = ""


class StateChanged(Push, tag="state"):
    """The agent's state or pending state changed; `actor` names a supervisor who forced it."""

    state: str
    old: str
    reason: str = ""
    actor: str = ""
    pending: str | None = None
    pending_reason: str = ""
    call_id: str = ""


class WrapUpStarted(Push, tag="wrap_up"):
    """After-call work began; `deadline` is set in timed wrap-up."""

    call_id: str
    group: str
    mode: str
    deadline: float | None = None


class WrapUpEnded(Push, tag="wrap_up_ended"):
    """After-call work ended."""

    call_id: str
    code: str
    seconds: float


class CallbackResult(Push, tag="callback"):
    """A callback attempt this agent made ended."""

    call_id: str
    outcome: str
    attempt: int


class Message(Push, tag="message"):
    """A broadcast or direct message from a supervisor."""

    sender: str
    text: str


class Notice(Push, tag="notice"):
    """A supervisor joined the call: monitor, whisper, barge, intercept (or stopped)."""

    kind: str
    supervisor: str
    call_id: str = ""


class GroupStats(Push, tag="group_stats"):
    """Periodic figures of the agent's groups."""

    groups: list[GroupView]


class Closing(Push, tag="closing"):
    """The server is about to close this session (takeover, forced sign-out, shutdown)."""

    code: int
    reason: str


PUSHES: tuple[type[Push], ...] = (
    Offer,
    OfferEnded,
    CallChanged,
    CallEnded,
    StateChanged,
    WrapUpStarted,
    WrapUpEnded,
    CallbackResult,
    Message,
    Notice,
    GroupStats,
    Closing,
)

AnyPush = (
    Offer
    | OfferEnded
    | CallChanged
    | CallEnded
    | StateChanged
    | WrapUpStarted
    | WrapUpEnded
    | CallbackResult
    | Message
    | Notice
    | GroupStats
    | Closing
)

RESULTS: dict[str, type[msgspec.Struct]] = {
    "hello": HelloResult,
    "sign_in": SignInResult,
    "resume": SignInResult,
    "snapshot": SnapshotResult,
}
