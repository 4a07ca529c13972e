"""Agent states and the one table of their transitions.

Rules:
- Every agent state change goes through `transition()`; nothing else assigns a state.
- A trigger absent from the table for the current state is illegal: `IllegalTransition` is
  raised and nothing changes.
- `DEFER` means the request is remembered as the agent's pending state (CSTA's pending agent
  state) and applied when the current call work ends.
- Hold is a flag of ON_CALL, not a state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from acd.errors import IllegalTransition


class AgentState(StrEnum):
    """What an agent is doing, as the supervisor and the agent see it."""

    LOGGED_OUT = "logged_out"
    NOT_READY = "not_ready"
    READY = "ready"
    RESERVED = "reserved"  # an offer is ringing, or accepted and being connected
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class Trigger(StrEnum):
    """What can happen to an agent."""

    LOGIN = "login"
    LOGOUT = "logout"
    READY = "ready"
    NOT_READY = "not_ready"
    OFFER = "offer"  # the engine reserves the agent for a call
    ANSWERED = "answered"  # the switch connected the agent's leg
    REJECT = "reject"
    REJECT_LIMIT = "reject_limit"  # a reject that reached the group's consecutive-miss limit
    RING_TIMEOUT = "ring_timeout"
    WITHDRAW = "withdraw"  # the caller hung up or a supervisor took the call back
    CONNECT_FAILED = "connect_failed"
    CALL_END = "call_end"  # the agent's last call ended; wrap-up follows
    CALL_END_NO_WRAP = "call_end_no_wrap"  # ... in a group without wrap-up
    WRAP_DONE = "wrap_done"
    DISCONNECT = "disconnect"  # the desktop's connection was lost
    RESTORE = "restore"  # resync found the agent connected to a call


class _Defer:
    """Marker: keep the state, remember the request as pending."""

    def __repr__(self) -> str:
        return "DEFER"


DEFER: Final = _Defer()
Moves = dict[Trigger, AgentState | _Defer]  # one state's row of the table: trigger -> result

S = AgentState
T = Trigger

# (state, trigger) -> next state, or DEFER.
TRANSITIONS: Final[dict[tuple[AgentState, Trigger], AgentState | _Defer]] = {
    (S.LOGGED_OUT, T.LOGIN): S.NOT_READY,
    (S.NOT_READY, T.READY): S.READY,
    (S.NOT_READY, T.NOT_READY): S.NOT_READY,  # change of reason
    (S.NOT_READY, T.LOGOUT): S.LOGGED_OUT,
    (S.NOT_READY, T.DISCONNECT): S.NOT_READY,
    (S.READY, T.READY): S.READY,
    (S.READY, T.NOT_READY): S.NOT_READY,
    (S.READY, T.LOGOUT): S.LOGGED_OUT,
    (S.READY, T.OFFER): S.RESERVED,
    (S.READY, T.DISCONNECT): S.NOT_READY,
    (S.RESERVED, T.ANSWERED): S.ON_CALL,
    (S.RESERVED, T.REJECT): S.READY,
    (S.RESERVED, T.REJECT_LIMIT): S.NOT_READY,
    (S.RESERVED, T.RING_TIMEOUT): S.NOT_READY,
    (S.RESERVED, T.WITHDRAW): S.READY,
    (S.RESERVED, T.CONNECT_FAILED): S.NOT_READY,
    (S.RESERVED, T.DISCONNECT): S.NOT_READY,
    (S.RESERVED, T.READY): DEFER,
    (S.RESERVED, T.NOT_READY): DEFER,
    (S.RESERVED, T.LOGOUT): DEFER,
    (S.ON_CALL, T.CALL_END): S.WRAP_UP,
    (S.ON_CALL, T.CALL_END_NO_WRAP): S.READY,
    (S.ON_CALL, T.READY): DEFER,
    (S.ON_CALL, T.NOT_READY): DEFER,
    (S.ON_CALL, T.LOGOUT): DEFER,
    (S.ON_CALL, T.DISCONNECT): S.ON_CALL,  # the call stays up
    (S.WRAP_UP, T.WRAP_DONE): S.READY,
    (S.WRAP_UP, T.READY): S.READY,  # finishing wrap-up early
    (S.WRAP_UP, T.NOT_READY): S.NOT_READY,
    (S.WRAP_UP, T.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, T.DISCONNECT): S.WRAP_UP,
    (S.LOGGED_OUT, T.RESTORE): S.ON_CALL,
    (S.NOT_READY, T.RESTORE): S.ON_CALL,
    (S.READY, T.RESTORE): S.ON_CALL,
    (S.ON_CALL, T.RESTORE): S.ON_CALL,
    (S.WRAP_UP, T.RESTORE): S.ON_CALL,
}

# The same table by state, then trigger: what the engine reads on every change (two lookups
# by member, no key tuple to build and hash).
BY_STATE: Final[dict[AgentState, Moves]] = {
    state: {t: r for (st, t), r in TRANSITIONS.items() if st is state} for state in AgentState
}

# States in which the agent is signed in and working on a contact.
BUSY: Final = frozenset({S.RESERVED, S.ON_CALL})
SIGNED_IN: Final = frozenset(set(AgentState) - {S.LOGGED_OUT})


def transition(state: AgentState, trigger: Trigger) -> AgentState | _Defer:
    """The next state for `trigger` in `state`, DEFER, or IllegalTransition."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(
            f"{trigger.value} is not allowed while {state.value}", state=state.value
        ) from None


def is_deferred(result: AgentState | _Defer) -> bool:
    """True when `transition` asked to keep the state and remember the request."""
    return result is DEFER
