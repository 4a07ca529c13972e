"""Wire rules: typed decoding with stable error codes, seq and replay, rate limits."""

from __future__ import annotations

import msgspec
import pytest

from agent_gateway.framing import (
    BAD_FRAME,
    BAD_MESSAGE,
    UNKNOWN_TYPE,
    Codec,
    Error,
    FrameError,
    Ok,
    PushLog,
    TokenBucket,
)


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    id: int | str
    n: int = 0


class Echo(msgspec.Struct, tag="echo", tag_field="type"):
    id: int | str
    text: str


codec: Codec[Ping | Echo] = Codec([Ping, Echo])


def test_json_and_msgpack_decode_to_the_same_message() -> None:
    assert codec.decode('{"type":"echo","id":1,"text":"hi"}') == Echo(1, "hi")
    assert codec.decode(msgspec.msgpack.encode({"type": "ping", "id": "a"})) == Ping("a")


@pytest.mark.parametrize(
    ("frame", "code", "rid"),
    [
        ("{nope", BAD_FRAME, None),
        (b"\xc1", BAD_FRAME, None),
        ("[1,2]", BAD_MESSAGE, None),
        ('{"type":"dance","id":7}', UNKNOWN_TYPE, 7),
        ('{"id":7}', UNKNOWN_TYPE, 7),
        ('{"type":"echo","id":8}', BAD_MESSAGE, 8),
        ('{"type":"echo","id":9,"text":5}', BAD_MESSAGE, 9),
    ],
)
def test_bad_frames_get_stable_codes_and_keep_the_request_id(
    frame: str | bytes, code: str, rid: int | None
) -> None:
    with pytest.raises(FrameError) as err:
        codec.decode(frame)
    assert err.value.code == code
    assert err.value.reply() == Error(rid, code, err.value.message)


def test_replies_encode_in_both_forms() -> None:
    assert codec.encode(Ok(1, {"x": 1}), binary=False) == b'{"type":"ok","id":1,"result":{"x":1}}'
    assert msgspec.msgpack.decode(codec.encode(Error(2, "c", "m"), binary=True)) == {
        "type": "error", "id": 2, "code": "c", "message": "m",
    }  # fmt: skip


def test_push_log_replays_or_reports_a_gap() -> None:
    log = PushLog(3)
    for i in range(5):
        log.keep(log.next(), f"p{i + 1}")
    assert log.since(5) == []
    assert log.since(3) == ["p4", "p5"]
    assert log.since(2) == ["p3", "p4", "p5"]
    assert log.since(1) is None  # p2 is gone: the client needs a snapshot


def test_token_bucket() -> None:
    b = TokenBucket(rate=10, burst=5, now=0.0)
    assert all(b.allow(0.0) for _ in range(5))
    assert not b.allow(0.0)
    assert b.allow(0.1)
