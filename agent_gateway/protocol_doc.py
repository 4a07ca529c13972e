"""`docs/protocol.md`, generated from the message Structs of `agent_gateway.messages`.

    python -m agent_gateway.protocol_doc > docs/protocol.md

A test regenerates it and fails when the file and the code disagree. Example exchanges are
built from the Structs too, so every example is a message the server would accept or send.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import msgspec

from agent_gateway import framing as f
from agent_gateway import messages as m


def _type_name(t: Any) -> str:
    text = repr(t) if not isinstance(t, type) else t.__name__
    return (
        text.replace("typing.", "")
        .replace("agent_gateway.messages.", "")
        .replace("agent_gateway.framing.", "")
        .replace("NoneType", "null")
        .replace("<class '", "")
        .replace("'>", "")
    )


def _fields(cls: type[msgspec.Struct]) -> list[str]:
    rows = []
    hints = msgspec.structs.fields(cls)
    for fld in hints:
        if fld.name in ("seq", "at") and issubclass(cls, m.Push):
            continue
        if fld.default is not msgspec.NODEFAULT:
            default = msgspec.json.encode(fld.default).decode()
        elif fld.default_factory is not msgspec.NODEFAULT:
            default = msgspec.json.encode(fld.default_factory()).decode()
        else:
            default = "required"
        rows.append(f"| `{fld.name}` | `{_type_name(fld.type)}` | {default} |")
    return rows


def _section(cls: type[msgspec.Struct]) -> list[str]:
    tag = cls.__struct_config__.tag
    doc = " ".join((inspect.getdoc(cls) or "").split())
    out = [f"### `{tag}`", "", doc, ""]
    rows = _fields(cls)
    if rows:
        out += ["| field | type | default |", "| --- | --- | --- |", *rows, ""]
    return out


def _struct(cls: type[msgspec.Struct]) -> list[str]:
    doc = " ".join((inspect.getdoc(cls) or "").split())
    return [
        f"### {cls.__name__}",
        "",
        doc,
        "",
        "| field | type | default |",
        "| --- | --- | --- |",
        *_fields(cls),
        "",
    ]


def _json(msg: Any) -> str:
    return msgspec.json.encode(msg).decode()


POP = m.ScreenPop(
    caller="13812345678",
    dialed="10086",
    brand="gotone",
    vip=2,
    city="nanjing",
    attributes={"city": "nanjing"},
    ivr_path=["main", "billing"],
    inputs={"menu": "2"},
    customer={"name": "Li Wei", "plan": "GoTone 128"},
    recent_contacts=[{"call_id": "k-88", "at": 1767225000.0, "cause": "completed"}],
    kind="inbound",
    waited=12.4,
)


def _offer(seq: int, call_id: str = "c-1001") -> m.Offer:
    return m.Offer(
        seq=seq, at=1767225600.0, call_id=call_id, group="vip-gotone", ring_seconds=15.0,
        ring_deadline=1767225615.0, screen=POP,
    )  # fmt: skip


def _state(seq: int, old: str, new: str, **kw: Any) -> m.StateChanged:
    return m.StateChanged(seq=seq, at=1767225600.0 + seq, old=old, state=new, **kw)


def _call(seq: int, event: str, agents: list[str], **kw: Any) -> m.CallChanged:
    kw.setdefault("external", [])
    kw.setdefault("held", False)
    return m.CallChanged(
        seq=seq, at=1767225600.0 + seq, call_id="c-1001", event=event, agents=agents, **kw
    )


# (title, [(direction, message)]) — "→" client to server, "←" server to client.
FLOWS: list[tuple[str, list[tuple[str, Any]]]] = [
    (
        "Sign in",
        [
            ("→", m.Hello(id=1, version=m.VERSION, client="my-desktop")),
            ("←", f.Ok(1, m.HelloResult(m.PROTOCOL, m.VERSION, "acd 0.1.0", 20.0))),
            ("→", m.SignIn(id=2, agent_id="3001", secret="demo-3001", endpoint="sip:3001@desk-12")),
            ("←", _state(1, "logged_out", "not_ready", reason="login")),
            ("←", f.Ok(2, {"agent_id": "3001", "token": "…", "resume_grace": 60.0, "seq": 1,
                           "resumed": False, "replayed": 0, "snapshot": "{…}"})),
            ("→", m.Ready(id=3)),
            ("←", _state(2, "not_ready", "ready")),
            ("←", f.Ok(3)),
        ],
    ),
    (
        "Offer, accept, talk, hang up, wrap-up",
        [
            ("←", _offer(3)),
            ("→", m.Accept(id=4, call_id="c-1001")),
            ("←", m.OfferEnded(seq=4, at=1767225603.0, call_id="c-1001", result="accepted")),
            ("←", f.Ok(4)),
            ("←", _state(5, "reserved", "on_call", call_id="c-1001")),
            ("←", _call(6, "connected", ["3001"])),
            ("→", m.Hangup(id=5, call_id="c-1001")),
            ("←", f.Ok(5)),
            ("←", m.CallEnded(seq=7, at=1767225700.0, call_id="c-1001", cause="completed",
                              by="3001")),
            ("←", _state(8, "on_call", "wrap_up", call_id="c-1001")),
            ("←", m.WrapUpStarted(seq=9, at=1767225700.0, call_id="c-1001", group="vip-gotone",
                                  mode="timed", deadline=1767225730.0)),
            ("→", m.WrapUpCode(id=6, code="inquiry", finish=True)),
            ("←", m.WrapUpEnded(seq=10, at=1767225712.0, call_id="c-1001", code="inquiry",
                                seconds=12.0)),
            ("←", _state(11, "wrap_up", "ready")),
            ("←", f.Ok(6)),
        ],
    ),
    (
        "Ring timeout (RONA): the call keeps its place, the agent goes not ready",
        [
            ("←", _offer(12, "c-1002")),
            ("←", m.OfferEnded(seq=13, at=1767225815.0, call_id="c-1002", result="timeout")),
            ("←", _state(14, "reserved", "not_ready", reason="no-answer", call_id="c-1002")),
        ],
    ),
    (
        "Hold and retrieve (state changes when the switch confirms)",
        [
            ("→", m.Hold(id=7, call_id="c-1001")),
            ("←", f.Ok(7)),
            ("←", _call(15, "held", ["3001"], held=True)),
            ("→", m.Retrieve(id=8, call_id="c-1001")),
            ("←", f.Ok(8)),
            ("←", _call(16, "retrieved", ["3001"])),
        ],
    ),
    (
        "Blind transfer to a group, and consult transfer to an agent",
        [
            ("→", m.Transfer(id=9, call_id="c-1001", target=m.Target("group", "general"))),
            ("←", f.Ok(9)),
            ("←", _state(17, "on_call", "wrap_up", call_id="c-1001")),
            ("←", _call(18, "left", [])),
            ("→", m.ConsultStart(id=10, call_id="c-1003", target=m.Target("agent", "3002"))),
            ("←", f.Ok(10, {"consult_id": "c-1003#c1"})),
            ("→", m.ConsultComplete(id=11, call_id="c-1003")),
            ("←", f.Ok(11)),
        ],
    ),
    (
        "Conference: call a party to join, drop it",
        [
            ("→", m.ConferenceAdd(id=12, call_id="c-1001",
                                  target=m.Target("external", "13900000000"))),
            ("←", f.Ok(12, {"consult_id": "c-1001#c2"})),
            ("←", _call(19, "conference", ["3001"], external=["13900000000"])),
            ("→", m.ConferenceDrop(id=13, call_id="c-1001", party="13900000000")),
            ("←", f.Ok(13)),
            ("←", _call(20, "party_left", ["3001"])),
        ],
    ),
    (
        "A supervisor forces a state; a broadcast message",
        [
            ("←", _state(21, "ready", "not_ready", reason="meeting", actor="sup-north")),
            ("←", m.Message(seq=22, at=1767226000.0, sender="sup-north", text="Meeting at 3")),
        ],
    ),
    (
        "Resume after a lost connection",
        [
            ("→", m.Hello(id=1, version=m.VERSION)),
            ("←", f.Ok(1, m.HelloResult(m.PROTOCOL, m.VERSION, "acd 0.1.0", 20.0))),
            ("→", m.Resume(id=2, token="…", last_seq=20)),
            ("←", f.Ok(2, {"agent_id": "3001", "token": "…", "resume_grace": 60.0, "seq": 22,
                           "resumed": True, "replayed": 2, "snapshot": None})),
            ("←", _state(21, "ready", "not_ready", reason="meeting", actor="sup-north")),
            ("←", m.Message(seq=22, at=1767226000.0, sender="sup-north", text="Meeting at 3")),
        ],
    ),
    (
        "Errors",
        [
            ("→", m.Accept(id=14, call_id="c-9999")),
            ("←", f.Error(14, "unknown_call", "no live call 'c-9999'", {"call_id": "c-9999"})),
            ("→", m.Hangup(id=15, call_id="c-2002")),
            ("←", f.Error(15, "forbidden", "call c-2002 is not agent 3001's",
                          {"call_id": "c-2002"})),
        ],
    ),
]  # fmt: skip

HEAD = f"""# The agent softphone protocol (`/agent`, {m.PROTOCOL} version {m.VERSION})

