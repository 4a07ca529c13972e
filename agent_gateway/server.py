"""The agent gateway: the `/agent` websocket, component "agents".

Per connection: a `hello` (protocol version), then `sign_in` or `resume`, then requests.
Frames are decoded into typed requests (framing.Codec), checked against a per-connection
token bucket, turned into core events (requests.py) and submitted to the core host; the one
reply goes out after the pushes the event caused. Core outputs reach desktops through
pushes.py. Nothing here keeps a task per connection: `/agent` is a lean route, whose frames
are handed to `_frame` as they are read (acd.wsconn), and frames are written straight to the
transport (framing.Channel).

Public interface for the admin socket: `send_message`, `notify`, `signed_in`,
`force_disconnect`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from websockets.asyncio.server import ServerConnection

from acd import __version__
from acd import events as ev
from acd.errors import AcdError
from acd.states import AgentState
from acd.wsconn import LeanConnection
from agent_gateway import messages as m
from agent_gateway.auth import Credentials, SignInLimiter, hash_secret, verify_secret
from agent_gateway.framing import (
    CLOSE_FORCED,
    CLOSE_GOING_AWAY,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TAKEN_OVER,
    HELLO_REQUIRED,
    INTERNAL,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNSUPPORTED_VERSION,
    Channel,
    Codec,
    Error,
    FrameError,
    Ok,
    RequestId,
    TokenBucket,
)
from agent_gateway.options import GatewayOptions
from agent_gateway.pushes import OfferLatency, PushRouter, RecentContacts
from agent_gateway.requests import to_event
from agent_gateway.sessions import Session, SessionTable
from agent_gateway.views import Today, group_views, snapshot

if TYPE_CHECKING:
    from acd.app import App

log = structlog.get_logger("agent_gateway")

# Error codes of the gateway itself (the core's come from AcdError.code).
BAD_CREDENTIALS = "bad_credentials"
THROTTLED = "throttled"
ALREADY_SIGNED_IN = "already_signed_in"
RESUME_FAILED = "resume_failed"
WRONG_STATE = "wrong_state"
DRAINING = "draining"

DISCONNECTED = "disconnected"
SYSTEM = "system"

# Verified when the agent is unknown, so a wrong id costs as long as a wrong secret.
_DUMMY_HASH = hash_secret("no such agent", log_n=14, salt=b"\0" * 16)


class Conn:
    """One websocket connection's protocol state."""

    __slots__ = ("address", "bucket", "channel", "hello", "limited", "session", "timer", "ws")

    def __init__(self, ws: ServerConnection, channel: Channel, bucket: TokenBucket) -> None:
        self.ws = ws
        self.channel = channel
        self.bucket = bucket
        self.hello = False
        self.limited = 0
        self.session: Session | None = None
        self.timer: asyncio.TimerHandle | None = None
        addr = ws.remote_address
        self.address = str(addr[0]) if addr else "?"


