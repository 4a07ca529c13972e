"""The supervisor admin socket (`/admin`): sign-in, scoped actions, audit and the wallboard.

Component "admin". Each request is checked against the signed-in staff member's role and
scope (agent_gateway.scope) before anything changes; every action, allowed or refused, goes
to the audit trail (the journal's `audit`, plus a structured log line). Call actions and
caller blocks are carried out by the switch link (component "switch"), messages and
supervision notices to agents by the agent gateway (component "agents"); when one of them is
not running the request gets the error `unavailable` and nothing is pretended.

Forced state changes go to the core with the staff id as actor; the gateway pushes them to the
agent's desktop, and a forced sign-out ends the desktop session (close 4003 "signed out by
<id>") once it takes effect: that is the gateway's job, not this socket's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

import msgspec
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from acd import events as ev
from acd.errors import AcdError, Forbidden
from acd.model import WrapUpMode
from acd.states import AgentState
from agent_gateway import admin_messages as m
from agent_gateway.auth import Credentials, SignInLimiter, Staff, verify_secret
from agent_gateway.framing import (
    CLOSE_HELLO_TIMEOUT,
    CLOSE_NORMAL,
    CLOSE_POLICY,
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
    PushLog,
    TokenBucket,
)
from agent_gateway.scope import Scope
from agent_gateway.wallboard import (
    View,
    agent_row,
    assigned_waits,
    group_row,
    render_agent,
    render_group,
)
from agent_gateway.wallboard_feed import WallboardFeed

if TYPE_CHECKING:
    from acd.app import App
    from acd.engine import Engine
    from acd.live import Call

log = structlog.get_logger("acd.admin")

UNAVAILABLE = "unavailable"
# A well-formed hash of nothing anyone knows, checked when the user does not exist so that
# unknown users cost the same time as known ones.
_DUMMY_HASH = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class Unavailable(AcdError):
    """The side that carries this action out is not running."""

    code = UNAVAILABLE


class BadRequest(AcdError):
    """A well-formed request that does not make sense."""

    code = "bad_message"


class SwitchLink(Protocol):
    """What the admin socket asks of the switch link (component "switch", ivr.link)."""

    async def supervise(self, call_id: str, mode: str, supervisor: str, endpoint: str) -> None:
        """Add, change or remove a supervisor leg on a call, once the switch confirmed."""

    def add_block(self, rule: dict[str, Any], actor: str) -> dict[str, Any]:
        """Add a caller block; the rule as stored."""

    def remove_block(self, rule: dict[str, Any], actor: str) -> dict[str, Any]:
        """Remove a caller block; the rule removed."""

    def blocks(self) -> list[dict[str, Any]]:
        """The caller blocks in force."""


class AgentDesks(Protocol):
    """What the admin socket asks of the agent gateway (component "agents")."""

    def send_message(self, agent_ids: list[str], sender: str, text: str) -> int:
        """Push a text to agents; how many desktops received it."""

    def notify(self, agent_id: str, kind: str, supervisor: str, call_id: str = "") -> bool:
        """Tell an agent a supervisor joined (or left) its call."""


def _params(msg: msgspec.Struct) -> dict[str, Any]:
    """A request's fields for the audit trail (never the secret)."""
    data: dict[str, Any] = msgspec.to_builtins(msg)
    for k in ("id", "type", "secret"):
        data.pop(k, None)
    return data


def _target(msg: msgspec.Struct) -> str:
    for attr in ("agent_id", "call_id", "group", "team"):
        value = getattr(msg, attr, None)
        if value:
            if attr == "agent_id" and isinstance(msg, m.AssignCall):
                return f"call:{msg.call_id}"
            prefix = "agent" if attr == "agent_id" else attr.removesuffix("_id")
            return f"{prefix}:{value}"
    if isinstance(msg, m.SendMessage) and msg.agents:
        return "agents:" + ",".join(msg.agents)
    if isinstance(msg, m.AddBlock | m.RemoveBlock):
        return f"caller:{msg.rule.pattern}"
    return "center"