Generated from `agent_gateway/messages.py` by `python -m agent_gateway.protocol_doc`; a test
fails when this file and the code disagree.

## Framing
- A websocket on `ws://HOST:PORT/agent`. Binary frames carry MessagePack, text frames the same
  messages as JSON; the server answers in the encoding of the client's `hello`.
- Every message is an object with a `type`. Requests carry a client `id` (integer or string)
  and get exactly one reply: `{{"type": "ok", "id": ..., "result": ...}}` or
  `{{"type": "error", "id": ..., "code": "...", "message": "...", "details": {{...}}}}`.
  The reply to a request comes after the pushes the request caused.
- Every push carries `seq` (numbered per session from 1) and `at` (epoch seconds when it
  happened in the core).
- First `hello` with the protocol version, then `sign_in` (or `resume`) within
  [server] `hello_timeout` seconds, else the connection is closed with 4004.
- Requests act on the signed-in agent. A request naming another agent in `agent_id`, or a call
  the agent is not on or offered, is refused with `forbidden` and changes nothing.
- Call control (`hangup`, `hold`, `transfer`...) becomes a command on the switch link; the
  `call` and `state` pushes follow when the switch confirms.

## Sessions
- One live session per agent. A second sign-in **takes over** by default: the first
  connection gets a `closing` push and a close with code 4002; with [server]
  `second_sign_in = "refuse"` the second sign-in gets `already_signed_in` instead.
