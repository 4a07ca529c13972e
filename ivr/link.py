"""The switch link: the `/switch` websocket, the component named "switch".

Switches (PBXs, media gateways, the simulator) connect, say `hello` with their id and token,
report every call they hold (`resync`), then report calls, digits and legs as they happen.
The link runs the IVR (`ivr.machine`) for new calls, hands them to the core, and turns the
core's switch commands and call facts into commands for the switch that owns each call.

- Each switch owns the calls it reported. When its connection drops, its calls wait `grace`
  seconds for it to come back and resync; then each is ended in the core as lost (CallLost)
  with the reason recorded (journal note `lost`).
- Every command carries a `seq` and the switch answers each with `result`. No answer within
  `ack_timeout`, or a failed result, has a defined outcome per command (`FAILURES`): a
  connect becomes AgentLegFailed, a dial-out a failed DialOutResult, a blind transfer
  TransferFailed; a prompt falls back on the IVR session's own deadline.
- A reply to a request that ended a call waits for the journal's barrier, so a call the
  switch was told is finished is durably recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from websockets.asyncio.server import ServerConnection

from acd import events as ev
from acd.errors import AcdError, UnknownCall
from acd.live import CallPhase
from acd.settings import Settings
from acd.wsconn import LeanConnection
from agent_gateway import framing as fr
from agent_gateway.auth import verify_secret
from ivr import machine as im
from ivr import messages as m
from ivr.blocks import Blocks, make_rule
from ivr.flows import IvrSettings
from ivr.settings import SwitchSettings

if TYPE_CHECKING:
    from acd.app import App

log = structlog.get_logger("acd.switch")

SUPERVISE_MODES = ("monitor", "whisper", "barge", "intercept", "stop")
CALL_ID_MAX = 128


class NotConnected(AcdError):
    """The call has no connected agent leg to supervise."""

    code = "not_connected"


class SwitchUnavailable(AcdError):
    """The switch owning the call is not connected."""

    code = "switch_unavailable"


class SwitchTimeout(AcdError):
    """The switch did not answer a command in time."""

    code = "switch_timeout"


class SwitchFailed(AcdError):
    """The switch answered a command with a failure."""

    code = "switch_error"


class NotSupported(AcdError):
    """The core of this build cannot carry out the request."""

    code = "not_supported"


class BadRequest(AcdError):
    """A request with a value the link cannot use."""

    code = "bad_request"


class Draining(AcdError):
    """The server is draining: it takes no new calls (the switch routes them elsewhere)."""

    code = "draining"


class CallOver(AcdError):
    """A resynced call whose record says it already ended."""

    code = "ended"


class NoRoute(AcdError):
    """No IVR flow or group takes calls to this dialed number."""

    code = "no_route"


# ---------------------------------------------------------------------------- records


class Leg:
    """What the link knows of one call a switch holds (or held)."""

    __slots__ = (
        "announce",
        "arrived_at",
        "callback_offer",
        "caller",
        "caller_up",
        "dialed",
        "id",
        "info",
        "phase",
        "session",
        "switch",
        "timer",
        "trunk",
        "vm_group",
    )

    def __init__(
        self, call_id: str, switch: str, caller: str, dialed: str, trunk: str, at: float
    ) -> None:
        self.id = call_id
        self.switch = switch
        self.caller = caller
        self.dialed = dialed
        self.trunk = trunk
        self.arrived_at = at
        self.phase = "ivr"  # ivr | core | voicemail | survey | transfer
        self.session: im.Session | None = None
        self.info: ev.CallInfo | None = None
        self.caller_up = True
        self.callback_offer = False
        self.timer: asyncio.TimerHandle | None = None
        self.announce: float | None = None  # when the next announcement is due (loop time)
        self.vm_group = ""


class Pending:
    """A command sent and not yet answered."""

    __slots__ = ("cmd", "deadline", "future")

    def __init__(self, cmd: m.Command, deadline: float, future: asyncio.Future[m.Result] | None):
        self.cmd = cmd
        self.deadline = deadline
        self.future = future


class Conn:
    """One live connection of a switch."""

    __slots__ = ("bucket", "chan", "pending", "seq", "ws")

    def __init__(self, ws: LeanConnection, chan: fr.Channel, bucket: fr.TokenBucket) -> None:
        self.ws = ws
        self.chan = chan
        self.bucket = bucket
        self.seq = 0
        self.pending: dict[int, Pending] = {}


class Peer:
    """One `/switch` connection, before and after its hello."""

    __slots__ = ("conn", "greeted", "switch", "ws")

    def __init__(self, ws: LeanConnection) -> None:
        self.ws = ws
        self.greeted = False  # its first frame came (or the time for it ran out)
        self.conn: Conn | None = None
        self.switch: Switch | None = None


class Switch:
    """A switch identity: its calls survive a reconnect within the grace period."""

    __slots__ = ("calls", "conn", "grace", "id", "outbox")

    def __init__(self, sid: str) -> None:
        self.id = sid
        self.conn: Conn | None = None
        self.calls: set[str] = set()
        self.outbox: list[m.Command] = []
        self.grace: asyncio.TimerHandle | None = None


OUTBOX_LIMIT = 10000

# ---------------------------------------------------------------------------- the link


class SwitchLink:
    """The component: websocket sessions, IVR sessions, treatment and the core's commands."""

    name = "switch"

    def __init__(self, app: App) -> None:
        self.app = app
        self.core = app.core
        self.engine = app.engine
        self.codec: fr.Codec[Any] = fr.Codec(m.SWITCH_MESSAGES)
        self.switches: dict[str, Switch] = {}
        self.legs: dict[str, Leg] = {}
        self.block_rules = Blocks(None)
        self._apply(app.settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._durable: list[tuple[Callable[[Any], Any], Any]] = []  # waiting for a barrier
        # Announcements owed to queued callers, (due, call id), played by the sweep: a loop
        # timer per queued call cost more than the call's other work, and most calls are
        # answered before their first announcement. Entries of calls that stopped owing one
        # stay until they come up (or a compaction), `_owed_announcements` counts the rest.
        self._announcing: list[tuple[float, str]] = []
        self._owed_announcements = 0
        self._barrier_soon = False
        # Calls that ended, told to the switch once their record is durable: until then a
        # resync that reports one again must neither bring it back nor record it twice.
        self._ending: set[str] = set()
        self.stats = {"calls": 0, "commands": 0, "timeouts": 0, "lost": 0, "blocked": 0}
        self.draining: float | None = None  # the drain's deadline (epoch) while draining
        self._handlers: dict[type, Callable[[Conn, Switch, Any], Any]] = {
            m.Arrived: self._arrived,
            m.Digits: self._digits,
            m.PromptDone: self._prompt_done,
            m.CallerHangup: self._caller_hangup,
            m.AgentAnswered: self._agent_answered,
            m.AgentFailed: self._agent_failed,
            m.AgentHangup: self._agent_hangup,
            m.Held: self._held,
            m.Transferred: self._transferred,
            m.TransferFailed: self._transfer_failed,
            m.Party: self._party,
            m.Bridged: self._bridged,
            m.Recording: self._recording,
            m.Voicemail: self._voicemail,
            m.DialResult: self._dial_result,
            m.Resync: self._resync,
        }
        self._outputs: dict[type, Callable[[Any], None]] = {
            ev.ConnectAgent: self._out_connect,
            ev.DialOut: self._out_dial_out,
            ev.DropLeg: self._out_drop_leg,
            ev.HoldCaller: self._out_hold,
            ev.TransferExternal: self._out_transfer,
            ev.DialConsult: self._out_dial_consult,
            ev.BridgeConsult: self._out_bridge,
            ev.PlayDigits: self._out_digits,
            ev.EntryTreatment: self._out_entry,
            ev.OfferCallback: self._out_offer_callback,
            ev.RecordVoicemail: self._out_record_voicemail,
            ev.ReleaseCaller: self._out_release,
            ev.CallQueued: self._out_queued,
            ev.CallAnswered: self._out_answered,
            ev.CallOffered: self._out_offered,
            ev.CallEnded: self._out_ended,
        }

    # ---------------------------------------------------------------- settings

    def _apply(self, settings: Settings) -> None:
        """Take (new) settings: new calls use them; calls in a flow keep their version."""
        ivr = settings.parts.get("ivr")
        self.ivr: IvrSettings = ivr if isinstance(ivr, IvrSettings) else IvrSettings()
        sw = settings.parts.get("switch")
        self.conf: SwitchSettings = sw if isinstance(sw, SwitchSettings) else SwitchSettings()
        self.machine = im.IvrMachine(self.ivr, settings.center, self.engine)

    def apply_settings(self, settings: Settings) -> None:
        """Reload hook: flows, prompts, treatment and tokens for what comes next."""
        self._apply(settings)
        for sw in self.switches.values():
            if sw.conn is not None:
                sw.conn.ws.write_window = self.conf.write_window

    # ---------------------------------------------------------------- lifecycle

    async def start(self, app: App) -> None:
        """Register `/switch`, subscribe to the core, load the block rules."""
        self._loop = asyncio.get_running_loop()
        self.block_rules = Blocks(app.data_dir / "blocks.json")
        app.web.ws_route("/switch", self.serve, lean=True)
        self.core.subscribe(self._on_outputs)
        self._sweeper = self._loop.create_task(self._sweep())

    async def stop(self, app: App) -> None:
        """Cancel timers; connections are closed by the web server."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for leg in self.legs.values():
            self._cancel_timers(leg)
        for sw in self.switches.values():
            if sw.grace is not None:
                sw.grace.cancel()
        for t in list(self._tasks):
            t.cancel()

    @property
    def journal(self) -> Any:
        """The journal component, or None."""
        return self.app.component("journal")

    def now(self) -> float:
        """The core's clock."""
        return self.core.now()

    # ---------------------------------------------------------------- connections

    async def serve(self, ws: ServerConnection) -> None:
        """One switch connection: hello, then requests until it closes.

        `/switch` is a lean route: each frame reaches `_first` (the hello) or `_request` as it
        is read (acd.wsconn); frames that come while the hello is checked wait their turn.
        """
        assert isinstance(ws, LeanConnection)
        lim = self.app.settings.server
        ws.write_window = self.conf.write_window
        peer = Peer(ws)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(lim.hello_timeout, self._no_hello, peer)
        try:
            await ws.serve_messages(partial(self._message, peer))
        finally:
            timer.cancel()
            conn, sw = peer.conn, peer.switch
            if conn is not None and sw is not None:
                if sw.conn is conn:
                    sw.conn = None
                    self._disconnected(sw, conn)
                conn.chan.close(fr.CLOSE_NORMAL)

    def _message(self, peer: Peer, frame: str | bytes) -> Awaitable[None] | None:
        conn, sw = peer.conn, peer.switch
        if conn is not None and sw is not None:
            self._request(conn, sw, frame)
            return None
        if peer.greeted:
            return None  # the hello was refused: the connection is closing
        peer.greeted = True
        return self._first(peer, frame)

    def _no_hello(self, peer: Peer) -> None:
        if peer.greeted:
            return
        peer.greeted = True
        peer.ws.stop_messages()
        self._spawn(self._close(peer.ws, fr.CLOSE_HELLO_TIMEOUT, "hello expected"))

    @staticmethod
    async def _close(ws: ServerConnection, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code, reason)

    async def _first(self, peer: Peer, first: str | bytes) -> None:
        lim = self.app.settings.server
        ws = peer.ws
        binary = isinstance(first, bytes)
        chan = fr.Channel(ws, self.codec, binary=binary, limit=max(lim.send_queue_frames, 10000))
        sw = await self._hello(chan, first)
        if sw is None:
            ws.stop_messages()
            await chan.drain(1.0)
            await self._close(ws, fr.CLOSE_POLICY, "hello refused")
            chan.close(fr.CLOSE_POLICY, "hello refused")
            return
        conn = Conn(ws, chan, fr.TokenBucket(self.conf.rate_per_second, self.conf.rate_burst, 0))
        old = sw.conn
        if old is not None:
            old.chan.close(fr.CLOSE_TAKEN_OVER, "the switch connected again")
        sw.conn = conn
        peer.conn, peer.switch = conn, sw
        if sw.grace is not None:
            sw.grace.cancel()
            sw.grace = None
        log.info("switch connected", switch=sw.id, calls=len(sw.calls))
        if self.draining is not None:
            self._send(sw.id, m.CenterState(0, "", "draining", self.draining))

    async def _hello(self, chan: fr.Channel, frame: str | bytes) -> Switch | None:
        try:
            msg = self.codec.decode(frame)
        except fr.FrameError as err:
            chan.send(err.reply())
            return None
        if not isinstance(msg, m.Hello):
            chan.send(fr.Error(getattr(msg, "id", None), fr.HELLO_REQUIRED, "send hello first"))
            return None
        if msg.version != m.VERSION:
            chan.send(
                fr.Error(msg.id, fr.UNSUPPORTED_VERSION, f"this server speaks version {m.VERSION}")
            )
            return None
        stored = self.conf.tokens.get(msg.switch)
        ok = stored is not None and await asyncio.to_thread(verify_secret, msg.token, stored)
        if not ok:
            log.warning("switch refused", switch=msg.switch)  # never the token
            chan.send(fr.Error(msg.id, fr.UNAUTHENTICATED, "unknown switch or wrong token"))
            return None
        sw = self.switches.get(msg.switch)
        if sw is None:
            sw = self.switches[msg.switch] = Switch(msg.switch)
        chan.send(
            fr.Ok(
                msg.id,
                {
                    "version": m.VERSION,
                    "switch": sw.id,
                    "grace": self.conf.grace,
                    "ack_timeout": self.conf.ack_timeout,
                    "calls": len(sw.calls),
                },
            )
        )
        return sw

    def _request(self, conn: Conn, sw: Switch, frame: str | bytes) -> None:
        """One frame from a switch that said hello: a result, or a request to answer."""
        chan = conn.chan
        try:
            msg = self.codec.decode(frame)
        except fr.FrameError as err:
            chan.send(err.reply())
            return
        kind = type(msg)
        if kind is m.Result:
            self._result(conn, msg)
            return
        if not conn.bucket.allow(time.monotonic()):
            chan.send(fr.Error(msg.id, fr.RATE_LIMITED, "too many requests"))
            return
        handler = self._handlers.get(kind)
        if handler is None:  # a second hello
            chan.send(fr.Error(msg.id, fr.BAD_MESSAGE, f"unexpected {kind.__name__}"))
            return
        journal = self.journal
        mark = getattr(journal, "critical", 0)
        try:
            reply = handler(conn, sw, msg)
        except AcdError as err:
            chan.send(fr.Error(msg.id, err.code, err.message))
            return
        except Exception:
            log.exception("switch request failed", type=kind.__name__)
            chan.send(fr.Error(msg.id, fr.INTERNAL, "internal error"))
            return
        if isinstance(reply, Barrier):
            self._after_barrier(chan.send, fr.Ok(msg.id, reply.result))
        elif getattr(journal, "critical", 0) != mark:
            # The request ended a call or left a task owed: acknowledge it once durable.
            self._after_barrier(chan.send, fr.Ok(msg.id, reply))
        else:
            chan.send(fr.Ok(msg.id, reply))

    def _after_barrier(self, send: Callable[[Any], Any], what: Any) -> None:
        """`send(what)` once everything recorded so far is durable.

        Everything asked for in one loop turn shares one journal barrier, taken at the start
        of the next turn (after all of this turn's records): one commit to wait for, one
        wake-up from the store and the frames of the batch in one write.
        """
        self._durable.append((send, what))
        if not self._barrier_soon:
            self._barrier_soon = True
            assert self._loop is not None
            self._loop.call_soon(self._take_barrier)

    def _take_barrier(self) -> None:
        """Take this turn's batch and the journal's barrier for it (a callback, not a task:
        there is one nearly every loop turn under load)."""
        batch, self._durable = self._durable, []
        self._barrier_soon = False
        journal = self.journal
        if journal is None:
            self._send_batch(batch)
            return
        journal.durable().add_done_callback(lambda _: self._send_batch(batch))

    @staticmethod
    def _send_batch(batch: list[tuple[Callable[[Any], Any], Any]]) -> None:
        for send, what in batch:
            try:
                send(what)
            except Exception:
                log.exception("sending after the journal barrier failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _disconnected(self, sw: Switch, conn: Conn) -> None:
        for p in conn.pending.values():
            if p.future is not None and not p.future.done():
                p.future.set_exception(SwitchUnavailable("the switch disconnected"))
        conn.pending.clear()
        log.warning("switch disconnected", switch=sw.id, calls=len(sw.calls))
        if not sw.calls:
            return
        loop = asyncio.get_running_loop()
        sw.grace = loop.call_later(self.conf.grace, self._grace_over, sw)

    def _grace_over(self, sw: Switch) -> None:
        sw.grace = None
        if sw.conn is not None:
            return
        reason = f"switch {sw.id} did not come back within {self.conf.grace:g} s"
        for cid in list(sw.calls):
            self._lose(cid, reason)
        sw.calls.clear()
        sw.outbox.clear()

    def _lose(self, cid: str, reason: str) -> None:
        leg = self.legs.pop(cid, None)
        if leg is not None:
            self._cancel_timers(leg)
        self.stats["lost"] += 1
        self._note(cid, "lost", {"reason": reason})
        if cid in self.engine.calls:
            with contextlib.suppress(AcdError):
                self.core.submit(ev.CallLost(cid))

    # ---------------------------------------------------------------- commands

    def _send(
        self, sid: str, cmd: m.Command, future: asyncio.Future[m.Result] | None = None
    ) -> None:
        sw = self.switches.get(sid)
        if sw is None:
            return
        conn = sw.conn
        if conn is None:
            if len(sw.outbox) < OUTBOX_LIMIT:
                sw.outbox.append(cmd)
            return
        conn.seq += 1
        cmd.seq = conn.seq
        conn.pending[cmd.seq] = Pending(cmd, time.monotonic() + self.conf.ack_timeout, future)
        self.stats["commands"] += 1
        conn.chan.send(cmd)

    def _result(self, conn: Conn, res: m.Result) -> None:
        p = conn.pending.pop(res.seq, None)
        if p is None:
            conn.chan.send(fr.Error(None, "unknown_seq", f"no command {res.seq} is waiting"))
            return
        if p.future is not None:
            if not p.future.done():
                p.future.set_result(res)
            return
        if not res.ok:
            self._failed(p.cmd, res.code or "switch_error")

    async def _sweep(self) -> None:
        """Commands past their deadline get their defined outcome; announcements that came
        due are played."""
        period = min(0.25, self.conf.ack_timeout / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            if self._announcing:
                self._announcements_due(loop.time())
            now = time.monotonic()
            for sw in list(self.switches.values()):
                conn = sw.conn
                if conn is None:
                    continue
                expired: list[Pending] = []
                for seq, p in conn.pending.items():
                    if p.deadline > now:
                        break  # sent in order with one timeout: the rest are younger
                    expired.append(p)
                    del seq
                for p in expired:
                    conn.pending.pop(p.cmd.seq, None)
                    self.stats["timeouts"] += 1
                    if p.future is not None:
                        if not p.future.done():
                            p.future.set_exception(
                                SwitchTimeout(f"switch {sw.id} did not answer in time")
                            )
                    else:
                        self._failed(p.cmd, "switch_timeout")

    def _failed(self, cmd: m.Command, reason: str) -> None:
        """The defined outcome of a command the switch failed or never answered."""
        outcome = FAILURES.get(type(cmd))
        log.warning("switch command failed", command=type(cmd).__name__, reason=reason)
        leg = self.legs.get(cmd.call_id)
        if leg is not None and leg.phase in ("transfer", "voicemail"):
            # The IVR's own transfer or voicemail: the call never reached the core.
            self._send(leg.switch, m.Hangup(0, leg.id, "goodbye", self._text("goodbye")))
            leg.caller_up = False
            self._drop(leg)
            return
        if outcome is None:
            return
        event = outcome(cmd, reason)
        if event is not None:
            self._submit_soon(event)

    def _submit_soon(self, event: ev.Event) -> None:
        """Submit outside the current output dispatch (keeps sinks' order intact)."""

        def run() -> None:
            with contextlib.suppress(AcdError):
                self.core.submit(event)

        asyncio.get_running_loop().call_soon(run)

    # ---------------------------------------------------------------- requests

    def _leg(self, sw: Switch, call_id: str) -> Leg:
        leg = self.legs.get(call_id)
        if leg is None or leg.switch != sw.id:
            raise UnknownCall(f"no live call {call_id!r} on this switch", call_id=call_id)
        return leg

    def _arrived(self, conn: Conn, sw: Switch, msg: m.Arrived) -> Any:
        cid = msg.call_id
        if self.draining is not None:
            raise Draining("the center is draining: route new calls elsewhere", call_id=cid)
        if not cid or len(cid) > CALL_ID_MAX:
            raise BadRequest(f"call_id: 1 to {CALL_ID_MAX} characters")
        if cid in self.legs or cid in self.engine.calls:
            raise ev_duplicate(cid)
        if len(sw.calls) >= self.conf.max_calls:
            raise BadRequest("this switch holds too many calls", limit=self.conf.max_calls)
        now = self.now()
        at = msg.at if msg.at is not None and msg.at <= now else now
        leg = Leg(cid, sw.id, msg.caller, msg.dialed, msg.trunk, at)
        self.stats["calls"] += 1
        rule = self.block_rules.match(msg.caller, now)
        if rule is not None:
            self.stats["blocked"] += 1
            self._note(cid, "block", {"rule": rule.to_dict(), "caller": msg.caller})
            prompt = self.ivr.blocked_prompt
            self._send(sw.id, m.Hangup(0, cid, prompt, self._text(prompt), "blocked"))
            return {"blocked": rule.reason}
        session = self.machine.session(cid, msg.caller, msg.dialed)
        self.legs[cid] = leg
        sw.calls.add(cid)
        if session is None:
            group = self._direct_group()
            if group is None:
                del self.legs[cid]
                sw.calls.discard(cid)
                raise NoRoute(f"no flow or group takes calls to {msg.dialed!r}")
            leg.session = im.Session(cid, msg.caller, self.machine.survey_flow, msg.dialed)
            self._run(leg, [im.Enqueue(group, None, 0.0)], now)
            return None
        leg.session = session
        self._run(leg, self.machine.start(session, now), now)
        return None

    def _direct_group(self) -> str | None:
        groups = self.app.settings.center.groups
        return next(iter(groups)) if len(groups) == 1 else None

    def _digits(self, conn: Conn, sw: Switch, msg: m.Digits) -> Any:
        leg = self._leg(sw, msg.call_id)
        now = self.now()
        if leg.phase in ("ivr", "survey") and leg.session is not None:
            acts = self.machine.handle(leg.session, im.DigitsIn(msg.digits, msg.timeout), now)
            self._run(leg, acts, now)
            return None
        if leg.phase != "core":
            return {"ignored": True}
        digit = msg.digits[:1]
        if leg.callback_offer:
            leg.callback_offer = False
            call = self.engine.calls.get(leg.id)
            if digit == "1":
                return self._submit_reply(ev.CallbackChosen(leg.id))
            if call is not None and call.phase is CallPhase.PARKED:
                # The group could not take the call and the caller declined a callback.
                self._send(leg.switch, m.Hangup(0, leg.id, "goodbye", self._text("goodbye")))
                leg.caller_up = False
                return self._submit_reply(ev.CallerHangup(leg.id))
            return None
        action = self.ivr.treatment.keys.get(digit)
        if action == "callback":
            return self._submit_reply(ev.CallbackChosen(leg.id))
        if action == "voicemail":
            return self._submit_reply(ev.VoicemailChosen(leg.id))
        return {"ignored": True}

    def _prompt_done(self, conn: Conn, sw: Switch, msg: m.PromptDone) -> Any:
        leg = self._leg(sw, msg.call_id)
        if leg.phase in ("ivr", "survey") and leg.session is not None:
            now = self.now()
            self._run(leg, self.machine.handle(leg.session, im.PromptDone(), now), now)
        return None

    def _caller_hangup(self, conn: Conn, sw: Switch, msg: m.CallerHangup) -> Any:
        leg = self._leg(sw, msg.call_id)
        leg.caller_up = False
        if leg.phase == "core" and leg.id in self.engine.calls:
            return self._submit_reply(ev.CallerHangup(leg.id))
        if leg.phase == "voicemail":
            self._note(leg.id, "voicemail", {"ref": "", "group": leg.vm_group})
        elif leg.phase == "ivr" and leg.session is not None:
            data = self.machine.summary(leg.session)
            data["ended"] = "caller hung up in the IVR"
            self._note(leg.id, "ivr", data)
        self._drop(leg)
        return Barrier(None)

    def _agent_answered(self, conn: Conn, sw: Switch, msg: m.AgentAnswered) -> Any:
        self._leg(sw, msg.call_id)
        return self._submit_reply(ev.AgentLegAnswered(msg.call_id, msg.agent_id))

    def _agent_failed(self, conn: Conn, sw: Switch, msg: m.AgentFailed) -> Any:
        self._owned_or_core(sw, msg.call_id)
        return self._submit_reply(ev.AgentLegFailed(msg.call_id, msg.agent_id, msg.reason))

    def _agent_hangup(self, conn: Conn, sw: Switch, msg: m.AgentHangup) -> Any:
        self._owned_or_core(sw, msg.call_id)
        return self._submit_reply(ev.AgentLegEnded(msg.call_id, msg.agent_id))

    def _held(self, conn: Conn, sw: Switch, msg: m.Held) -> Any:
        self._leg(sw, msg.call_id)
        return self._submit_reply(ev.HoldChanged(msg.call_id, msg.held))

    def _transferred(self, conn: Conn, sw: Switch, msg: m.Transferred) -> Any:
        leg = self._leg(sw, msg.call_id)
        leg.caller_up = False
        if leg.phase == "transfer":  # from the IVR: the call never reached the core
            self._drop(leg)
            return Barrier(None)
        return self._submit_reply(ev.TransferredOut(msg.call_id))

    def _transfer_failed(self, conn: Conn, sw: Switch, msg: m.TransferFailed) -> Any:
        leg = self._leg(sw, msg.call_id)
        if leg.phase == "transfer":
            prompt = "transfer-failed"
            self._send(leg.switch, m.Hangup(0, leg.id, prompt, self._text(prompt)))
            self._drop(leg)
            return None
        return self._submit_reply(transfer_failed(msg.call_id, msg.reason))

    def _party(self, conn: Conn, sw: Switch, msg: m.Party) -> Any:
        self._owned_or_core(sw, msg.call_id)
        return self._submit_reply(ev.ExternalPartyChanged(msg.call_id, msg.party, msg.joined))

    def _bridged(self, conn: Conn, sw: Switch, msg: m.Bridged) -> Any:
        self._leg(sw, msg.call_id)
        return self._submit_reply(ev.ConsultBridged(msg.call_id, msg.conference))

    def _recording(self, conn: Conn, sw: Switch, msg: m.Recording) -> Any:
        if not msg.ref:
            raise BadRequest("ref: a recording reference is required")
        self._owned_or_core(sw, msg.call_id)
        self._note(msg.call_id, "recording", {"ref": msg.ref})
        return None

    def _voicemail(self, conn: Conn, sw: Switch, msg: m.Voicemail) -> Any:
        leg = self._leg(sw, msg.call_id)
        if not msg.ref:
            raise BadRequest("ref: a voicemail reference is required")
        if leg.phase == "voicemail":  # from an IVR voicemail node
            self._ivr_voicemail(leg, msg.ref)
            leg.caller_up = False
            self._note(leg.id, "voicemail", {"ref": msg.ref, "group": leg.vm_group})
            self._drop(leg)
            return None
        reply = self._submit_reply(ev.VoicemailRecorded(leg.id, msg.ref))
        leg.caller_up = False
        self._note(leg.id, "voicemail", {"ref": msg.ref})
        self._release(leg)
        return reply

    def _dial_result(self, conn: Conn, sw: Switch, msg: m.DialResult) -> Any:
        call = self.engine.calls.get(msg.call_id)
        if call is None:
            raise UnknownCall(f"no live call {msg.call_id!r}", call_id=msg.call_id)
        reply = self._submit_reply(ev.DialOutResult(msg.call_id, msg.answered, msg.reason))
        if msg.answered and call.kind is not ev.CallKind.CONSULT:
            leg = self.legs.get(msg.call_id)
            if leg is None:
                leg = Leg(call.id, sw.id, call.number, call.info.dialed, "", call.queued_at)
                self.legs[call.id] = leg
            leg.switch, leg.phase, leg.caller_up = sw.id, "core", True
            sw.calls.add(call.id)
        return reply

    def _owned_or_core(self, sw: Switch, call_id: str) -> None:
        leg = self.legs.get(call_id)
        if leg is not None and leg.switch == sw.id:
            return
        if leg is None and call_id in self.engine.calls:
            return  # consult legs and tasks are known to the core only
        raise UnknownCall(f"no live call {call_id!r} on this switch", call_id=call_id)

    def _submit_reply(self, event: ev.Event) -> Any:
        """Submit; the reply waits for the journal when the event ended a call."""
        outs = self.core.submit(event)
        for o in outs:
            if type(o) is ev.CallEnded:
                return Barrier(None)
        return None

    # ---------------------------------------------------------------- the IVR's acts

    def _run(self, leg: Leg, acts: list[im.Act], now: float) -> None:
        sid = leg.switch
        sess = leg.session
        flow, node = (sess.flow.id, sess.node) if sess is not None else ("", "")
        for act in acts:
            t = type(act)
            if t is im.Say:
                assert isinstance(act, im.Say)
                text = self._text(act.prompt)
                lang = self.ivr.language
                if act.max_digits:
                    self._send(
                        sid,
                        m.Collect(
                            0,
                            leg.id,
                            act.prompt,
                            act.max_digits,
                            act.min_digits,
                            act.timeout,
                            act.terminator,
                            text,
                            lang,
                            flow,
                            node,
                        ),
                    )
                else:
                    self._send(
                        sid,
                        m.Play(0, leg.id, act.prompt, text, lang, act.interruptible, flow, node),
                    )
            elif t is im.Note:
                assert isinstance(act, im.Note)
                self._note(leg.id, act.kind, act.data)
            elif t is im.Enqueue:
                assert isinstance(act, im.Enqueue)
                self._enqueue(leg, act)
            elif t is im.Hangup:
                assert isinstance(act, im.Hangup)
                self._send(sid, m.Hangup(0, leg.id, act.prompt, self._text(act.prompt)))
                leg.caller_up = False
                self._drop(leg)
            elif t is im.MakeCallback:
                assert isinstance(act, im.MakeCallback)
                self._ivr_callback(leg, act)
            elif t is im.RecordVoicemail:
                assert isinstance(act, im.RecordVoicemail)
                leg.phase = "voicemail"
                leg.vm_group = act.group
                self._send(sid, m.RecordVoicemail(0, leg.id, act.group, act.prompt))
            elif t is im.Transfer:
                assert isinstance(act, im.Transfer)
                leg.phase = "transfer"
                self._send(sid, m.TransferOut(0, leg.id, act.number, act.prompt))
        s = leg.session
        if leg.phase in ("ivr", "survey") and s is not None and not s.done:
            self._arm(leg, s.deadline)

    def _arm(self, leg: Leg, deadline: float | None) -> None:
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            leg.timer = loop.call_later(max(0.0, deadline - self.now()), self._timeout, leg.id)

    def _timeout(self, cid: str) -> None:
        leg = self.legs.get(cid)
        if leg is None or leg.session is None:
            return
        leg.timer = None
        now = self.now()
        self._run(leg, self.machine.handle(leg.session, im.Timeout(), now), now)

    def _info(self, leg: Leg) -> ev.CallInfo:
        s = leg.session
        if s is None:
            return ev.CallInfo(
                leg.id, leg.caller, leg.dialed, arrived_at=leg.arrived_at, trunk=leg.trunk
            )
        return ev.CallInfo(
            id=leg.id,
            caller=leg.caller,
            dialed=leg.dialed,
            brand=s.brand,
            vip=s.vip,
            attributes=dict(s.attributes),
            ivr_path=tuple(s.path),
            inputs=dict(s.inputs),
            customer=dict(s.customer),
            arrived_at=leg.arrived_at,
            trunk=leg.trunk,
            switch=leg.switch,
        )

    def _enqueue(self, leg: Leg, act: im.Enqueue) -> None:
        info = self._info(leg)
        leg.info = info
        leg.phase = "core"
        try:
            self.core.submit(ev.EnqueueCall(info, act.group, act.priority, act.bonus))
        except AcdError as err:
            log.warning("enqueue refused", call_id=leg.id, code=err.code)
            self._send(leg.switch, m.Hangup(0, leg.id, "goodbye", self._text("goodbye")))
            self._drop(leg)

    def _ivr_callback(self, leg: Leg, act: im.MakeCallback) -> None:
        info = self._info(leg)
        now = self.now()
        try:
            self.core.submit(
                ev.ScheduleCallback(
                    info, act.group, leg.caller, now, "caller", queued_at=leg.arrived_at
                )
            )
        except AcdError as err:
            log.warning("callback refused", call_id=leg.id, code=err.code)
        self._send(leg.switch, m.Hangup(0, leg.id, act.prompt, self._text(act.prompt)))
        leg.caller_up = False
        self._drop(leg)

    def _ivr_voicemail(self, leg: Leg, ref: str) -> None:
        """A message left from an IVR voicemail node becomes a task for the group."""
        info = self._info(leg)
        self._voicemail_task(info, leg.vm_group, leg.caller, ref)

    def _voicemail_task(self, info: ev.CallInfo, group: str, number: str, ref: str) -> None:
        event = ev.ScheduleCallback(
            info, group, number, self.now(), "caller", queued_at=info.arrived_at, voicemail=ref
        )
        try:
            self.core.submit(event)
        except AcdError as err:
            log.warning("voicemail task refused", call_id=info.id, code=err.code)

    # ---------------------------------------------------------------- the core's outputs

    def _on_outputs(self, outs: Sequence[ev.Output]) -> None:
        table = self._outputs
        for o in outs:
            fn = table.get(type(o))
            if fn is not None:
                fn(o)

    def _leg_of(self, call_id: str) -> Leg | None:
        return self.legs.get(call_id)

    def _any_switch(self, preferred: str = "") -> str | None:
        sw = self.switches.get(preferred)
        if sw is not None and sw.conn is not None:
            return preferred
        for sid, s in self.switches.items():
            if s.conn is not None:
                return sid
        return None

    def _out_connect(self, o: ev.ConnectAgent) -> None:
        cid = o.consult_of or o.call_id
        leg = self.legs.get(cid)
        if leg is None:
            self._submit_soon(ev.AgentLegFailed(o.call_id, o.agent_id, "no switch holds the call"))
            return
        self._stop_announce(leg)
        call = self.engine.calls.get(o.call_id)
        group = call.group if call is not None else ""
        self._send(
            leg.switch,
            m.Connect(
                0,
                o.call_id,
                o.agent_id,
                o.endpoint,
                group,
                o.announce_number,
                o.consult_of,
                o.from_agent,
            ),
        )

    def _out_dial_out(self, o: ev.DialOut) -> None:
        leg = self.legs.get(o.call_id)
        sid = self._any_switch(leg.switch if leg is not None else "")
        if sid is None:
            self._submit_soon(ev.DialOutResult(o.call_id, False, "no_switch"))
            return
        call = self.engine.calls.get(o.call_id)
        kind = call.kind.value if call is not None else "callback"
        cmd = m.DialOut(0, o.call_id, o.agent_id, o.endpoint, o.number, kind)
        if call is not None:
            cmd.group, cmd.queued_at = call.group, call.queued_at
        self._send(sid, cmd)

    def _out_drop_leg(self, o: ev.DropLeg) -> None:
        sid = self._owner_of(o.call_id)
        if sid is not None:
            self._send(sid, m.DropLeg(0, o.call_id, o.party, o.reason))

    def _owner_of(self, call_id: str) -> str | None:
        leg = self.legs.get(call_id)
        if leg is not None:
            return leg.switch
        call = self.engine.calls.get(call_id)
        if call is not None and call.parent is not None:
            parent = self.legs.get(call.parent.id)
            if parent is not None:
                return parent.switch
        return self._any_switch()

    def _out_hold(self, o: ev.HoldCaller) -> None:
        sid = self._owner_of(o.call_id)
        if sid is not None:
            self._send(sid, m.Hold(0, o.call_id, o.held))

    def _out_transfer(self, o: ev.TransferExternal) -> None:
        sid = self._owner_of(o.call_id)
        if sid is None:
            self._submit_soon(transfer_failed(o.call_id, "no_switch"))
            return
        self._send(sid, m.TransferOut(0, o.call_id, o.number))

    def _out_dial_consult(self, o: ev.DialConsult) -> None:
        sid = self._owner_of(o.call_id)
        if sid is None:
            self._submit_soon(ev.DialOutResult(o.consult_id, False, "no_switch"))
            return
        self._send(sid, m.DialConsult(0, o.call_id, o.consult_id, o.agent_id, o.number))

    def _out_bridge(self, o: ev.BridgeConsult) -> None:
        sid = self._owner_of(o.call_id)
        if sid is not None:
            self._send(sid, m.Bridge(0, o.call_id, o.consult_id, o.conference))

    def _out_digits(self, o: ev.PlayDigits) -> None:
        sid = self._owner_of(o.call_id)
        if sid is not None:
            self._send(sid, m.SendDtmf(0, o.call_id, o.digits))

    def _out_entry(self, o: ev.EntryTreatment) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None:
            return
        prompt = o.prompt or "goodbye"
        self._send(leg.switch, m.Hangup(0, leg.id, prompt, self._text(prompt), o.reason))
        leg.caller_up = False

    def _out_offer_callback(self, o: ev.OfferCallback) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None or not leg.caller_up:
            return
        leg.callback_offer = True
        p = self.ivr.treatment.callback_prompt
        self._send(leg.switch, m.Collect(0, leg.id, p, 1, 1, 8.0, "", self._text(p)))

    def _out_record_voicemail(self, o: ev.RecordVoicemail) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None:
            return
        self._stop_announce(leg)
        p = self.ivr.treatment.voicemail_prompt
        self._send(leg.switch, m.RecordVoicemail(0, leg.id, o.group, p))

    def _out_release(self, o: ev.ReleaseCaller) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None:
            return
        p = self.ivr.treatment.callback_confirm
        self._send(leg.switch, m.Hangup(0, leg.id, p, self._text(p), o.reason))
        leg.caller_up = False
        self._release(leg)

    def _release(self, leg: Leg) -> None:
        """The caller left but the call lives on as a task: no switch owns it now."""
        self._cancel_timers(leg)
        self.legs.pop(leg.id, None)
        sw = self.switches.get(leg.switch)
        if sw is not None:
            sw.calls.discard(leg.id)

    def _out_queued(self, o: ev.CallQueued) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None or not leg.caller_up or o.kind is not ev.CallKind.INBOUND:
            return
        if o.restored:  # the switch is already playing the queue treatment
            self._schedule_announce(leg, o.group)
            return
        info = leg.info
        cmd = m.Queue(
            0,
            leg.id,
            o.group,
            o.priority,
            o.queued_at,
            self.ivr.treatment.music,
        )
        if info is not None:
            cmd.brand, cmd.vip = info.brand, info.vip
            cmd.attributes, cmd.path = info.attributes, list(info.ivr_path)
            cmd.inputs = info.inputs
        self._send(leg.switch, cmd)
        self._schedule_announce(leg, o.group)

    def _schedule_announce(self, leg: Leg, group: str) -> None:
        t = self.ivr.treatment
        if not (t.announce_position or t.announce_wait):
            return
        cfg = self.app.settings.center.groups.get(group)
        period = cfg.announce_period if cfg is not None else 30.0
        if period <= 0:
            return
        assert self._loop is not None
        due = self._loop.time() + period
        if leg.announce is None:
            self._owed_announcements += 1
        leg.announce = due
        heapq.heappush(self._announcing, (due, leg.id))

    def _announcements_due(self, now: float) -> None:
        """Play the announcements that came due (called by the sweep). Their positions come
        from one pass over each queue: a storm's thousands of waiting callers, each announced
        every period, would otherwise cost a pass over the queue apiece."""
        heap = self._announcing
        due: list[Leg] = []
        while heap and heap[0][0] <= now:
            at, cid = heapq.heappop(heap)
            leg = self.legs.get(cid)
            if leg is not None and leg.announce == at:
                self._stop_announce(leg)
                due.append(leg)
        if due:
            waits = self.engine.waits([leg.id for leg in due])
            for leg in due:
                got = waits.get(leg.id)
                if got is not None:  # still waiting: otherwise offered or gone meanwhile
                    self._announce(leg, *got)
        if len(heap) > 1024 and len(heap) > 2 * self._owed_announcements:
            self._announcing = [
                (leg.announce, leg.id) for leg in self.legs.values() if leg.announce is not None
            ]
            heapq.heapify(self._announcing)
            self._owed_announcements = len(self._announcing)

    def _announce(self, leg: Leg, position: int, wait: float) -> None:
        """Tell a waiting caller their place (1 = next) and wait, and schedule the next."""
        t = self.ivr.treatment
        cmd = m.Announce(
            0,
            leg.id,
            position + 1 if t.announce_position else 0,
            wait if t.announce_wait and wait != float("inf") else None,
        )
        self._send(leg.switch, cmd)
        self._schedule_announce(leg, self.engine.calls[leg.id].group)

    def _stop_announce(self, leg: Leg) -> None:
        if leg.announce is not None:
            leg.announce = None
            self._owed_announcements -= 1

    def _out_offered(self, o: ev.CallOffered) -> None:
        pass  # the caller keeps hearing music while the agent's desktop rings

    def _out_answered(self, o: ev.CallAnswered) -> None:
        leg = self.legs.get(o.call_id)
        if leg is not None:
            self._stop_announce(leg)

    def _out_ended(self, o: ev.CallEnded) -> None:
        leg = self.legs.get(o.call_id)
        if leg is None:
            return
        self._stop_announce(leg)
        if not leg.caller_up or o.cause is ev.EndCause.LOST:
            self._drop(leg)
            return
        cfg = self.app.settings.center.groups.get(o.group)
        agent = o.agents[-1] if o.agents else ""
        if (
            o.cause is ev.EndCause.COMPLETED
            and cfg is not None
            and cfg.survey
            and agent
            and o.kind is ev.CallKind.INBOUND
        ):
            leg.phase = "survey"
            leg.session = self.machine.survey_session(leg.id, leg.caller, agent, o.group)
            now = self.now()
            self._run(leg, self.machine.start(leg.session, now), now)
            return
        leg.caller_up = False
        self._drop(leg)
        self._hangup_when_durable(leg.switch, leg.id, o.cause.value)

    def _hangup_when_durable(self, sid: str, cid: str, reason: str) -> None:
        """Hang up an ended call's caller once the call's record is durable (the switch
        learns a call is over only then)."""
        self._ending.add(cid)

        def hangup(cmd: m.Hangup) -> None:
            self._ending.discard(cid)
            self._send(sid, cmd)

        self._after_barrier(hangup, m.Hangup(0, cid, "", "", reason))

    # ---------------------------------------------------------------- resync

    def _resync(self, conn: Conn, sw: Switch, msg: m.Resync) -> Any:
        """Rebuild from what the switch holds; keep what the server already knows."""
        now = self.now()
        reported = {c.call_id for c in msg.calls}
        restored, kept, refused = 0, 0, []
        ended = 0
        for cid in list(sw.calls):  # calls the switch no longer holds: the caller is gone
            if cid not in reported:
                ended += 1
                self._gone(cid)
        for held in msg.calls:
            try:
                if held.call_id in self.legs:
                    self._reconcile(sw, held)
                    kept += 1
                else:
                    self._restore(sw, held, now)
                    restored += 1
            except AcdError as err:
                refused.append({"call_id": held.call_id, "code": err.code, "message": err.message})
        outbox, sw.outbox = sw.outbox, []
        for cmd in outbox:
            if cmd.call_id in self.legs or cmd.call_id in self.engine.calls:
                self._send(sw.id, cmd)
        log.info("switch resynced", switch=sw.id, restored=restored, kept=kept, ended=ended)
        return Barrier({"restored": restored, "kept": kept, "ended": ended, "refused": refused})

    def _gone(self, cid: str) -> None:
        leg = self.legs.get(cid)
        if leg is None:
            return
        leg.caller_up = False
        if leg.phase == "core" and cid in self.engine.calls:
            call = self.engine.calls[cid]
            if call.caller_present:
                with contextlib.suppress(AcdError):
                    self.core.submit(ev.CallerHangup(cid))
        self._drop(leg)

    def _reconcile(self, sw: Switch, held: m.HeldCall) -> None:
        leg = self.legs[held.call_id]
        if leg.switch != sw.id:
            raise ev_duplicate(held.call_id)
        call = self.engine.calls.get(held.call_id)
        if call is None or call.phase is not CallPhase.CONNECTING or call.agent is None:
            return
        agent = call.agent.id
        if held.state == "connected" and held.agent_id == agent:
            self.core.submit(ev.AgentLegAnswered(call.id, agent))
        elif held.state != "connected":
            self.core.submit(ev.AgentLegFailed(call.id, agent, "not connected after resync"))

    def _restore(self, sw: Switch, h: m.HeldCall, now: float) -> None:
        cid = h.call_id
        if not cid or len(cid) > CALL_ID_MAX:
            raise BadRequest(f"call_id: 1 to {CALL_ID_MAX} characters")
        if cid in self.engine.calls:
            raise ev_duplicate(cid)
        if cid in self._ending:
            # Its end is being recorded (a resync within the commit): the hangup follows.
            raise CallOver(f"call {cid} has ended; its hangup follows", call_id=cid)
        if self._recorded(cid):
            # It ended before the server stopped (the switch had not heard yet): over.
            self._send(sw.id, m.Hangup(0, cid, "", "", "ended"))
            raise CallOver(f"call {cid} ended before the restart", call_id=cid)
        at = min(h.arrived_at or now, now)
        leg = Leg(cid, sw.id, h.caller, h.dialed, h.trunk, at)
        info = ev.CallInfo(
            id=cid,
            caller=h.caller,
            dialed=h.dialed,
            brand=h.brand,
            vip=h.vip,
            attributes=dict(h.attributes),
            ivr_path=tuple(h.path),
            inputs=dict(h.inputs),
            customer=self._customer(h.caller),
            arrived_at=at,
            trunk=h.trunk,
            switch=sw.id,
        )
        leg.info = info
        if h.state == "queued":
            if h.group not in self.engine.groups:
                raise BadRequest(f"unknown group {h.group!r}")
            leg.phase = "core"
            self._own(sw, leg)
            try:
                self.core.submit(ev.EnqueueCall(info, h.group, h.priority, 0.0, h.queued_at or at))
            except AcdError:
                self._drop(leg)
                raise
            return
        if h.state == "connected":
            if not h.agent_id:
                self._end_unrecorded(sw, h, info, now)
                raise CallOver(
                    f"call {cid}: its agent had left before the restart; ended", call_id=cid
                )
            leg.phase = "core"
            self._own(sw, leg)
            try:
                self.core.submit(
                    ev.RestoreConnected(
                        info,
                        h.group,
                        h.agent_id,
                        h.queued_at if h.queued_at is not None else at,
                        h.answered_at if h.answered_at is not None else now,
                        h.held,
                        _kind(h.kind),
                        h.priority,
                    )
                )
            except AcdError:
                self._drop(leg)
                raise
            return
        if h.state == "ivr":
            session = self.machine.session(cid, h.caller, h.dialed)
            if session is None:
                raise NoRoute(f"no flow takes calls to {h.dialed!r}")
            session.path = list(h.path)
            session.inputs = dict(h.inputs)
            session.attributes = dict(h.attributes)
            session.brand, session.vip = h.brand, h.vip
            leg.session = session
            self._own(sw, leg)
            node = h.node if h.flow == session.flow.id else None
            self._run(leg, self.machine.start(session, now, node), now)
            return
        raise BadRequest(f"state {h.state!r}: ivr, queued or connected")

    def _end_unrecorded(self, sw: Switch, h: m.HeldCall, info: ev.CallInfo, now: float) -> None:
        """A connected call without its agent: the agent's leg had been dropped, but the
        server stopped before the call's end was recorded (the switch is told a call ended
        only once its record is durable). The call cannot go back on an agent; it ends now,
        with a record rebuilt from what the switch reports (cause `lost`, agent unknown) and a
        note saying why, and the caller is hung up once that record is durable."""
        cid = h.call_id
        journal = self.journal
        if journal is not None:
            journal.record(
                [
                    ev.CallEnded(
                        now,
                        cid,
                        h.group,
                        _kind(h.kind),
                        ev.EndCause.LOST,
                        (),
                        h.queued_at,
                        h.answered_at,
                        0.0,  # its talk ended at a moment nobody recorded
                        0.0,
                        (h.group,) if h.group else (),
                        by="system",
                        info=info,
                    )
                ]
            )
            self._note(cid, "lost", {"reason": "its agent had left and its end was not "
                                     "recorded before the server restarted"})  # fmt: skip
        self.stats["lost"] += 1
        self._hangup_when_durable(sw.id, cid, "lost")

    def _recorded(self, cid: str) -> bool:
        """The journal already holds the call's final record."""
        store = getattr(self.journal, "store", None)
        call = getattr(store, "call", None)
        return call is not None and call(cid) is not None

    def _customer(self, caller: str) -> dict[str, Any]:
        c = self.ivr.directory.lookup(caller)
        return dict(c.record()) if c is not None else {}

    def _own(self, sw: Switch, leg: Leg) -> None:
        self.legs[leg.id] = leg
        sw.calls.add(leg.id)

    # ---------------------------------------------------------------- helpers

    def _drop(self, leg: Leg) -> None:
        """The link is done with the call."""
        self._cancel_timers(leg)
        if self.legs.get(leg.id) is leg:
            del self.legs[leg.id]
        sw = self.switches.get(leg.switch)
        if sw is not None:
            sw.calls.discard(leg.id)

    def _cancel_timers(self, leg: Leg) -> None:
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        self._stop_announce(leg)

    def _text(self, prompt: str) -> str:
        p = self.ivr.prompts.get(prompt)
        return p.text if p is not None else ""

    def _note(self, cid: str, kind: str, data: dict[str, Any]) -> None:
        journal = self.journal
        if journal is not None:
            journal.note(cid, kind, data, self.now())

    # ---------------------------------------------------------------- drain

    def begin_drain(self, deadline: float) -> None:
        """Refuse new arrivals (`draining`) and tell every connected switch the center closed."""
        self.draining = deadline
        for sw in self.switches.values():
            if sw.conn is not None:
                self._send(sw.id, m.CenterState(0, "", "draining", deadline))

    def busy(self) -> int:
        """Calls the link still tracks (in the IVR, queued, connected, in a survey)."""
        return len(self.legs)

    def in_ivr(self) -> int:
        """Calls still walking an IVR flow (they may yet queue for an agent)."""
        return sum(1 for leg in self.legs.values() if leg.phase == "ivr")

    def hand_back(self, reason: str) -> int:
        """Give every call still held back to its switch (`handback`), end it in the core as
        lost and note the reason; returns how many."""
        n = 0
        for cid in list(self.legs):
            leg = self.legs[cid]
            self._send(leg.switch, m.HandBack(0, cid, reason))
            leg.caller_up = False
            self._note(cid, "handback", {"reason": reason, "switch": leg.switch})
            self._drop(leg)
            if cid in self.engine.calls:
                with contextlib.suppress(AcdError):
                    self.core.submit(ev.CallLost(cid))
            n += 1
        return n

    # ---------------------------------------------------------------- supervision, blocks

    async def supervise(self, call_id: str, mode: str, supervisor: str, endpoint: str) -> None:
        """Have the owning switch add (or stop) a supervisor's leg on a connected call."""
        if mode not in SUPERVISE_MODES:
            raise BadRequest(f"mode: one of {', '.join(SUPERVISE_MODES)}")
        call = self.engine.calls.get(call_id)
        leg = self.legs.get(call_id)
        if call is None or leg is None:
            raise UnknownCall(f"no live call {call_id!r}", call_id=call_id)
        if call.phase is not CallPhase.CONNECTED or not call.agents:
            raise NotConnected(f"call {call_id} has no agent on it", call_id=call_id)
        sw = self.switches.get(leg.switch)
        if sw is None or sw.conn is None:
            raise SwitchUnavailable(f"switch {leg.switch} is not connected", call_id=call_id)
        fut: asyncio.Future[m.Result] = asyncio.get_running_loop().create_future()
        self._send(sw.id, m.Supervise(0, call_id, mode, supervisor, endpoint), fut)
        res = await fut
        if not res.ok:
            raise SwitchFailed(
                f"switch {sw.id} refused {mode}: {res.message or res.code}", code=res.code
            )
        if mode == "intercept" and call_id in self.engine.calls:
            # The switch dropped the agent legs and bridged the supervisor: the call
            # leaves the ACD (cause intercepted) and its agents go to after-call work.
            leg.caller_up = False
            self.core.submit(ev.InterceptCall(call_id, supervisor))

    def add_block(self, rule: dict[str, Any], actor: str) -> dict[str, Any]:
        """Add (or replace) a caller block; returns the rule as stored."""
        r = make_rule(rule, actor, self.now())
        self.block_rules.add(r)
        self._note("", "block", {"action": "add", "rule": r.to_dict()})
        return r.to_dict()

    def remove_block(self, rule: str | dict[str, Any], actor: str) -> dict[str, Any]:
        """Remove the block for a pattern; returns the rule removed."""
        pattern = rule if isinstance(rule, str) else str(rule.get("pattern", ""))
        r = self.block_rules.remove(pattern)
        self._note("", "block", {"action": "remove", "rule": r.to_dict(), "by": actor})
        return r.to_dict()

    def blocks(self) -> list[dict[str, Any]]:
        """The caller blocks in force."""
        return [r.to_dict() for r in self.block_rules.active(self.now())]


class Barrier:
    """A reply that waits for the journal's barrier before it is sent."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result


def ev_duplicate(cid: str) -> AcdError:
    """The duplicate-call error of the core."""
    from acd.errors import DuplicateCall

    return DuplicateCall(f"call {cid} is already live", call_id=cid)


def transfer_failed(call_id: str, reason: str) -> ev.Event:
    """The core's input for a blind transfer the switch could not complete."""
    return ev.TransferFailed(call_id, reason)


def _connect_failed(cmd: Any, reason: str) -> ev.Event | None:
    return ev.AgentLegFailed(cmd.call_id, cmd.agent_id, reason)


def _transfer_outcome(cmd: Any, reason: str) -> ev.Event | None:
    return transfer_failed(cmd.call_id, reason)


# A command the switch failed, or did not answer in time -> what the core is told.
FAILURES: dict[type, Callable[[Any, str], ev.Event | None]] = {
    m.Connect: _connect_failed,
    m.DialOut: lambda c, r: ev.DialOutResult(c.call_id, False, r),
    m.DialConsult: lambda c, r: ev.DialOutResult(c.consult_id, False, r),
    m.TransferOut: _transfer_outcome,
}


def _kind(text: str) -> ev.CallKind:
    try:
        return ev.CallKind(text)
    except ValueError:
        raise BadRequest(f"kind {text!r}: inbound, callback or voicemail") from None


def switch_link(app: App) -> SwitchLink:
    """Factory for `acd.app.COMPONENTS`."""
    return SwitchLink(app)