class AdminSession:
    """One /admin connection."""

    def __init__(self, admin: AdminComponent, channel: Channel, address: str) -> None:
        self.admin = admin
        self.channel = channel
        self.address = address
        self.pushes = PushLog(1)  # no resume on /admin: a reconnect starts with a snapshot
        self.greeted = False
        self.staff: Staff | None = None
        self.scope: Scope | None = None
        self.subscribed = False
        limits = admin.app.settings.server
        self.bucket = TokenBucket(limits.rate_per_second, limits.rate_burst, admin.now())

    @property
    def scope_key(self) -> Hashable:
        """Sessions with equal keys share wallboard deltas."""
        assert self.scope is not None
        return self.scope.key

    def reply(self, msg: Ok | Error) -> None:
        """Send a reply."""
        self.channel.send(msg)

    async def handle(self, frame: str | bytes) -> None:
        """Decode one frame and answer it."""
        admin = self.admin
        if not self.bucket.allow(admin.now()):
            self.reply(Error(None, RATE_LIMITED, "too many requests; slow down"))
            return
        try:
            msg: m.Request = admin.codec.decode(frame)
        except FrameError as err:
            self.reply(err.reply())
            return
        if not self.greeted and not isinstance(msg, m.Hello):
            self.reply(Error(msg.id, HELLO_REQUIRED, "send hello first"))
            return
        if self.staff is None and not isinstance(msg, m.Hello | m.SignIn):
            self.reply(Error(msg.id, UNAUTHENTICATED, "sign in first"))
            return
        kind = type(msg).__struct_config__.tag
        assert isinstance(kind, str)
        try:
            result = await admin.dispatch(self, msg)
        except AcdError as err:
            if kind in m.ACTIONS:
                admin.audit(self, kind, msg, err.code)
            self.reply(Error(msg.id, err.code, err.message, _details(err.details)))
            return
        except Exception:
            log.exception("admin request failed", type=kind)
            if kind in m.ACTIONS:
                admin.audit(self, kind, msg, INTERNAL)
            self.reply(Error(msg.id, INTERNAL, "internal error"))
            return
        if kind in m.ACTIONS:
            admin.audit(self, kind, msg, "ok")
        if result is not _ALREADY_REPLIED:
            self.reply(Ok(msg.id, result))

    def closed(self) -> None:
        """The connection ended."""
        if self.subscribed:
            self.admin.feed.unsubscribe(self)
            self.subscribed = False
        self.admin.sessions.discard(self)


def _details(details: Mapping[str, Any]) -> dict[str, Any] | None:
    if not details:
        return None
    return {k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in details.items()}


Handler = Callable[[AdminSession, Any], Awaitable[Any]]


