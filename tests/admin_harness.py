"""A small center and a whole running server for the /admin tests.

The server runs every component of `acd serve` (the journal in a temporary data folder, the
metrics, the switch link, the agent gateway and the admin socket) on 127.0.0.1. A simulated
switch (loadtest.sim_switch) is connected on /switch and places the calls; agents sign in on
/agent with the real desktop client; staff use the real admin client.

Teams: "ta" (agents a1, a4) and "tb" (a2, a3). Groups: "vip" (skill vip, dialed 100) and
"gen" (skill gen, dialed 200), both with a timed wrap-up of a minute. Staff: sup-a (team ta,
group vip), sup-b (team tb, group gen), boss (admin). Secrets are "pw-<id>"; agents have
hashes too (agent credentials must be refused on /admin).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acd import events as ev
from acd.app import App
from acd.journal import JournalComponent
from acd.settings import Settings, load_settings
from agent_gateway import messages as am
from agent_gateway.admin_client import AdminClient
from agent_gateway.auth import hash_secret
from agent_gateway.client import AgentClient
from loadtest.sim_switch import SimCall, SimSwitch

COST = 4  # scrypt log2(n): cheap hashes keep the tests fast; the format is the real one
SWITCH_TOKEN = "pbx-token"
DIALED = {"vip": "100", "gen": "200"}
AGENTS = {"a1": ("ta", "vip"), "a4": ("ta", "vip"), "a2": ("tb", "gen"), "a3": ("tb", "gen")}
STAFF = {
    "sup-a": ('"supervisor"', '["ta"]', '["vip"]', "A lead"),
    "sup-b": ('"supervisor"', '["tb"]', '["gen"]', "B lead"),
    "boss": ('"admin"', "[]", "[]", "Admin"),
}

CENTER = """
[center]
name = "admin test"
timezone = "UTC"

[reasons]
break = "Break"
lunch = "Lunch"

[teams.ta]
name = "Team A"
[teams.tb]
name = "Team B"

[groups.vip]
name = "VIP"
skill = "vip"
ring_timeout = 30
wrap_up = { mode = "timed", seconds = 60 }

[groups.gen]
name = "GEN"
skill = "gen"
ring_timeout = 30
wrap_up = { mode = "timed", seconds = 60 }

[server.auth]
max_failures = MAX_FAILURES
window = 60
lockout = 300

[agent_gateway]
stats_interval = 0

[switch]
ack_timeout = 2
[switch.switches.pbx-1]
token = "SWITCH_HASH"

[prompts]
blocked = "Your number is blocked"
goodbye = "Goodbye"
transfer-failed = "The transfer failed"

[ivr]
default_flow = "gen"
[ivr.entry]
"100" = "vip"
"200" = "gen"
[ivr.flows.vip]
start = "q"
[ivr.flows.vip.nodes.q]
kind = "queue"
group = "vip"
[ivr.flows.gen]
start = "q"
[ivr.flows.gen.nodes.q]
kind = "queue"
group = "gen"
"""


def _h(secret: str) -> str:
    return hash_secret(secret, log_n=COST)


def write_center(root: Path, max_failures: int = 3) -> Path:
    """Write the test center (with credentials and a switch token); its path."""
    text = CENTER.replace("MAX_FAILURES", str(max_failures))
    text = text.replace("SWITCH_HASH", _h(SWITCH_TOKEN))
    for aid, (team, skill) in AGENTS.items():
        text += f'\n[agents.{aid}]\nnumber = "{aid}"\nteam = "{team}"\nskills = {{ {skill} = 5 }}\n'
    text += "\n[credentials.agents]\n"
    text += "".join(f'{aid} = "{_h("pw-" + aid)}"\n' for aid in AGENTS)
    for sid, (role, teams, groups, name) in STAFF.items():
        text += (
            f'\n[supervisors.{sid}]\nname = "{name}"\nrole = {role}\nteams = {teams}\n'
            f'groups = {groups}\nsecret = "{_h("pw-" + sid)}"\n'
        )
    root.mkdir(parents=True, exist_ok=True)
    path = root / "center.toml"
    path.write_text(text, encoding="utf-8")
    return path


def admin_settings(root: Path, max_failures: int = 3) -> Settings:
    """The test center's settings, loaded and validated like `acd serve` does."""
    return load_settings(write_center(root, max_failures))


@dataclass
class Server:
    """A running server with every component, a connected switch and helpers."""

    app: App
    switch: SimSwitch
    data_dir: Path
    outputs: list[ev.Output]
    desks: dict[str, AgentClient] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.app.web.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/admin"

    @property
    def journal(self) -> JournalComponent:
        j = self.app.component("journal")
        assert isinstance(j, JournalComponent)
        return j

    async def client(self, user: str | None = None, *, binary: bool = False) -> AdminClient:
        secret = f"pw-{user}" if user else None
        return await AdminClient.connect(self.url, user, secret, binary=binary)

    async def desk(self, aid: str, *, ready: bool = True) -> AgentClient:
        """The agent's desktop, signed in (and made ready)."""
        c = AgentClient(f"{self.base}/agent")
        await c.connect()
        await c.sign_in(aid, f"pw-{aid}")
        if ready:
            await c.ready()
        self.desks[aid] = c
        return c

    async def call(self, cid: str, group: str, caller: str = "") -> SimCall:
        """A caller dials the group's number on the switch; returns once the call waits."""
        c = await self.switch.place(caller or "139" + cid.rjust(8, "0")[-8:], DIALED[group], cid)
        await until(lambda: cid in self.app.engine.calls)
        return c

    async def connected(self, aid: str, cid: str, group: str) -> SimCall:
        """Place a call, the (ready) agent's desktop accepts it and the switch connects it."""
        desk = self.desks[aid]
        c = await self.call(cid, group)
        offer = await desk.next_push(am.Offer)
        assert offer.call_id == cid
        await desk.accept(cid)
        while (await desk.next_push(am.CallChanged)).event != "connected":
            pass
        return c

    async def journal_call(self, call_id: str) -> Any:
        """The call's record in the journal, once committed."""
        await self.journal.barrier()
        store: Any = self.journal.store
        return store.call(call_id)

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

    async def audit(self, *args: str) -> list[dict[str, Any]]:
        """`acd audit --json ARGS` on the server's data folder, once the journal committed."""
        from acd.cli import main

        await self.journal.barrier()
        buf = io.StringIO()

        def run() -> int:
            with redirect_stdout(buf):
                return main(["audit", "--data-dir", str(self.data_dir), "--json", *args])

        assert await asyncio.to_thread(run) == 0
        rows: list[dict[str, Any]] = json.loads(buf.getvalue())
        return rows


async def running(
    tmp_path: Path, *, components: list[str] | None = None, max_failures: int = 3
) -> AsyncIterator[Server]:
    """Start a server on 127.0.0.1 (a free port), connect the switch; stop both afterwards."""
    settings = admin_settings(tmp_path / "config", max_failures)
    data = tmp_path / "data"
    app = App(settings, port=0, data_dir=data, components=components)
    outputs: list[ev.Output] = []
    app.core.subscribe(outputs.extend)
    await app.start()
    sw = SimSwitch(f"ws://127.0.0.1:{app.web.port}/switch", "pbx-1", SWITCH_TOKEN)
    server = Server(app, sw, data, outputs)
    try:
        if app.component("switch") is not None:
            await sw.connect()
        yield server
    finally:
        for d in server.desks.values():
            await d.close()
        await sw.close()
        await app.stop()


async def until(cond: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Wait until `cond()` is truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not (v := cond()):
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return v
