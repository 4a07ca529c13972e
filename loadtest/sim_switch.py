"""A simulated switch: plays callers over the real `/switch` protocol.

Use it as a library (tests, the demo, the load-test simulator) or run it:

    python -m loadtest.sim_switch --url ws://127.0.0.1:8765/switch --rate 5 --duration 60

`SimSwitch` connects, says hello, resyncs the calls it holds (on every (re)connect), and then
behaves like a media layer with callers on it: it answers every command with `result`, plays
prompts (reporting `prompt_done` after `prompt_seconds`), answers collects with digits from a
`Caller` script, waits in queue with a patience and hangs up when it runs out, connects agent
legs (`agent_answered`), talks for a handle time then hangs up, records voicemails and
recordings as references, answers dial-outs with a probability, and keeps hold / transfer /
conference / supervision state. No audio. It is light: one process drives hundreds of calls a
second (timers are `loop.call_later`, frames are MessagePack).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

import msgspec

from agent_gateway.framing import Error, Ok
from ivr import messages as m
from loadtest.lean_ws import CallbackSocket


@dataclass(slots=True)
class SimCall:
    """One call as the simulated switch holds it."""

    id: str
    caller: str
    dialed: str
    arrived_at: float
    state: str = "ivr"  # ivr | queued | connected | survey | ended
    flow: str = ""
    node: str = ""
    group: str = ""
    priority: float | None = None
    queued_at: float | None = None
    agent_id: str = ""
    answered_at: float | None = None
    held: bool = False
    kind: str = "inbound"
    brand: str = ""
    vip: int = 0
    attributes: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)
    announcements: int = 0
    position: int = 0  # the last announcement's place in the queue (1 = next)
    wait: float | None = None  # and its estimated wait (None: none was given)
    end_reason: str = ""
    survey: str = ""
    patience: asyncio.TimerHandle | None = None
    talk: asyncio.TimerHandle | None = None
    done: asyncio.Future[str] | None = None


@dataclass(slots=True)
class Caller:
    """How simulated callers behave (all times in seconds)."""

    # prompt id -> digits to key (None: say nothing, let the collect time out)
    keys: dict[str, str | None] = field(
        default_factory=lambda: {
            "main-menu": "0",
            "pin": "123456#",
            "callback-offer": "2",
            "after-self-service": "0",
        }
    )
    survey: str = "1"  # the score a caller gives ("" to stay silent)
    patience: float = 0.0  # mean of an exponential patience in queue; 0 = never hang up
    talk: float = 0.0  # mean talk time once an agent answers; 0 = leave it to the agent
    prompt_seconds: float = 0.0  # how long a prompt plays
    answer_probability: float = 1.0  # dial-outs (callbacks) the customer answers
    voicemail_ref: str = "vm://{call}"
    digits_for: Callable[[SimCall, m.Collect], str | None] | None = None


_CALL_FREE = (m.Supervise, m.Record, m.SendDtmf, m.Hangup, m.DropLeg, m.CenterState, m.HandBack)
_DECODE = Union[Ok, Error, *m.COMMANDS]  # type: ignore[valid-type]


class SimSwitch:
    """A switch-link client playing callers; see the module docstring."""

    def __init__(
        self,
        url: str,
        switch_id: str = "pbx-1",
        token: str = "demo-pbx-1",
        *,
        caller: Caller | None = None,
        seed: int = 0,
        binary: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.switch_id = switch_id
        self.token = token
        self.caller = caller or Caller()
        self.rng = random.Random(seed)
        self.binary = binary
        self.clock = clock
        self.calls: dict[str, SimCall] = {}
        self.ended: dict[str, SimCall] = {}
        self.ws: CallbackSocket | None = None
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._sent_at: dict[int, float] = {}
        self.rtts: list[float] = []  # request -> reply seconds
        self.errors: list[Error] = []
        self.commands: dict[str, int] = {}
        self.resync_result: dict[str, Any] | None = None
        self.center = "open"  # what the server's last `center` command said
        self.refused: dict[str, int] = {}  # arrivals refused, by error code
        self._arrivals: dict[int, str] = {}  # request id -> call id, until the reply
        self._enc = msgspec.msgpack.Encoder() if binary else msgspec.json.Encoder()
        self._dec: Any = (
            msgspec.msgpack.Decoder(_DECODE) if binary else msgspec.json.Decoder(_DECODE)
        )
        self.closed = asyncio.Event()
        self.mute: set[str] = set()  # command types left unanswered (tests)
        self.refuse: set[str] = set()  # command types answered with a failure (tests)
        self.on_command: Callable[[SimCall | None, Any], None] | None = None
        self._handlers: dict[type, Callable[[SimCall, Any], None]] = {
            m.Play: self._play,
            m.Collect: self._collect,
            m.Queue: self._queue,
            m.Announce: self._announce,
            m.Connect: self._connect,
            m.DialOut: self._dial_out,
            m.Hangup: self._hangup,
            m.DropLeg: self._drop_leg,
            m.Hold: self._hold,
            m.TransferOut: self._transfer,
            m.DialConsult: self._dial_consult,
            m.Bridge: self._bridge,
            m.RecordVoicemail: self._record_voicemail,
        }

    # ---------------------------------------------------------------- connection

    async def connect(self, *, resync: bool = True) -> dict[str, Any]:
        """Connect, say hello and (by default) resync; returns the hello result."""
        self.closed.clear()
        ws = CallbackSocket(self._frame, self._lost)
        await ws.open(self.url, max_size=2**22)
        self.ws = ws
        hello = await self.request(m.Hello(0, m.VERSION, self.switch_id, self.token))
        if resync:
            self.resync_result = await self.resync()
        result: dict[str, Any] = hello
        return result

    async def resync(self) -> dict[str, Any]:
        """Report every call held (what a switch does after every (re)connect)."""
        held = [self.held(c) for c in self.calls.values() if c.state != "ended"]
        result: dict[str, Any] = await self.request(m.Resync(0, held))
        return result

    def unanswered(self) -> set[str]:
        """Calls whose `arrived` got no reply yet (the server may never have seen them)."""
        return set(self._arrivals.values())

    def held(self, c: SimCall) -> m.HeldCall:
        """A call as a resync reports it."""
        return m.HeldCall(
            call_id=c.id,
            caller=c.caller,
            dialed=c.dialed,
            arrived_at=c.arrived_at,
            state="ivr" if c.state == "survey" else c.state,
            flow=c.flow,
            node=c.node,
            group=c.group,
            priority=c.priority,
            queued_at=c.queued_at,
            agent_id=c.agent_id,
            answered_at=c.answered_at,
            held=c.held,
            brand=c.brand,
            vip=c.vip,
            attributes=c.attributes,
            path=c.path,
            inputs=c.inputs,
            kind=c.kind,
        )

    async def close(self) -> None:
        """Close the connection (the calls stay held, as on a network failure)."""
        ws = self.ws
        if ws is not None:
            await ws.close()
            if ws.closed is not None:
                await ws.closed

    def _lost(self) -> None:
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(ConnectionError("switch link closed"))
        self._replies.clear()
        for c in self.calls.values():
            self._cancel(c)
        self.closed.set()

    def _frame(self, frame: str | bytes) -> None:
        msg = self._dec.decode(frame)
        t = type(msg)
        if t is Ok or t is Error:
            rid = msg.id
            fut = self._replies.pop(rid, None) if isinstance(rid, int) else None
            sent = self._sent_at.pop(rid, None) if isinstance(rid, int) else None
            if sent is not None:
                self.rtts.append(time.perf_counter() - sent)
            arrival = self._arrivals.pop(rid, None) if isinstance(rid, int) else None
            if t is Error:
                self.errors.append(msg)
                if arrival is not None and arrival in self.calls:
                    self.refused[msg.code] = self.refused.get(msg.code, 0) + 1
                    self._end(self.calls[arrival], f"refused:{msg.code}")
            if fut is not None and not fut.done():
                if t is Ok:
                    fut.set_result(msg.result)
                else:
                    fut.set_exception(SwitchError(msg.code, msg.message))
            return
        name = msg.__struct_config__.tag
        self.commands[name] = self.commands.get(name, 0) + 1
        call = self.calls.get(msg.call_id)
        if t is m.CenterState:
            self.center = msg.state
        elif t is m.HandBack and call is not None:
            self._end(call, "handback")
        if self.on_command is not None:
            self.on_command(call, msg)
        if name in self.mute:
            return  # as a switch that never answers
        if name in self.refuse:
            self._send(m.Result(msg.seq, False, "refused", f"{name} refused"))
            return
        handler = self._handlers.get(t)
        ok = True
        if t is m.DialOut:
            self._dial_out(call, msg)
        elif handler is not None and call is not None:
            handler(call, msg)
        elif call is None and t not in _CALL_FREE:
            ok = False  # a call this switch does not hold
        self._send(m.Result(msg.seq, ok, "" if ok else "unknown_call"))

    def _send(self, msg: Any) -> None:
        """Send a frame without awaiting: every frame of a loop turn leaves in one write at
        the end of the turn, in order (`loadtest.lean_ws`)."""
        ws = self.ws
        if ws is not None:
            ws.send_frame(self._enc.encode(msg), text=not self.binary)

    def send(self, msg: m.Request) -> int:
        """Send a request without waiting for its reply; returns its id."""
        rid = next(self._ids)
        msg.id = rid
        self._sent_at[rid] = time.perf_counter()
        self._send(msg)
        return rid

    async def request(self, msg: m.Request, timeout: float = 10.0) -> Any:
        """Send a request and wait for its reply (SwitchError on an error reply)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        rid = self.send(msg)
        self._replies[rid] = fut
        return await asyncio.wait_for(fut, timeout)

    # ---------------------------------------------------------------- callers

    def new_call(self, caller: str, dialed: str = "10086", call_id: str | None = None) -> SimCall:
        """Originate a call: report `arrived` (reply not awaited)."""
        cid = call_id or f"{self.switch_id}-{next(self._call_ids)}"
        c = SimCall(cid, caller, dialed, self.clock())
        c.done = asyncio.get_running_loop().create_future()
        self.calls[cid] = c
        rid = self.send(m.Arrived(0, cid, caller, dialed, "", c.arrived_at))
        self._arrivals[rid] = cid
        return c

    async def place(
        self, caller: str, dialed: str = "10086", call_id: str | None = None
    ) -> SimCall:
        """Originate a call and wait for the server to accept it."""
        cid = call_id or f"{self.switch_id}-{next(self._call_ids)}"
        c = SimCall(cid, caller, dialed, self.clock())
        c.done = asyncio.get_running_loop().create_future()
        self.calls[cid] = c
        await self.request(m.Arrived(0, cid, caller, dialed, "", c.arrived_at))
        return c

    def hang_up(self, c: SimCall) -> None:
        """The caller hangs up."""
        if c.state == "ended":
            return
        self.send(m.CallerHangup(0, c.id))
        self._end(c, "caller")

    def agent_hangs_up(self, c: SimCall) -> None:
        """The agent's leg ends (as when the agent hangs up on the phone)."""
        if c.state == "connected" and c.agent_id:
            self.send(m.AgentHangup(0, c.id, c.agent_id))

    def _end(self, c: SimCall, reason: str) -> None:
        c.state = "ended"
        c.end_reason = reason
        self._cancel(c)
        self.calls.pop(c.id, None)
        self.ended[c.id] = c
        if c.done is not None and not c.done.done():
            c.done.set_result(reason)

    def _cancel(self, c: SimCall) -> None:
        for h in (c.patience, c.talk):
            if h is not None:
                h.cancel()
        c.patience = c.talk = None

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(delay, fn, *args)

    # ---------------------------------------------------------------- commands

    def _where(self, c: SimCall, cmd: m.Play | m.Collect) -> None:
        c.prompts.append(cmd.prompt)
        if cmd.node:
            c.flow, c.node = cmd.flow, cmd.node
            if not c.path or c.path[-1] != cmd.node:
                c.path.append(cmd.node)

    def _play(self, c: SimCall, cmd: m.Play) -> None:
        self._where(c, cmd)
        delay = self.caller.prompt_seconds
        if delay > 0:
            self._later(delay, self._prompt_done, c)
        else:
            self._prompt_done(c)

    def _prompt_done(self, c: SimCall) -> None:
        if c.state in ("ivr", "survey"):
            self.send(m.PromptDone(0, c.id))

    def _collect(self, c: SimCall, cmd: m.Collect) -> None:
        self._where(c, cmd)
        if cmd.prompt == self.caller.keys.get("__survey__", "survey") or c.state == "connected":
            c.state = "survey"
        digits: str | None
        if self.caller.digits_for is not None:
            digits = self.caller.digits_for(c, cmd)
        elif c.state == "survey":
            digits = self.caller.survey or None
        else:
            digits = self.caller.keys.get(cmd.prompt, "0")
        if digits is None:
            self._later(cmd.timeout, self._digits, c, "", True)
        else:
            self._digits(c, digits, False)

    def _digits(self, c: SimCall, digits: str, timeout: bool) -> None:
        if c.state != "ended":
            if c.state == "survey" and digits:
                c.survey = digits
            self.send(m.Digits(0, c.id, digits, timeout))

    def _queue(self, c: SimCall, cmd: m.Queue) -> None:
        first = c.state != "queued"
        c.state = "queued"
        c.group, c.priority, c.queued_at = cmd.group, cmd.priority, cmd.queued_at
        c.brand, c.vip = cmd.brand, cmd.vip
        c.attributes, c.path, c.inputs = dict(cmd.attributes), list(cmd.path), dict(cmd.inputs)
        if first and self.caller.patience > 0 and c.patience is None:
            wait = self.rng.expovariate(1.0 / self.caller.patience)
            c.patience = self._later(wait, self._impatient, c)

    def _impatient(self, c: SimCall) -> None:
        c.patience = None
        if c.state == "queued":
            self.hang_up(c)

    def _announce(self, c: SimCall, cmd: m.Announce) -> None:
        c.announcements += 1
        c.position, c.wait = cmd.position, cmd.wait

    def _connect(self, c: SimCall, cmd: m.Connect) -> None:
        if cmd.consult_of:
            return
        if c.patience is not None:
            c.patience.cancel()
            c.patience = None
        c.state = "connected"
        c.agent_id = cmd.agent_id
        c.group = cmd.group or c.group
        c.answered_at = self.clock()
        self.send(m.AgentAnswered(0, c.id, cmd.agent_id))
        if self.caller.talk > 0:
            c.talk = self._later(self.rng.expovariate(1.0 / self.caller.talk), self._talk_over, c)

    def _talk_over(self, c: SimCall) -> None:
        c.talk = None
        if c.state == "connected":
            self.hang_up(c)

    def _dial_out(self, c: SimCall | None, cmd: m.DialOut) -> None:
        answered = self.rng.random() < self.caller.answer_probability
        if answered:
            call = SimCall(cmd.call_id, cmd.number, "", self.clock(), state="connected")
            call.kind = cmd.kind
            call.group, call.queued_at = cmd.group, cmd.queued_at
            call.agent_id = cmd.agent_id
            call.answered_at = self.clock()
            call.done = asyncio.get_running_loop().create_future()
            self.calls[call.id] = call
        self.send(m.DialResult(0, cmd.call_id, answered, "" if answered else "no_answer"))

    def _hangup(self, c: SimCall, cmd: m.Hangup) -> None:
        if cmd.prompt:
            c.prompts.append(cmd.prompt)
        self._end(c, cmd.reason or "server")

    def _drop_leg(self, c: SimCall, cmd: m.DropLeg) -> None:
        if c.state == "connected" and cmd.party == c.agent_id:
            self.send(m.AgentHangup(0, c.id, cmd.party))
            c.agent_id = ""

    def _hold(self, c: SimCall, cmd: m.Hold) -> None:
        c.held = cmd.held
        self.send(m.Held(0, c.id, cmd.held))

    def _transfer(self, c: SimCall, cmd: m.TransferOut) -> None:
        self.send(m.Transferred(0, c.id))
        self._end(c, "transferred")

    def _dial_consult(self, c: SimCall, cmd: m.DialConsult) -> None:
        self.send(m.DialResult(0, cmd.consult_id, True))

    def _bridge(self, c: SimCall, cmd: m.Bridge) -> None:
        self.send(m.Bridged(0, c.id, cmd.conference))

    def _record_voicemail(self, c: SimCall, cmd: m.RecordVoicemail) -> None:
        c.prompts.append(cmd.prompt)
        ref = self.caller.voicemail_ref.format(call=c.id)
        self.send(m.Voicemail(0, c.id, ref))
        self._end(c, "voicemail")


