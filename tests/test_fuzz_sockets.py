"""Fuzzing of the /switch and /admin decoders (hypothesis, valid messages as seeds) and a short
socket-level run: malformed and out-of-place frames on the three sockets of a live server while
simulated agents take calls (loadtest/fuzz_sockets.py runs the 100,000-frame version)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_gateway import admin_messages as am
from agent_gateway.framing import Codec, FrameError
from ivr import messages as sm
from loadtest.fuzz_sockets import run

SWITCH: Codec[Any] = Codec(sm.SWITCH_MESSAGES)
ADMIN: Codec[Any] = Codec(am.REQUESTS)
CODES = {"bad_frame", "bad_message", "unknown_type"}

SEEDS: list[dict[str, Any]] = [
    {"type": "hello", "id": 1, "version": 1, "switch": "pbx-1", "token": "t"},
    {"type": "arrived", "id": 2, "call_id": "c1", "caller": "139", "dialed": "10086"},
    {"type": "digits", "id": 3, "call_id": "c1", "digits": "1"},
    {"type": "resync", "id": 4, "calls": [{"call_id": "c1", "state": "queued", "group": "g"}]},
    {"type": "result", "seq": 5, "ok": False, "code": "x"},
    {"type": "hello", "id": 1, "version": 1},
    {"type": "sign_in", "id": 2, "user": "admin", "secret": "s"},
    {"type": "assign_call", "id": 3, "call_id": "c1", "agent_id": "1001"},
    {"type": "set_priority", "id": 4, "call_id": "c1", "priority": 5.0},
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _check(codec: Codec[Any], frame: str | bytes) -> None:
    try:
        codec.decode(frame)
    except FrameError as err:
        assert err.code in CODES


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_switch_and_admin_decoders_take_any_bytes(frame: bytes | str) -> None:
    _check(SWITCH, frame)
    _check(ADMIN, frame)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.dictionaries(st.sampled_from(["type", "id", "call_id", "calls", "seq", "ok", "x"]), VALUES),
    st.lists(st.sampled_from(["type", "id", "call_id", "calls", "version"]), max_size=2),
)
def test_mutated_valid_messages_decode_or_get_a_typed_error(
    seed: dict[str, Any], changes: dict[str, Any], drop: list[str]
) -> None:
    raw = {**seed, **changes}
    for key in drop:
        raw.pop(key, None)
    for codec in (SWITCH, ADMIN):
        try:
            frames: list[str | bytes] = [msgspec.json.encode(raw).decode()]
        except (TypeError, OverflowError, msgspec.EncodeError):
            frames = []
        with contextlib.suppress(TypeError, OverflowError, msgspec.EncodeError):
            frames.append(msgspec.msgpack.encode(raw))
        for frame in frames:
            _check(codec, frame)


def test_bad_frames_on_three_sockets_while_agents_take_calls(tmp_path: Path) -> None:
    r = run(tmp_path, frames=1500, agents=6, rate=5.0, clean=2.0)
    t = r.tally
    assert t.total == 1500 and all(t.sent[k] > 0 for k in ("agent", "admin", "switch"))
    for outcomes in t.outcomes.values():
        assert set(outcomes) <= {"error", "close", "valid_by_chance"}, outcomes
    assert t.codes["internal"] == 0 and t.findings == []
    assert r.alive and r.healthz == 200 and r.violations == [] and r.tracebacks == 0
    assert r.clean_offers + r.fuzz_offers > 0  # the working agents were taking calls