class AdminComponent:
    """The /admin websocket, its sessions and the wallboard feed."""

    name = "admin"

    def __init__(self, app: App) -> None:
        self.app = app
        self.codec: Codec[m.Request] = Codec(m.REQUESTS)
        self.limiter = SignInLimiter(app.settings.server.auth)
        self.feed = WallboardFeed(lambda: app.engine, app.core.now)
        self.sessions: set[AdminSession] = set()
        self._handlers: dict[type, Handler] = {
            m.Hello: self._hello,
            m.SignIn: self._sign_in,
            m.SignOut: self._sign_out,
            m.Snapshot: self._snapshot,
            m.Subscribe: self._subscribe,
            m.Unsubscribe: self._unsubscribe,
            m.Supervise: self._supervise,
            m.ForceLogout: self._force_logout,
            m.ForceNotReady: self._force_not_ready,
            m.ForceReady: self._force_ready,
            m.SetSkills: self._set_skills,
            m.SendMessage: self._send_message,
            m.AssignCall: self._assign_call,
            m.SetPriority: self._set_priority,
            m.MoveCall: self._move_call,
            m.WithdrawCall: self._withdraw_call,
            m.PauseGroup: self._pause_group,
            m.ResumeGroup: self._resume_group,
            m.Reload: self._reload,
            m.AddBlock: self._add_block,
            m.RemoveBlock: self._remove_block,
            m.ListBlocks: self._list_blocks,
        }

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine (read only here; changes go through the host)."""
        return self.app.engine

    @property
    def credentials(self) -> Credentials:
        """The [credentials] and [supervisors] sections."""
        creds = self.app.settings.parts.get("credentials")
        return creds if isinstance(creds, Credentials) else Credentials()

    def now(self) -> float:
        """The host's clock."""
        return self.app.core.now()

    async def start(self, app: App) -> None:
        """Serve /admin and watch the engine's outputs."""
        app.web.ws_route("/admin", self.serve)
        app.core.subscribe(self._on_outputs)

    async def stop(self, app: App) -> None:
        """Stop the feed and close every session."""
        self.feed.stop()
        for s in list(self.sessions):
            s.channel.close(1001, "server shutting down")

    # -- connections ----------------------------------------------------------------------

    async def serve(self, ws: ServerConnection) -> None:
        """One /admin connection, from hello to close."""
        limits = self.app.settings.server
        try:
            first = await asyncio.wait_for(ws.recv(), limits.hello_timeout)
        except TimeoutError:
            await ws.close(CLOSE_HELLO_TIMEOUT, "no hello in time")
            return
        except ConnectionClosed:
            return
        channel = Channel(
            ws, self.codec, binary=isinstance(first, bytes), limit=limits.send_queue_frames
        )
        addr = ws.remote_address[0] if ws.remote_address else "?"
        session = AdminSession(self, channel, str(addr))
        self.sessions.add(session)
        loop = asyncio.get_running_loop()

        # Signing in may take a few tries, not forever.
        def unsigned() -> None:
            if session.staff is None:
                channel.close(CLOSE_POLICY, "not signed in in time")

        guard = loop.call_later(limits.hello_timeout * 6, unsigned)
        try:
            await session.handle(first)
            async for frame in ws:
                if channel.closed:
                    break
                await session.handle(frame)
        except ConnectionClosed:
            pass
        finally:
            guard.cancel()
            session.closed()
            if not channel.closed:
                await channel.drain(2.0)
                channel.close(CLOSE_NORMAL, "")

    async def dispatch(self, session: AdminSession, msg: m.Request) -> Any:
        """Run the handler of a request; AcdError for refusals."""
        return await self._handlers[type(msg)](session, msg)

    # -- audit ----------------------------------------------------------------------------

    def audit(self, session: AdminSession, action: str, msg: Any, result: str) -> None:
        """Record one action, allowed or refused, in the journal and the log."""
        staff = session.staff
        who = staff.id if staff else getattr(msg, "user", "")
        role = staff.role if staff else "unknown"
        at, target, params = self.now(), _target(msg), _params(msg)
        log.info(
            "audit", who=who, role=role, action=action, target=target, result=result,
            address=session.address,
        )  # fmt: skip
        journal: Any = self.app.component("journal")
        if journal is not None:
            try:
                journal.audit(
                    at=at, who=who, role=role, action=action, target=target, params=params,
                    result=result,
                )  # fmt: skip
            except Exception:
                log.exception("audit record failed", action=action)

    # -- engine outputs ---------------------------------------------------------------------

    def _on_outputs(self, outs: Any) -> None:
        self.feed.on_outputs(outs)

    # -- helpers --------------------------------------------------------------------------

    def _submit(self, event: ev.Event) -> list[ev.Output]:
        return self.app.core.submit(event)

    def _scope(self, session: AdminSession) -> Scope:
        assert session.scope is not None
        return session.scope

    def _who(self, session: AdminSession) -> str:
        assert session.staff is not None
        return session.staff.id

    def _switch(self) -> SwitchLink:
        link: Any = self.app.component("switch")
        if link is None:
            raise Unavailable("the switch link is not running")
        return cast(SwitchLink, link)

    def _desks(self) -> AgentDesks | None:
        desks: Any = self.app.component("agents")
        return cast(AgentDesks, desks) if desks is not None else None

    def _agent_state(self, agent_id: str) -> dict[str, Any]:
        """The reply to a forced change: the state now and, when deferred, what it waits for."""
        a = self.engine.agents[agent_id]
        call = a.calls[0] if a.calls else a.offer
        waits: list[str] = []
        # Forced changes end a wrap-up at once, so only a call (ringing or connected) defers.
        if a.pending is not None and a.state in (AgentState.RESERVED, AgentState.ON_CALL):
            waits.append("call_end")
            if call is not None and self._has_wrap_up(call):
                waits.append("wrap_up")
        return {
            "state": a.state.value,
            "reason": a.reason,
            "pending": a.pending.value if a.pending is not None else None,
            "pending_reason": a.pending_reason,
            "deferred": a.pending is not None,
            "waits_for": waits,
            "call_id": call.id if call is not None and waits else None,
        }

    def _has_wrap_up(self, call: Call) -> bool:
        gid = call.parent.group if call.parent is not None else call.group
        g = self.engine.groups.get(gid)
        return g is not None and g.cfg.wrap_up.mode is not WrapUpMode.NONE

    # -- session requests -------------------------------------------------------------------

    async def _hello(self, session: AdminSession, msg: m.Hello) -> Any:
        if msg.version != m.VERSION:
            raise _Unsupported(
                f"protocol version {msg.version} is not spoken here", version=m.VERSION
            )
        session.greeted = True
        from acd import __version__

        return {"version": m.VERSION, "server": __version__}

    async def _sign_in(self, session: AdminSession, msg: m.SignIn) -> Any:
        if session.staff is not None:
            raise BadRequest("already signed in")
        now = self.now()
        wait = self.limiter.retry_after(msg.user, session.address, now)
        if wait > 0:
            self.audit(session, "sign_in", msg, RATE_LIMITED)
            raise _Throttled(
                f"too many failed sign-ins; retry in {wait:.0f} s", retry_after=round(wait, 1)
            )
        creds = self.credentials
        staff = creds.staff.get(msg.user)
        agent_hash = creds.agents.get(msg.user)
        stored = staff.secret if staff else agent_hash or _DUMMY_HASH
        good = await asyncio.to_thread(verify_secret, msg.secret, stored)
        if good and staff is None:
            # An agent's own credentials: right secret, wrong socket.
            self.audit(session, "sign_in", msg, "forbidden")
            raise Forbidden("agent credentials cannot sign in here; agents use /agent")
        if not good or staff is None:
            self.limiter.failed(msg.user, session.address, self.now())
            self.audit(session, "sign_in", msg, UNAUTHENTICATED)
            raise _BadCredentials("unknown user or wrong secret")
        self.limiter.succeeded(msg.user)
        session.staff = staff
        session.scope = Scope(staff)
        self.audit(session, "sign_in", msg, "ok")
        return {
            "user": staff.id,
            "name": staff.name,
            "role": staff.role,
            "teams": sorted(staff.teams),
            "groups": sorted(staff.groups) if staff.role != "admin" else list(self.engine.groups),
        }

    async def _sign_out(self, session: AdminSession, msg: m.SignOut) -> Any:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, session.channel.close, CLOSE_NORMAL, "signed out")
        return None

    def _view(self, scope: Scope) -> Callable[[Engine], View]:
        def view(engine: Engine) -> View:
            return View(scope.groups(engine), scope.agents(engine))

        return view

    async def _snapshot(self, session: AdminSession, msg: m.Snapshot) -> Any:
        scope, engine, now = self._scope(session), self.engine, self.now()
        assigned = assigned_waits(engine)
        groups = {
            gid: render_group(
                group_row(engine, engine.groups[gid], now, assigned.get(gid, ())), now
            )
            for gid in scope.groups(engine)
        }
        agents = {
            aid: render_agent(agent_row(engine.agents[aid]), now)
            for aid in sorted(scope.agents(engine))
        }
        calls = [_call_row(c, now) for c in engine.calls.values() if scope.call_ok(c)]
        calls.sort(key=lambda r: (r["group"], -r["waited"]))
        return {"at": now, "groups": groups, "agents": agents, "calls": calls}

    async def _subscribe(self, session: AdminSession, msg: m.Subscribe) -> Any:
        if session.subscribed:
            raise BadRequest("already subscribed")
        session.reply(Ok(msg.id, {"period": self.feed.core.period}))
        session.subscribed = True
        self.feed.subscribe(session, self._view(self._scope(session)))
        return _ALREADY_REPLIED

    async def _unsubscribe(self, session: AdminSession, msg: m.Unsubscribe) -> Any:
        if session.subscribed:
            self.feed.unsubscribe(session)
            session.subscribed = False
        return None

    # -- call actions ------------------------------------------------------------------------

    async def _supervise(self, session: AdminSession, msg: m.Supervise) -> Any:
        call = self._scope(session).need_call(self.engine, msg.call_id)
        if msg.mode != "stop" and not msg.endpoint:
            raise BadRequest("supervise needs the endpoint the switch should connect")
        link = self._switch()
        agents = [a.id for a in call.agents]  # before an intercept takes them off the call
        who = self._who(session)
        await link.supervise(call.id, msg.mode, who, msg.endpoint)
        # The switch confirmed: the agents on the call learn who joined it, and how.
        desks = self._desks()
        told = [a for a in agents if desks is not None and desks.notify(a, msg.mode, who, call.id)]
        return {"call_id": call.id, "mode": msg.mode, "agents_told": told}

    # -- agent actions -------------------------------------------------------------------------

    async def _force_logout(self, session: AdminSession, msg: m.ForceLogout) -> Any:
        self._scope(session).need_agent(self.engine, msg.agent_id)
        self._submit(ev.AgentLogout(msg.agent_id, actor=self._who(session)))
        return self._agent_state(msg.agent_id)

    async def _force_not_ready(self, session: AdminSession, msg: m.ForceNotReady) -> Any:
        self._scope(session).need_agent(self.engine, msg.agent_id)
        self._submit(ev.AgentNotReady(msg.agent_id, msg.reason, actor=self._who(session)))
        return self._agent_state(msg.agent_id)

    async def _force_ready(self, session: AdminSession, msg: m.ForceReady) -> Any:
        self._scope(session).need_agent(self.engine, msg.agent_id)
        self._submit(ev.AgentReady(msg.agent_id, actor=self._who(session)))
        return self._agent_state(msg.agent_id)

    async def _set_skills(self, session: AdminSession, msg: m.SetSkills) -> Any:
        self._scope(session).need_agent(self.engine, msg.agent_id)
        if msg.skills is None and msg.groups is None:
            raise BadRequest("give skills, groups or both")
        groups = tuple(msg.groups) if msg.groups is not None else None
        self._submit(ev.SetAgentSkills(msg.agent_id, self._who(session), msg.skills, groups))
        a = self.engine.agents[msg.agent_id]
        return {"skills": dict(a.skills), "groups": list(a.order)}

    async def _send_message(self, session: AdminSession, msg: m.SendMessage) -> Any:
        scope, engine = self._scope(session), self.engine
        given = sum(x is not None for x in (msg.agents, msg.team, msg.group))
        if given != 1:
            raise BadRequest("address the message to exactly one of agents, team or group")
        if not msg.text.strip():
            raise BadRequest("an empty message")
        if msg.agents is not None:
            ids = sorted({scope.need_agent(engine, a).id for a in msg.agents})
        else:
            ids = scope.agents_of(engine, msg.team, msg.group)
        desks = self._desks()
        if desks is None:
            raise Unavailable("the agent gateway is not running")
        delivered = int(desks.send_message(ids, self._who(session), msg.text))
        return {"recipients": len(ids), "delivered": delivered}

    # -- queue actions -------------------------------------------------------------------------

    async def _assign_call(self, session: AdminSession, msg: m.AssignCall) -> Any:
        scope = self._scope(session)
        scope.need_call(self.engine, msg.call_id)
        scope.need_agent(self.engine, msg.agent_id)
        outs = self._submit(ev.AssignCall(msg.call_id, msg.agent_id, self._who(session)))
        offered = any(isinstance(o, ev.CallOffered) and o.call_id == msg.call_id for o in outs)
        return {"call_id": msg.call_id, "agent_id": msg.agent_id, "offered": offered}

    async def _set_priority(self, session: AdminSession, msg: m.SetPriority) -> Any:
        self._scope(session).need_call(self.engine, msg.call_id)
        self._submit(ev.SetCallPriority(msg.call_id, msg.priority, self._who(session)))
        return {"priority": self.engine.calls[msg.call_id].base}

    async def _move_call(self, session: AdminSession, msg: m.MoveCall) -> Any:
        scope = self._scope(session)
        scope.need_call(self.engine, msg.call_id)
        scope.need_group(self.engine, msg.group)
        self._submit(ev.MoveCall(msg.call_id, msg.group, self._who(session)))
        call = self.engine.calls.get(msg.call_id)
        return {"group": call.group if call is not None else msg.group}

    async def _withdraw_call(self, session: AdminSession, msg: m.WithdrawCall) -> Any:
        self._scope(session).need_call(self.engine, msg.call_id)
        self._submit(ev.WithdrawCall(msg.call_id, msg.to, self._who(session)))
        return {"to": msg.to}

    async def _pause_group(self, session: AdminSession, msg: m.PauseGroup) -> Any:
        self._scope(session).need_group(self.engine, msg.group)
        self._submit(ev.PauseGroup(msg.group, self._who(session), True))
        return {"group": msg.group, "paused": True}

    async def _resume_group(self, session: AdminSession, msg: m.ResumeGroup) -> Any:
        self._scope(session).need_group(self.engine, msg.group)
        self._submit(ev.PauseGroup(msg.group, self._who(session), False))
        return {"group": msg.group, "paused": False}

    # -- admin actions ---------------------------------------------------------------------------

    async def _reload(self, session: AdminSession, msg: m.Reload) -> Any:
        self._scope(session).need_admin("reload")
        version = await self.app.reload(self._who(session))
        return {"version": version}

    async def _add_block(self, session: AdminSession, msg: m.AddBlock) -> Any:
        self._scope(session).need_admin("add_block")
        rule = msgspec.to_builtins(msg.rule)
        return self._switch().add_block(rule, self._who(session))

    async def _remove_block(self, session: AdminSession, msg: m.RemoveBlock) -> Any:
        self._scope(session).need_admin("remove_block")
        rule = msgspec.to_builtins(msg.rule)
        return self._switch().remove_block(rule, self._who(session))

    async def _list_blocks(self, session: AdminSession, msg: m.ListBlocks) -> Any:
        self._scope(session).need_admin("list_blocks")
        return self._switch().blocks()


class _Unsupported(AcdError):
    code = UNSUPPORTED_VERSION


class _Throttled(AcdError):
    code = RATE_LIMITED


class _BadCredentials(AcdError):
    code = UNAUTHENTICATED


class _Replied:
    """Marker: the handler sent its reply itself (before a push that must follow it)."""


_ALREADY_REPLIED = _Replied()


def _call_row(c: Call, now: float) -> dict[str, Any]:
    info = c.info
    return {
        "id": c.id,
        "group": c.group,
        "queues": sorted(c.entries),
        "kind": c.kind.value,
        "phase": c.phase.value,
        "priority": c.base,
        "waited": round(max(0.0, now - c.wait_from), 3),
        "caller": info.caller,
        "brand": info.brand,
        "vip": info.vip,
        "agents": [a.id for a in c.agents] or ([c.agent.id] if c.agent is not None else []),
        "assigned_to": c.assigned_to.id if c.assigned_to is not None else None,
        "held": c.held,
    }


def component(app: App) -> AdminComponent:
    """The factory named in acd.app.COMPONENTS."""
    return AdminComponent(app)
