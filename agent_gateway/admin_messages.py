"""The /admin protocol's messages: one msgspec Struct per request and per push.

Requests carry a client `id` and get exactly one `ok` or `error` reply (agent_gateway.framing).
Pushes carry `seq`, numbered per session. docs/admin-protocol.md documents every message.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from agent_gateway.framing import RequestId

VERSION = 1


class _Req(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    id: RequestId


class Hello(_Req, tag="hello", kw_only=True):
    """The first message: the protocol version the client speaks."""

    version: int


class SignIn(_Req, tag="sign_in", kw_only=True):
    """Sign in as a supervisor or admin (agent credentials are refused)."""

    user: str
    secret: str


class SignOut(_Req, tag="sign_out", kw_only=True):
    """End the session (the server closes the connection after the reply)."""


class Snapshot(_Req, tag="snapshot", kw_only=True):
    """Groups, agents and live calls in scope, now."""


class Subscribe(_Req, tag="subscribe", kw_only=True):
    """Start the wallboard feed: a full `wallboard` push, then `wallboard_delta` pushes."""


class Unsubscribe(_Req, tag="unsubscribe", kw_only=True):
    """Stop the wallboard feed."""


class Supervise(_Req, tag="supervise", kw_only=True):
    """Monitor, whisper, barge into or intercept a call from `endpoint`; `stop` leaves it."""

    call_id: str
    mode: Literal["monitor", "whisper", "barge", "intercept", "stop"]
    endpoint: str = ""


class ForceLogout(_Req, tag="force_logout", kw_only=True):
    """Sign an agent out (deferred until its call work ends)."""

    agent_id: str


class ForceNotReady(_Req, tag="force_not_ready", kw_only=True):
    """Set an agent NOT_READY with a configured reason (pending while it is busy)."""

    agent_id: str
    reason: str


class ForceReady(_Req, tag="force_ready", kw_only=True):
    """Set an agent READY (pending while it is busy)."""

    agent_id: str


class SetSkills(_Req, tag="set_skills", kw_only=True):
    """Change an agent's skills and levels and/or its group order, live."""

    agent_id: str
    skills: dict[str, int] | None = None
    groups: list[str] | None = None


class SendMessage(_Req, tag="send_message", kw_only=True):
    """A text to agents, to a team or to a group (exactly one of the three)."""

    text: str
    agents: list[str] | None = None
    team: str | None = None
    group: str | None = None


class AssignCall(_Req, tag="assign_call", kw_only=True):
    """Hand a waiting call to a named agent: it is offered to that agent next."""

    call_id: str
    agent_id: str


class SetPriority(_Req, tag="set_priority", kw_only=True):
    """Change a waiting call's base priority (its arrival time is kept)."""

    call_id: str
    priority: float


class MoveCall(_Req, tag="move_call", kw_only=True):
    """Move a waiting call to another group, keeping its place."""

    call_id: str
    group: str


class WithdrawCall(_Req, tag="withdraw_call", kw_only=True):
    """Take a waiting call out of the queue to voicemail or to a callback."""

    call_id: str
    to: Literal["voicemail", "callback"]


class PauseGroup(_Req, tag="pause_group", kw_only=True):
    """Drain a group: no new calls; calls already in it are still served."""

    group: str


class ResumeGroup(_Req, tag="resume_group", kw_only=True):
    """Take new calls in a paused group again."""

    group: str


class Reload(_Req, tag="reload", kw_only=True):
    """Admin: reload the configuration (new calls follow it; no call is disturbed)."""


class BlockRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A caller block: a number, or a prefix ending in `*`; why; when it lapses.

    `expires_at` (epoch seconds) or `seconds` from now; the switch link validates the rule.
    """

    pattern: str
    reason: str = ""
    expires_at: float | None = None
    seconds: float | None = None


class AddBlock(_Req, tag="add_block", kw_only=True):
    """Admin: block a caller number or prefix (explicit, audited, expiring)."""

    rule: BlockRule


class RemoveBlock(_Req, tag="remove_block", kw_only=True):
    """Admin: lift a caller block (matched by number or prefix)."""

    rule: BlockRule


class ListBlocks(_Req, tag="list_blocks", kw_only=True):
    """Admin: the caller blocks in force."""


REQUESTS: tuple[type[_Req], ...] = (
    Hello,
    SignIn,
    SignOut,
    Snapshot,
    Subscribe,
    Unsubscribe,
    Supervise,
    ForceLogout,
    ForceNotReady,
    ForceReady,
    SetSkills,
    SendMessage,
    AssignCall,
    SetPriority,
    MoveCall,
    WithdrawCall,
    PauseGroup,
    ResumeGroup,
    Reload,
    AddBlock,
    RemoveBlock,
    ListBlocks,
)

Request = (
    Hello
    | SignIn
    | SignOut
    | Snapshot
    | Subscribe
    | Unsubscribe
    | Supervise
    | ForceLogout
    | ForceNotReady
    | ForceReady
    | SetSkills
    | SendMessage
    | AssignCall
    | SetPriority
    | MoveCall
    | WithdrawCall
    | PauseGroup
    | ResumeGroup
    | Reload
    | AddBlock
    | RemoveBlock
    | ListBlocks
)

# Requests that act (and go to the audit trail, allowed or refused).
ACTIONS: frozenset[str] = frozenset(
    {
        "supervise",
        "force_logout",
        "force_not_ready",
        "force_ready",
        "set_skills",
        "send_message",
        "assign_call",
        "set_priority",
        "move_call",
        "withdraw_call",
        "pause_group",
        "resume_group",
        "reload",
        "add_block",
        "remove_block",
        "list_blocks",
    }
)

# -------------------------------------------------------------------------- pushes


class Wallboard(msgspec.Struct, tag="wallboard", tag_field="type"):
    """The full wallboard of the scope: the first push after `subscribe`."""

    seq: int
    at: float
    groups: dict[str, Any]
    agents: dict[str, Any]


class WallboardDelta(msgspec.Struct, tag="wallboard_delta", tag_field="type"):
    """Rows that changed since the previous push (whole rows), and agents that left view.

    `groups` and `agents` are pre-encoded once per flush and shared by every subscriber.
    """

    seq: int
    at: float
    groups: msgspec.Raw
    agents: msgspec.Raw
    removed: list[str]


# -------------------------------------------------------------------------- client side

PUSH_TYPES = ("wallboard", "wallboard_delta")
