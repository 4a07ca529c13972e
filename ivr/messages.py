"""The switch link's wire schema (`/switch`), one typed message per kind.

Switch -> server: requests, each with an `id` and exactly one reply (`ok` or `error`, see
`agent_gateway.framing`), plus `result`, the switch's answer to a command (no reply).
Server -> switch: commands, each with a per-connection `seq`; the switch answers every one
with `result` carrying that seq. docs/switch-link.md shows an exchange for every flow.
"""

from __future__ import annotations

from typing import Any

import msgspec

VERSION = 1

RequestId = int | str


class Request(msgspec.Struct, tag_field="type", omit_defaults=True):
    """Base of what the switch sends."""

    id: RequestId


class Hello(Request, tag="hello"):
    """First message: protocol version, the switch's id and its token."""

    version: int
    switch: str
    token: str


class HeldCall(msgspec.Struct, omit_defaults=True):
    """One call a switch holds, as reported in a resync."""

    call_id: str
    caller: str = ""
    dialed: str = ""
    trunk: str = ""
    arrived_at: float = 0.0
    state: str = "ivr"  # ivr | queued | connected | survey
    flow: str = ""  # ivr: the flow and node the caller is at
    node: str = ""
    group: str = ""  # queued / connected
    priority: float | None = None
    queued_at: float | None = None
    agent_id: str = ""  # connected
    answered_at: float | None = None
    held: bool = False
    brand: str = ""
    vip: int = 0
    attributes: dict[str, str] = {}
    path: list[str] = []
    inputs: dict[str, str] = {}
    kind: str = "inbound"  # inbound | callback | voicemail (connected tasks)


class Resync(Request, tag="resync"):
    """Every call the switch holds (sent after hello, on every (re)connect)."""

    calls: list[HeldCall]


class Arrived(Request, tag="arrived"):
    """A new call; `at` is its arrival time (defaults to now)."""

    call_id: str
    caller: str
    dialed: str
    trunk: str = ""
    at: float | None = None


class Digits(Request, tag="digits"):
    """Digits the caller keyed (`timeout` true and no digits: the collect timed out)."""

    call_id: str
    digits: str
    timeout: bool = False


class PromptDone(Request, tag="prompt_done"):
    """A prompt finished playing."""

    call_id: str


class CallerHangup(Request, tag="caller_hangup"):
    """The caller hung up."""

    call_id: str


class AgentAnswered(Request, tag="agent_answered"):
    """The agent's leg is connected."""

    call_id: str
    agent_id: str


class AgentFailed(Request, tag="agent_failed"):
    """The agent's leg could not be connected."""

    call_id: str
    agent_id: str
    reason: str = "failed"


class AgentHangup(Request, tag="agent_hangup"):
    """The agent's leg ended."""

    call_id: str
    agent_id: str


class Held(Request, tag="held"):
    """The caller was put on hold (true) or retrieved (false)."""

    call_id: str
    held: bool


class Transferred(Request, tag="transferred"):
    """The caller was handed to the external number; the call left the center."""

    call_id: str


class TransferFailed(Request, tag="transfer_failed"):
    """A blind transfer to an external number could not be completed."""

    call_id: str
    reason: str = "failed"


class Party(Request, tag="party"):
    """An external party joined or left a call."""

    call_id: str
    party: str
    joined: bool


class Bridged(Request, tag="bridged"):
    """A consult leg was bridged into its call (transfer or conference)."""

    call_id: str
    conference: bool


class Recording(Request, tag="recording"):
    """A recording of the call is available at `ref`."""

    call_id: str
    ref: str


class Voicemail(Request, tag="voicemail"):
    """The caller left a message, stored at `ref`."""

    call_id: str
    ref: str


class DialResult(Request, tag="dial_result"):
    """Outcome of a dial-out (callback) or a consult dial."""

    call_id: str
    answered: bool
    reason: str = ""


class Result(msgspec.Struct, tag="result", tag_field="type", omit_defaults=True):
    """The switch's answer to command `seq` (not a request: no reply)."""

    seq: int
    ok: bool = True
    code: str = ""
    message: str = ""


SWITCH_MESSAGES: tuple[type, ...] = (
    Hello,
    Resync,
    Arrived,
    Digits,
    PromptDone,
    CallerHangup,
    AgentAnswered,
    AgentFailed,
    AgentHangup,
    Held,
    Transferred,
    TransferFailed,
    Party,
    Bridged,
    Recording,
    Voicemail,
    DialResult,
    Result,
)


