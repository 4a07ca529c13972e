"""The agent state table: every (state, trigger) pair, legal and illegal."""

from __future__ import annotations

import pytest

from acd.errors import IllegalTransition
from acd.states import DEFER, TRANSITIONS, AgentState, Trigger, is_deferred, transition

S, T = AgentState, Trigger

LEGAL = [
    (S.LOGGED_OUT, T.LOGIN, S.NOT_READY),
    (S.NOT_READY, T.READY, S.READY),
    (S.NOT_READY, T.NOT_READY, S.NOT_READY),
    (S.NOT_READY, T.LOGOUT, S.LOGGED_OUT),
    (S.READY, T.NOT_READY, S.NOT_READY),
    (S.READY, T.LOGOUT, S.LOGGED_OUT),
    (S.READY, T.OFFER, S.RESERVED),
    (S.READY, T.DISCONNECT, S.NOT_READY),
    (S.RESERVED, T.ANSWERED, S.ON_CALL),
    (S.RESERVED, T.REJECT, S.READY),
    (S.RESERVED, T.REJECT_LIMIT, S.NOT_READY),
    (S.RESERVED, T.RING_TIMEOUT, S.NOT_READY),
    (S.RESERVED, T.WITHDRAW, S.READY),
    (S.RESERVED, T.CONNECT_FAILED, S.NOT_READY),
    (S.RESERVED, T.DISCONNECT, S.NOT_READY),
    (S.RESERVED, T.READY, DEFER),
    (S.RESERVED, T.NOT_READY, DEFER),
    (S.RESERVED, T.LOGOUT, DEFER),
    (S.ON_CALL, T.CALL_END, S.WRAP_UP),
    (S.ON_CALL, T.CALL_END_NO_WRAP, S.READY),
    (S.ON_CALL, T.READY, DEFER),
    (S.ON_CALL, T.NOT_READY, DEFER),
    (S.ON_CALL, T.LOGOUT, DEFER),
    (S.ON_CALL, T.DISCONNECT, S.ON_CALL),
    (S.WRAP_UP, T.WRAP_DONE, S.READY),
    (S.WRAP_UP, T.READY, S.READY),
    (S.WRAP_UP, T.NOT_READY, S.NOT_READY),
    (S.WRAP_UP, T.LOGOUT, S.LOGGED_OUT),
    (S.LOGGED_OUT, T.RESTORE, S.ON_CALL),
    (S.WRAP_UP, T.RESTORE, S.ON_CALL),
]


@pytest.mark.parametrize(("state", "trigger", "expected"), LEGAL)
def test_legal_transitions(state: AgentState, trigger: Trigger, expected: object) -> None:
    assert transition(state, trigger) is expected


ILLEGAL = [(s, t) for s in AgentState for t in Trigger if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL)
def test_illegal_transitions_raise(state: AgentState, trigger: Trigger) -> None:
    with pytest.raises(IllegalTransition) as err:
        transition(state, trigger)
    assert err.value.code == "wrong_state"
    assert state.value in err.value.message


def test_some_illegal_pairs_are_what_an_operator_expects() -> None:
    for state, trigger in [
        (S.LOGGED_OUT, T.READY),
        (S.LOGGED_OUT, T.OFFER),
        (S.ON_CALL, T.OFFER),
        (S.RESERVED, T.OFFER),
        (S.WRAP_UP, T.OFFER),
        (S.NOT_READY, T.OFFER),
        (S.READY, T.LOGIN),
        (S.ON_CALL, T.LOGIN),
    ]:
        assert (state, trigger) in ILLEGAL


def test_every_state_can_be_left_and_deferred_requests_only_while_working() -> None:
    for (state, trigger), target in TRANSITIONS.items():
        if is_deferred(target):
            assert state in (S.RESERVED, S.ON_CALL)
            assert trigger in (T.READY, T.NOT_READY, T.LOGOUT)
    sources = {s for s, _ in TRANSITIONS}
    assert sources == set(AgentState)