class AgentGateway:
    """Serves `/agent`: sessions, requests to the core, outputs to desktops."""

    name = "agents"

    def __init__(self, app: App) -> None:
        self.app = app
        self.core = app.core
        self.engine = app.engine
        self.limits = app.settings.server
        parts = app.settings.parts
        creds = parts.get("credentials")
        self.credentials = creds if isinstance(creds, Credentials) else Credentials()
        opts = parts.get("agent_gateway")
        self.options = opts if isinstance(opts, GatewayOptions) else GatewayOptions()
        self.codec: Codec[Any] = Codec(m.REQUESTS)
        self.limiter = SignInLimiter(self.limits.auth)
        lim = self.limits
        # a push older than this cannot be missing from a desktop that may still resume
        keep_for = lim.ping_interval + lim.ping_timeout + lim.resume_grace + 5.0
        self.sessions = SessionTable(lim.replay_buffer, lim.resume_grace, self._expired, keep_for)
        self.today = Today(app.settings.center.timezone)
        self.router = PushRouter(
            self.engine,
            self.sessions,
            self.today,
            clock=self.core.now,
            journal=self._journal,
            metrics=self._offer_metrics,
            recent_limit=self.options.recent_contacts,
            on_left_alone=self._left_alone,
        )
        self._stats_task: asyncio.Task[None] | None = None
        self.conns: set[Conn] = set()
        self.errors_sent = 0

    # component -----------------------------------------------------------------------

    async def start(self, app: App) -> None:
        """Register `/agent` and subscribe to the core's outputs."""
        app.web.ws_route("/agent", self._serve, lean=True)
        app.core.subscribe(self.router.deliver)
        app.core.subscribe(self._watch_sign_outs)
        if self.options.stats_interval > 0:
            self._stats_task = asyncio.get_running_loop().create_task(self._stats_loop())

    async def stop(self, app: App) -> None:
        """Close every desktop (going away) and forget the sessions."""
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stats_task
        for conn in list(self.conns):
            conn.channel.close(CLOSE_GOING_AWAY, "server shutting down")
        for s in self.sessions:
            self.sessions.drop(s)

    def _journal(self) -> RecentContacts | None:
        j = self.app.component("journal")
        return j if j is not None and hasattr(j, "recent_contacts") else None  # type: ignore[return-value]

    def _offer_metrics(self) -> OfferLatency | None:
        mt = self.app.component("metrics")
        return mt if mt is not None and hasattr(mt, "offer_latency") else None  # type: ignore[return-value]

    # public interface (admin socket) ----------------------------------------------------

    def send_message(self, agent_ids: Iterable[str], sender: str, text: str) -> int:
        """Push a `message` to each signed-in agent; how many live desktops got it."""
        at = self.core.now()
        reached = 0
        for aid in agent_ids:
            s = self.sessions.get(aid)
            if s is not None and s.push(m.Message(at=at, sender=sender, text=text)):
                reached += 1
        return reached

    def notify(self, agent_id: str, kind: str, supervisor: str, call_id: str = "") -> bool:
        """Tell an agent a supervisor monitors, whispers, barges or intercepts (or stopped)."""
        s = self.sessions.get(agent_id)
        notice = m.Notice(at=self.core.now(), kind=kind, supervisor=supervisor, call_id=call_id)
        return s is not None and s.push(notice)

    def signed_in(self) -> set[str]:
        """Agents with a session (connected, or away within the resume grace)."""
        return set(self.sessions.by_agent)

    def force_disconnect(self, agent_id: str, reason: str) -> bool:
        """Close the agent's desktop now with CLOSE_FORCED and `reason`; no resume. The core
        sees a lost desktop (READY becomes not ready, a ringing offer goes back)."""
        s = self.sessions.get(agent_id)
        if s is None:
            return False
        channel = s.channel
        self.sessions.drop(s)
        if channel is not None:
            channel.close(CLOSE_FORCED, reason or "disconnected by a supervisor")
        self._desktop_lost(agent_id, None)
        return True

    # connections ---------------------------------------------------------------------

    async def _serve(self, ws: ServerConnection) -> None:
        assert isinstance(ws, LeanConnection)
        lim = self.limits
        channel = Channel(ws, self.codec, binary=True, limit=lim.send_queue_frames)
        conn = Conn(ws, channel, TokenBucket(lim.rate_per_second, lim.rate_burst, self.core.now()))
        conn.timer = asyncio.get_running_loop().call_later(
            lim.hello_timeout, self._hello_timeout, conn
        )
        self.conns.add(conn)
        try:
            await ws.serve_messages(partial(self._frame, conn))
        finally:
            self.conns.discard(conn)
            self._gone(conn)

    def _hello_timeout(self, conn: Conn) -> None:
        conn.timer = None
        if conn.session is None:
            self._count_error("hello_timeout")
            conn.channel.close(CLOSE_HELLO_TIMEOUT, "hello and sign in within the time limit")

    def _gone(self, conn: Conn) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        conn.channel.closed = True
        s = conn.session
        if s is None or self.sessions.by_agent.get(s.agent_id) is not s:
            return
        if s.channel is not conn.channel:
            return  # resumed on another connection already
        self.sessions.lose(s, self.core.now())
        self._desktop_lost(s.agent_id, s)

    def _desktop_lost(self, agent_id: str, s: Session | None) -> None:
        """Tell the core the desktop is gone; a not-ready agent shows it in its reason."""
        agent = self.engine.agents.get(agent_id)
        if agent is None or agent.state is AgentState.LOGGED_OUT:
            return
        prior = agent.reason if agent.state is AgentState.NOT_READY else ""
        if not self._submit_quietly(ev.AgentDisconnected(agent_id)):
            return
        if (
            agent.state is AgentState.NOT_READY
            and agent.reason != DISCONNECTED
            and DISCONNECTED in self.engine.config.reasons
            and self._submit_quietly(ev.AgentNotReady(agent_id, DISCONNECTED))
            and s is not None
        ):
            s.prior_reason = prior

    def _submit_quietly(self, event: ev.Event) -> bool:
        try:
            self.core.submit(event)
        except AcdError as err:
            log.info("core refused", event=type(event).__name__, code=err.code, why=err.message)
            return False
        return True

    def _expired(self, s: Session) -> None:
        """The desktop did not come back in time."""
        agent = self.engine.agents.get(s.agent_id)
        log.info("session expired", agent_id=s.agent_id)
        if (
            agent is not None
            and agent.state is not AgentState.LOGGED_OUT
            and self.options.sign_out_after_grace
        ):
            self._submit_quietly(ev.AgentLogout(s.agent_id, SYSTEM))

    def _left_alone(self, agent_id: str) -> None:
        """An agent without a desktop entered wrap-up with a sign-out pending: nobody can
        give a wrap-up code, so the system ends it (after this batch is delivered)."""
        asyncio.get_running_loop().call_soon(self._system_logout, agent_id)

    def _system_logout(self, agent_id: str) -> None:
        agent = self.engine.agents.get(agent_id)
        if (
            agent is not None
            and agent.state is AgentState.WRAP_UP
            and self.sessions.get(agent_id) is None
        ):
            self._submit_quietly(ev.AgentLogout(agent_id, SYSTEM))

    def _watch_sign_outs(self, outputs: Any) -> None:
        for o in outputs:
            if type(o) is ev.AgentStateChanged and o.new is AgentState.LOGGED_OUT:
                self._signed_out(o.agent_id, o.actor)

    def _signed_out(self, agent_id: str, actor: str) -> None:
        """The agent is signed out: end its session once the reply went out."""
        s = self.sessions.get(agent_id)
        if s is None:
            return
        self.sessions.drop(s)
        channel = s.channel
        if channel is not None:
            code = CLOSE_FORCED if actor and actor != SYSTEM else CLOSE_NORMAL
            why = f"signed out by {actor}" if actor else "signed out"
            asyncio.get_running_loop().call_soon(channel.close, code, why)

    # frames --------------------------------------------------------------------------

    def _reply(self, conn: Conn, rid: RequestId, result: Any = None) -> None:
        conn.channel.send(Ok(rid, result))

    def _fail(
        self,
        conn: Conn,
        rid: RequestId | None,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        conn.channel.send(Error(rid, code, message, details or None))
        self._count_error(code)

    def _count_error(self, code: str) -> None:
        """Every error reply (and abuse close) counts in the metrics, by code."""
        self.errors_sent += 1
        mt = self.app.component("metrics")
        if mt is not None and hasattr(mt, "protocol_error"):
            mt.protocol_error("agent", code)

    def _frame(self, conn: Conn, frame: str | bytes) -> Awaitable[None] | None:
        now = self.core.now()
        if not conn.hello:
            conn.channel.binary = not isinstance(frame, str)
        if not conn.bucket.allow(now):
            conn.limited += 1
            if conn.limited > self.limits.rate_burst:
                self._count_error("flood")
                conn.channel.close(CLOSE_POLICY, "flood: too many requests")
            else:
                self._fail(conn, None, RATE_LIMITED, "too many requests; slow down")
            return None
        conn.limited = 0
        try:
            msg = self.codec.decode(frame)
        except FrameError as err:
            self._fail(conn, err.request_id, err.code, err.message)
            return None
        kind = type(msg)
        if kind is m.Hello:
            self._hello(conn, msg)
            return None
        if not conn.hello:
            self._fail(conn, msg.id, HELLO_REQUIRED, "send hello with the protocol version first")
            return None
        if kind is m.SignIn or kind is m.Resume:
            if conn.session is not None:
                self._fail(conn, msg.id, WRONG_STATE, "this connection is signed in already")
                return None
            return self._sign_in(conn, msg) if kind is m.SignIn else self._resume(conn, msg)
        s = conn.session
        if s is None:
            self._fail(conn, msg.id, UNAUTHENTICATED, "sign in first")
            return None
        if kind is m.Snapshot:
            self._reply(conn, msg.id, self._snapshot(s.agent_id))
            return None
        try:
            event = to_event(s.agent_id, msg)
            assert event is not None
            self.core.submit(event)
        except AcdError as err:
            self._fail(conn, msg.id, err.code, err.message, _plain(err.details))
            return None
        except Exception:
            log.exception("request failed", agent_id=s.agent_id, type=kind.__name__)
            self._fail(conn, msg.id, INTERNAL, "internal error")
            return None
        self._reply(conn, msg.id, self._result(s.agent_id, msg))
        return None

    def _result(self, agent_id: str, msg: Any) -> Any:
        """What a successful request answers besides ok: the consult leg it opened."""
        if type(msg) is m.ConsultStart or (type(msg) is m.ConferenceAdd and msg.target):
            call = self.engine.calls.get(msg.call_id)
            c = call.consult if call is not None else None
            if c is not None:
                self.router.owners[c.id] = agent_id
                return {"consult_id": c.id}
        return None

    def _hello(self, conn: Conn, msg: m.Hello) -> None:
        if conn.hello:
            self._fail(conn, msg.id, WRONG_STATE, "hello was already sent on this connection")
            return
        if msg.version != m.VERSION:
            self._fail(
                conn,
                msg.id,
                UNSUPPORTED_VERSION,
                f"this server speaks {m.PROTOCOL} version {m.VERSION}",
                {"version": m.VERSION},
            )
            return
        conn.hello = True
        result = m.HelloResult(
            m.PROTOCOL, m.VERSION, f"acd {__version__}", self.limits.ping_interval
        )
        self._reply(conn, msg.id, result)

    def _snapshot(self, agent_id: str) -> m.SnapshotResult:
        return snapshot(
            self.engine, agent_id, self.today, self.core.now(), self.router.ringing.get(agent_id)
        )

    async def _sign_in(self, conn: Conn, msg: m.SignIn) -> None:
        aid = msg.agent_id
        wait = self.limiter.retry_after(aid, conn.address, self.core.now())
        if wait > 0:
            self._fail(
                conn, msg.id, THROTTLED, "too many failed sign-ins; try later",
                {"retry_after": round(wait, 1)},
            )  # fmt: skip
            return
        stored = self.credentials.agents.get(aid) if aid in self.engine.agents else None
        ok = await asyncio.to_thread(verify_secret, msg.secret, stored or _DUMMY_HASH)
        if conn.channel.closed:
            return
        if not ok or stored is None:
            self.limiter.failed(aid, conn.address, self.core.now())
            log.info("sign-in refused", agent_id=aid, address=conn.address)
            self._fail(conn, msg.id, BAD_CREDENTIALS, "unknown agent or wrong secret")
            return
        self.limiter.succeeded(aid)
        agent = self.engine.agents[aid]
        if self.app.draining and agent.state is AgentState.LOGGED_OUT:
            # The server is stopping: agents still working may come back, nobody new starts.
            self._fail(conn, msg.id, DRAINING, "the server is draining; sign in on another")
            return
        old = self.sessions.get(aid)
        if old is not None and old.channel is not None and not old.channel.closed:
            if self.limits.second_sign_in == "refuse":
                self._fail(conn, msg.id, ALREADY_SIGNED_IN, "this agent is signed in elsewhere")
                return
            old.push(
                m.Closing(at=self.core.now(), code=CLOSE_TAKEN_OVER, reason="signed in elsewhere")
            )
            old.channel.close(CLOSE_TAKEN_OVER, "signed in from another desktop")
        s = self.sessions.open(aid, conn.channel)
        conn.session = s
        event: ev.Event = (
            ev.AgentLogin(aid, msg.endpoint)
            if agent.state is AgentState.LOGGED_OUT
            else ev.AgentReconnected(aid, msg.endpoint)
        )
        try:
            self.core.submit(event)
        except AcdError as err:
            self.sessions.drop(s)
            conn.session = None
            self._fail(conn, msg.id, err.code, err.message, _plain(err.details))
            return
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        log.info("signed in", agent_id=aid, address=conn.address)
        self._reply(
            conn,
            msg.id,
            m.SignInResult(
                aid, s.token, self.limits.resume_grace, s.log.seq, False, 0, self._snapshot(aid)
            ),
        )

    async def _resume(self, conn: Conn, msg: m.Resume) -> None:
        now = self.core.now()
        key = "resume"
        if self.limiter.retry_after(key, conn.address, now) > 0:
            self._fail(conn, msg.id, THROTTLED, "too many failed resumes; sign in")
            return
        s = self.sessions.by_resume_token(msg.token)
        if s is None:
            self.limiter.failed(key, conn.address, now)
            self._fail(conn, msg.id, RESUME_FAILED, "no such session (expired?); sign in again")
            return
        if s.channel is not None and not s.channel.closed:
            s.channel.close(CLOSE_TAKEN_OVER, "the session was resumed from another connection")
        self.sessions.attach(s, conn.channel)
        conn.session = s
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        aid = s.agent_id
        agent = self.engine.agents.get(aid)
        if agent is not None and agent.state is not AgentState.LOGGED_OUT:
            self._submit_quietly(ev.AgentReconnected(aid))
        missed = s.log.since(msg.last_seq)
        snap = self._snapshot(aid) if missed is None else None
        replay = missed or []
        self._reply(
            conn,
            msg.id,
            m.SignInResult(
                aid, s.token, self.limits.resume_grace, s.log.seq, True, len(replay), snap
            ),
        )
        s.replay(replay)
        prior, s.prior_reason = s.prior_reason, ""
        if (
            prior
            and agent is not None
            and agent.state is AgentState.NOT_READY
            and agent.reason == DISCONNECTED
        ):
            self._submit_quietly(ev.AgentNotReady(aid, prior))
        log.info("resumed", agent_id=aid, replayed=len(replay), full=missed is None)

    # periodic figures ----------------------------------------------------------------

    async def _stats_loop(self) -> None:
        interval = self.options.stats_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.push_group_stats()
            except Exception:
                log.exception("group stats failed")

    def push_group_stats(self) -> int:
        """Push each connected agent the figures of its groups; how many got them."""
        cache: dict[str, m.GroupView] = {}
        at = self.core.now()
        sent = 0
        for s in self.sessions:
            agent = self.engine.agents.get(s.agent_id)
            if s.channel is None or agent is None:
                continue
            if s.push(m.GroupStats(at=at, groups=group_views(self.engine, agent, cache))):
                sent += 1
        return sent


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """Error details as wire-safe values."""
    plain = (int, float, str, bool, type(None))
    return {k: v if isinstance(v, plain) else str(v) for k, v in details.items()}


def component(app: App) -> AgentGateway:
    """The factory listed in acd.app.COMPONENTS."""
    return AgentGateway(app)