- Secrets are checked against salted scrypt hashes ([credentials.agents]); failed sign-ins are
  throttled per agent and per address (`throttled`, with `retry_after` seconds).
- A lost connection (closed, or no pong to the server's pings): READY becomes NOT_READY
  `disconnected`, a ringing offer goes back to the queue (`offer_ended` result `timeout`,
  reason `disconnected`), a call in progress stays up; a not-ready agent's reason shows
  `disconnected` until it resumes (its reason is then restored).
- `resume` with the token of `sign_in` and the last `seq` seen within [server] `resume_grace`
  seconds: the reply comes first, then the missed pushes with their original `seq`. When the
  bounded replay buffer ([server] `replay_buffer`) no longer holds them, the reply carries a
  full `snapshot` instead and pushes continue after its `seq`. Past the grace period the agent
  is signed out (after its call; [agent_gateway] `sign_out_after_grace`).
- `sign_out` (or a supervisor's forced sign-out) ends the session: close 1000 (4003 when
  forced, with who did it in the reason).

## Errors and closes
| code | meaning |
| --- | --- |
| `bad_frame` | not MessagePack / JSON |
| `bad_message` | missing or mistyped fields (the request `id` is echoed when readable) |
| `unknown_type` | no such message type |
| `hello_required` | a request before `hello` |
| `unsupported_version` | `hello` with another protocol version (`details.version`) |
| `unauthenticated` | a request before `sign_in` |
| `bad_credentials` | unknown agent or wrong secret |
| `throttled` | too many failed sign-ins (`details.retry_after`) |
| `already_signed_in` | second sign-in refused by config |
| `draining` | the server is draining: a signed-out agent cannot sign in (one still signed in can) |
| `resume_failed` | unknown or expired session token |
| `rate_limited` | over [server] `rate_per_second` / `rate_burst`; flooding on: close 1008 |
| `wrong_state` | a second `hello` on the connection, or refused by the core; nothing changed |
| `unknown_call`, `unknown_reason` | refused by the core; nothing changed |
| `unknown_agent`, `unknown_group`, `not_available` | refused by the core; nothing changed |
| `wrapup_code_required`, `forbidden` | refused by the core; nothing changed |

Closes: 1008 flood, 1009 frame over [server] `max_frame_bytes`, 4001 the client stopped
reading (its send buffer of [server] `send_queue_frames` filled), 4002 taken over, 4003
signed out by a supervisor or disconnected by one, 4004 no sign-in in time, 1001 server
shutting down.
"""


def render() -> str:
    """The whole document."""
    out = [HEAD, "## Requests", ""]
    cls: type[msgspec.Struct]
    for cls in m.REQUESTS:
        out += _section(cls)
    out += ["## Replies", ""]
    for cls in (f.Ok, f.Error):
        out += _section(cls)
    out += ["## Results", ""]
    for cls in (m.HelloResult, m.SignInResult, m.SnapshotResult, m.CallView, m.GroupView,
                m.WrapUpView, m.Counters, m.Target, m.ScreenPop):  # fmt: skip
        out += _struct(cls)
    out += ["## Pushes", ""]
    for cls in m.PUSHES:
        out += _section(cls)
    out += ["## Example exchanges (JSON text frames)", ""]
    for title, steps in FLOWS:
        out += [f"### {title}", "", "```"]
        out += [f"{d} {_json(msg)}" for d, msg in steps]
        out += ["```", ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    """Print the document."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