class SwitchError(Exception):
    """An error reply from the server."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


async def poisson(
    sw: SimSwitch, rate: float, duration: float, callers: list[str], dialed: str = "10086"
) -> int:
    """Originate calls at `rate` a second (Poisson) for `duration` seconds; returns the count."""
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    n = 0
    next_at = loop.time()
    while True:
        next_at += sw.rng.expovariate(rate)
        if next_at >= end:
            break
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sw.new_call(sw.rng.choice(callers), dialed)
        n += 1
    return n


def main() -> None:
    """Run a simulated switch against a server."""
    p = argparse.ArgumentParser(description="A simulated switch on the /switch protocol")
    p.add_argument("--url", default="ws://127.0.0.1:8765/switch")
    p.add_argument("--switch", default="pbx-1")
    p.add_argument("--token", default="demo-pbx-1")
    p.add_argument("--rate", type=float, default=2.0, help="calls per second (Poisson)")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--patience", type=float, default=60.0)
    p.add_argument("--talk", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    async def run() -> None:
        sw = SimSwitch(
            args.url,
            args.switch,
            args.token,
            caller=Caller(patience=args.patience, talk=args.talk),
            seed=args.seed,
        )
        await sw.connect()
        callers = ["13800000001", "13900000002", "13700000003", "13600000001", "13512345678"]
        n = await poisson(sw, args.rate, args.duration, callers)
        await asyncio.sleep(1.0)
        reasons: dict[str, int] = {}
        for c in sw.ended.values():
            reasons[c.end_reason] = reasons.get(c.end_reason, 0) + 1
        print(f"calls {n}, ended {reasons}, still held {len(sw.calls)}, errors {len(sw.errors)}")
        await sw.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
