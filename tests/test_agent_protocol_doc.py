"""docs/protocol.md is what the code's own message schemas say."""

from __future__ import annotations

from pathlib import Path

import msgspec

from agent_gateway import messages as m
from agent_gateway.framing import Codec, Error, Ok
from agent_gateway.protocol_doc import FLOWS, render

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def test_protocol_doc_matches_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/protocol.md drifted: run `python -m agent_gateway.protocol_doc > docs/protocol.md`"
    )


def test_every_message_type_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for cls in (*m.REQUESTS, *m.PUSHES):
        assert f"### `{cls.__struct_config__.tag}`" in text


def test_example_requests_decode_and_pushes_roundtrip() -> None:
    codec: Codec[m.AnyRequest] = Codec(m.REQUESTS)
    pushes = msgspec.json.Decoder(m.AnyPush | Ok | Error)
    for _title, steps in FLOWS:
        for direction, msg in steps:
            frame = msgspec.json.encode(msg)
            if direction == "→":
                assert codec.decode(frame.decode()) == msg
            else:
                pushes.decode(frame)
