"""A small center, staff credentials and a running server for the /admin tests.

Teams: "ta" (agents a1, a4) and "tb" (a2, a3). Groups: "vip" (skill vip) and "gen" (skill gen).
Staff: sup-a (team ta, group vip), sup-b (team tb, group gen), boss (admin). Secrets are
"pw-<id>"; agents have hashes too (agent credentials must be refused on /admin).

Until the switch link, the agent gateway and the journal run in the same server, the tests
register small recorders with exactly the methods the admin socket calls on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from core_harness import agent, center, group

from acd import events as ev
from acd.app import App
from acd.errors import AcdError
from acd.model import Team
from acd.settings import AuthLimits, ServerSettings, Settings
from agent_gateway.admin_client import AdminClient
from agent_gateway.auth import Credentials, Staff, hash_secret

COST = 4  # scrypt log2(n): cheap hashes keep the tests fast; the format is the real one


def _h(secret: str) -> str:
    return hash_secret(secret, log_n=COST)


def admin_settings(max_failures: int = 3) -> Settings:
    """The test center with credentials for agents and staff."""
    cfg = center(
        [group("vip", ring_timeout=30), group("gen", ring_timeout=30)],
        [
            agent("a1", {"vip": 5}, team="ta"),
            agent("a4", {"vip": 5}, team="ta"),
            agent("a2", {"gen": 5}, team="tb"),
            agent("a3", {"gen": 5}, team="tb"),
        ],
        teams=MappingProxyType({"ta": Team("ta", "Team A"), "tb": Team("tb", "Team B")}),
    )
    staff = {
        "sup-a": Staff("sup-a", "supervisor", _h("pw-sup-a"), "A lead", frozenset({"ta"}),
                       frozenset({"vip"})),
        "sup-b": Staff("sup-b", "supervisor", _h("pw-sup-b"), "B lead", frozenset({"tb"}),
                       frozenset({"gen"})),
        "boss": Staff("boss", "admin", _h("pw-boss"), "Admin"),
    }  # fmt: skip
    creds = Credentials(
        agents=MappingProxyType({a: _h(f"pw-{a}") for a in ("a1", "a2", "a3", "a4")}),
        staff=MappingProxyType(staff),
    )
    server = ServerSettings(auth=AuthLimits(max_failures=max_failures, window=60, lockout=300))
    return Settings(cfg, {"server": server, "credentials": creds})


@dataclass
class AuditRecorder:
    """Stands in for the journal's audit trail."""

    name: str = "journal"
    entries: list[dict[str, Any]] = field(default_factory=list)

    async def stop(self, app: App) -> None:
        pass

    def audit(
        self,
        *,
        at: float,
        who: str,
        role: str,
        action: str,
        target: str,
        params: Mapping[str, Any],
        result: str,
    ) -> None:
        self.entries.append(
            {"at": at, "who": who, "role": role, "action": action, "target": target,
             "params": dict(params), "result": result}
        )  # fmt: skip

    def of(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["action"] == action]


class SwitchError(AcdError):
    code = "no_such_leg"


@dataclass
class SwitchRecorder:
    """Stands in for the switch link's supervisor legs and caller blocks."""

    name: str = "switch"
    legs: list[tuple[str, str, str, str]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)

    async def stop(self, app: App) -> None:
        pass

    async def supervise(self, call_id: str, mode: str, supervisor: str, endpoint: str) -> None:
        if mode == "stop" and not any(c == call_id and s == supervisor for c, _, s, _ in self.legs):
            raise SwitchError("no supervisor leg on that call")
        self.legs.append((call_id, mode, supervisor, endpoint))

    def add_block(self, rule: Mapping[str, Any], actor: str) -> dict[str, Any]:
        entry = {**rule, "by": actor}
        self.rules.append(entry)
        return entry

    def remove_block(self, rule: Mapping[str, Any], actor: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.get("pattern") != rule.get("pattern")]
        return len(self.rules) < before

    def blocks(self) -> list[dict[str, Any]]:
        return list(self.rules)


@dataclass
class DesksRecorder:
    """Stands in for the agent gateway's messages and session control."""

    name: str = "agents"
    online: set[str] = field(default_factory=set)
    messages: list[tuple[list[str], str, str]] = field(default_factory=list)
    kicked: list[tuple[str, str]] = field(default_factory=list)

    async def stop(self, app: App) -> None:
        pass

    def send_message(self, agent_ids: list[str], sender: str, text: str) -> int:
        self.messages.append((list(agent_ids), sender, text))
        return sum(a in self.online for a in agent_ids)

    def signed_in(self) -> set[str]:
        return set(self.online)

    def force_disconnect(self, agent_id: str, reason: str) -> bool:
        self.kicked.append((agent_id, reason))
        return agent_id in self.online


@dataclass
class Server:
    """A running server with the admin component and the recorders."""

    app: App
    journal: AuditRecorder
    switch: SwitchRecorder
    desks: DesksRecorder
    outputs: list[ev.Output]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.app.web.port}/admin"

    async def client(self, user: str | None = None, *, binary: bool = False) -> AdminClient:
        secret = f"pw-{user}" if user else None
        return await AdminClient.connect(self.url, user, secret, binary=binary)

    def submit(self, event: ev.Event) -> list[ev.Output]:
        return self.app.core.submit(event)

    def engine_state(self, agent_id: str) -> tuple[str, str]:
        a = self.app.engine.agents[agent_id]
        return a.state.value, a.reason

    def changes(self, agent_id: str) -> list[ev.AgentStateChanged]:
        return [
            o for o in self.outputs
            if isinstance(o, ev.AgentStateChanged) and o.agent_id == agent_id
        ]  # fmt: skip


async def running(tmp_path: Any, *, with_sides: bool = True) -> AsyncIterator[Server]:
    """Start a server on 127.0.0.1 (a free port) and stop it afterwards."""
    app = App(
        admin_settings(), port=0, data_dir=tmp_path, components=["agent_gateway.admin:component"]
    )
    outputs: list[ev.Output] = []
    app.core.subscribe(outputs.extend)
    await app.start()
    server = Server(app, AuditRecorder(), SwitchRecorder(), DesksRecorder(), outputs)
    app.components["journal"] = server.journal  # type: ignore[assignment]
    if with_sides:
        app.components["switch"] = server.switch  # type: ignore[assignment]
        app.components["agents"] = server.desks  # type: ignore[assignment]
    try:
        yield server
    finally:
        await app.stop()
