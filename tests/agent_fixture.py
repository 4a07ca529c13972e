"""A real server on 127.0.0.1 with the agent gateway, for protocol tests.

Without a switch link on the test server, tests play the switch by submitting its events
(AgentLegAnswered, AgentLegEnded, HoldChanged...) to the core directly; the gateway itself
runs unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from types import MappingProxyType
from typing import Any

from core_harness import agent, center, group, info

from acd import events as ev
from acd.app import App
from acd.model import SkillGroup, WrapUp, WrapUpMode
from acd.settings import ServerSettings, Settings
from agent_gateway.auth import Credentials, hash_secret
from agent_gateway.client import AgentClient
from agent_gateway.options import GatewayOptions

LOW_COST = 4  # scrypt log2 n for test secrets: fast, same code path


def secret(aid: str) -> str:
    """The test secret of an agent."""
    return f"pw-{aid}"


def make_settings(
    groups: Iterable[SkillGroup] | None = None,
    agents: Iterable[str] = ("a1", "a2", "a3"),
    **server: Any,
) -> Settings:
    """A small center: groups g (timed wrap-up 30 s), m (mandatory), n (none)."""
    if groups is None:
        groups = [
            group("g", ring_timeout=5.0, reject_delay=0.0),
            group("m", ring_timeout=5.0, wrap_up=replace_wrap("mandatory")),
            group("n", ring_timeout=5.0, wrap_up=replace_wrap("none")),
        ]
    ids = list(agents)
    codes = MappingProxyType({"inquiry": "Inquiry", "other": "Other"})
    cfg = center(
        list(groups), [agent(a, {"g": 5, "m": 5, "n": 5}) for a in ids], wrapup_codes=codes
    )
    creds = Credentials(agents={a: hash_secret(secret(a), log_n=LOW_COST) for a in ids})
    srv = ServerSettings(**server)
    return Settings(
        cfg,
        {"server": srv, "credentials": creds, "agent_gateway": GatewayOptions(stats_interval=0)},
    )


def replace_wrap(mode: str, seconds: float = 30.0) -> WrapUp:
    """A wrap-up setting."""
    return WrapUp(WrapUpMode(mode), seconds)


@contextlib.asynccontextmanager
async def running(settings: Settings, tmp_path: Any) -> AsyncIterator[App]:
    """The app with the agent gateway, listening on a free port."""
    app = App(settings, port=0, data_dir=tmp_path, components=["agent_gateway.server:component"])
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def url(app: App) -> str:
    """The /agent websocket address."""
    return f"ws://127.0.0.1:{app.web.port}/agent"


async def desktop(app: App, aid: str, *, binary: bool = True, endpoint: str = "") -> AgentClient:
    """A signed-in client of `aid` (at `endpoint`: hot-desking)."""
    c = AgentClient(url(app), binary=binary)
    await c.connect()
    await c.sign_in(aid, secret(aid), endpoint=endpoint)
    return c


def call(app: App, cid: str, grp: str = "g", **kw: Any) -> None:
    """An inbound call enters a group (as the IVR would enqueue it)."""
    app.core.submit(ev.EnqueueCall(info(cid, **kw), grp))


def switch_answers(app: App, cid: str, aid: str) -> None:
    """The switch confirms the agent's leg is connected."""
    app.core.submit(ev.AgentLegAnswered(cid, aid))


class MetricsRecorder:
    """Records what the gateway reports to the component named "metrics"."""

    name = "metrics"

    def __init__(self) -> None:
        self.offers: list[float] = []
        self.errors: list[tuple[str, str]] = []

    async def start(self, app: App) -> None:
        return None

    async def stop(self, app: App) -> None:
        return None

    def offer_latency(self, seconds: float) -> None:
        self.offers.append(seconds)

    def protocol_error(self, side: str, code: str) -> None:
        self.errors.append((side, code))


def metrics_recorder(_app: App) -> MetricsRecorder:
    """Factory for App components."""
    return MetricsRecorder()