# ---------------------------------------------------------------------------- commands


class Command(msgspec.Struct, tag_field="type", omit_defaults=True):
    """Base of what the server asks of the switch."""

    seq: int
    call_id: str


class Play(Command, tag="play"):
    """Play a prompt (id, with text for TTS); `prompt_done` follows."""

    prompt: str
    text: str = ""
    language: str = ""
    interruptible: bool = True
    flow: str = ""  # where the caller is in the IVR (what a resync reports back)
    node: str = ""


class Collect(Command, tag="collect"):
    """Play a prompt and collect digits; `digits` follows."""

    prompt: str
    max_digits: int
    min_digits: int = 1
    timeout: float = 6.0
    terminator: str = ""
    text: str = ""
    language: str = ""
    flow: str = ""
    node: str = ""


class Queue(Command, tag="queue"):
    """The call waits in `group`: play music. The fields are what a resync reports back."""

    group: str
    priority: float
    queued_at: float
    music: str = ""
    brand: str = ""
    vip: int = 0
    attributes: dict[str, str] = {}
    path: list[str] = []
    inputs: dict[str, str] = {}


class Announce(Command, tag="announce"):
    """Tell a queued caller their position (1 = next) and estimated wait, then music again."""

    position: int
    wait: float | None  # seconds; None when unknown
    prompt: str = "queue-announcement"


class Connect(Command, tag="connect"):
    """Bridge the caller to the agent's endpoint (announcing the agent's number first)."""

    agent_id: str
    endpoint: str
    group: str = ""
    announce_number: str = ""
    consult_of: str = ""
    from_agent: str = ""


class DialOut(Command, tag="dial_out"):
    """Call the customer back and bridge the agent; `dial_result` follows."""

    agent_id: str
    endpoint: str
    number: str
    kind: str = "callback"  # or voicemail (what a resync reports back)
    group: str = ""  # the task's group and original place (what a resync reports back)
    queued_at: float | None = None


class Hangup(Command, tag="hangup"):
    """Play `prompt` if given, then hang up the caller."""

    prompt: str = ""
    text: str = ""
    reason: str = ""


class DropLeg(Command, tag="drop_leg"):
    """Hang up one party's leg (an agent id or an external number)."""

    party: str
    reason: str = ""


class Hold(Command, tag="hold"):
    """Hold (true) or retrieve (false) the caller."""

    held: bool


class TransferOut(Command, tag="transfer"):
    """Blind-transfer the caller to an external number."""

    number: str
    prompt: str = ""


class DialConsult(Command, tag="dial_consult"):
    """Open consult leg `consult_id` from the agent to an external number."""

    consult_id: str
    agent_id: str
    number: str


class Bridge(Command, tag="bridge"):
    """Complete (transfer) or merge (conference) the consult leg into the call."""

    consult_id: str
    conference: bool


class SendDtmf(Command, tag="send_dtmf"):
    """Send DTMF digits on the call."""

    digits: str


class RecordVoicemail(Command, tag="record_voicemail"):
    """Record a message; `voicemail` (or `caller_hangup` with no message) follows."""

    group: str
    prompt: str = ""


class Supervise(Command, tag="supervise"):
    """A supervisor's leg: monitor, whisper, barge, intercept or stop."""

    mode: str
    supervisor: str
    endpoint: str


class Record(Command, tag="record"):
    """Start (true) or stop (false) recording the call."""

    start: bool


class CenterState(Command, tag="center"):
    """The center's state for new calls (`call_id` empty): `draining` means new arrivals are
    refused with `draining` until a server accepts them again (route them elsewhere)."""

    state: str  # "draining" | "open"
    deadline: float | None = None  # epoch seconds by which calls still held are handed back


class HandBack(Command, tag="handback"):
    """The server gives the call back to the switch (the drain timed out); the switch routes it
    elsewhere and sends nothing more about it."""

    reason: str


COMMANDS: tuple[type, ...] = (
    Play,
    Collect,
    Queue,
    Announce,
    Connect,
    DialOut,
    Hangup,
    DropLeg,
    Hold,
    TransferOut,
    DialConsult,
    Bridge,
    SendDtmf,
    RecordVoicemail,
    Supervise,
    Record,
    CenterState,
    HandBack,
)


def as_dict(msg: Any) -> dict[str, Any]:
    """A message as plain data (for logs and docs)."""
    out: dict[str, Any] = msgspec.to_builtins(msg)
    return out
