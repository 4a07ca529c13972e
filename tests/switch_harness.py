"""A small center with an IVR, a real server on 127.0.0.1 and helpers for switch-link tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from acd import events as ev
from acd.app import App
from acd.settings import Settings, load_settings
from agent_gateway.auth import hash_secret

TOKEN = "test-token-1"
TOKEN_HASH = hash_secret(TOKEN, log_n=10)

CENTER = """
[center]
name = "test"
timezone = "UTC"

[priorities]
floor = 0
ceiling = 600
[priorities.brands]
gotone = 300
mzone = 100
easyown = 0
[priorities.vip_levels]
1 = 200

[calendars.never]
mon = []
tue = []
wed = []
thu = []
fri = []
sat = []
sun = []

[groups.general]
name = "General"
skill = "mass"
wrap_up = {{ mode = "none" }}
ring_timeout = 5
announce_period = {announce}
survey = {survey}
callback = {{ retry_delay = 1, max_attempts = 2 }}

[groups.vip]
name = "VIP"
skill = "premium"
wrap_up = {{ mode = "none" }}
ageing_rate = 0

[groups.night]
name = "Closed desk"
skill = "night"
calendar = "never"
closed = {{ action = "voicemail", prompt = "closed" }}

[agents.a1]
number = "101"
skills = {{ mass = 5, premium = 5 }}
[agents.a2]
number = "102"
skills = {{ mass = 5 }}

[switch]
ack_timeout = {ack}
grace = {grace}
[switch.switches.pbx-1]
token = "{token}"
[switch.switches.pbx-2]
token = "{token}"

[prompts]
welcome = "Welcome"
menu = "Press 1 for VIP, 2 for general, 3 for the closed desk, 4 for a callback, 5 to transfer"
invalid = "Invalid"
pin = "Your PIN"
music = "music"
callback-offer = "Press 1 for a callback"
callback-confirmed = "We will call you back"
voicemail-record = "Leave a message"
survey = "Rate us"
survey-thanks = "Thanks"
blocked = "Your number is blocked"
goodbye = "Goodbye"
transfer-failed = "The transfer failed"
closed = "We are closed"
vm = "Leave a message after the tone"
vip-hello = "Hello VIP"

[ivr]
default_flow = "main"
directory = "customers.csv"

[ivr.treatment]
music = "music"
keys = {{ "1" = "callback", "2" = "voicemail" }}

[ivr.flows.main]
start = "lookup"
[ivr.flows.main.nodes.lookup]
kind = "lookup"
next = "welcome"
[ivr.flows.main.nodes.welcome]
kind = "play"
prompt = "welcome"
next = "vip-check"
[ivr.flows.main.nodes.vip-check]
kind = "condition"
branches = [{{ when = {{ vip_at_least = 1 }}, goto = "vip-hello" }}]
else = "menu"
[ivr.flows.main.nodes.vip-hello]
kind = "play"
prompt = "vip-hello"
next = "to-vip"
[ivr.flows.main.nodes.to-vip]
kind = "queue"
group = "vip"
[ivr.flows.main.nodes.menu]
kind = "menu"
prompt = "menu"
choices = {{ "1" = "to-vip", "2" = "pin", "3" = "to-night", "4" = "cb", "5" = "out", "6" = "vm" }}
invalid_prompt = "invalid"
retries = 1
timeout = 1
on_fail = "bye"
[ivr.flows.main.nodes.pin]
kind = "collect"
prompt = "pin"
var = "pin"
min = 4
max = 4
next = "tag"
[ivr.flows.main.nodes.tag]
kind = "set"
attributes = {{ topic = "billing" }}
bonus = 5
next = "to-general"
[ivr.flows.main.nodes.to-general]
kind = "queue"
group = "general"
[ivr.flows.main.nodes.to-night]
kind = "queue"
group = "night"
[ivr.flows.main.nodes.cb]
kind = "callback"
group = "general"
prompt = "callback-confirmed"
[ivr.flows.main.nodes.out]
kind = "transfer"
number = "95555"
[ivr.flows.main.nodes.vm]
kind = "voicemail"
group = "general"
prompt = "vm"
[ivr.flows.main.nodes.bye]
kind = "hangup"
prompt = "goodbye"
"""

CUSTOMERS = """number,name,brand,vip,city
13800000001,Zhang Wei,gotone,1,nanjing
13900000002,Huang Lei,mzone,0,suzhou
"""


def write_center(
    root: Path,
    *,
    announce: float = 30.0,
    survey: bool = False,
    ack: float = 2.0,
    grace: float = 30.0,
    extra: str = "",
) -> Path:
    """Write the test center's files under `root`; returns the main file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "customers.csv").write_text(CUSTOMERS)
    text = CENTER.format(
        announce=announce,
        survey="true" if survey else "false",
        ack=ack,
        grace=grace,
        token=TOKEN_HASH,
    )
    path = root / "center.toml"
    path.write_text(text + extra)
    return path


class Recorder:
    """An in-memory journal with the `acd.journal_api.Journal` interface, for assertions."""

    name = "journal"

    def __init__(self) -> None:
        self.outputs: list[ev.Output] = []
        self.notes: list[tuple[str, str, dict[str, Any]]] = []
        self.barriers = 0
        self.hold = False  # barriers stay pending until `release` (a slow commit)
        self._held: list[asyncio.Future[None]] = []

    async def start(self, app: App) -> None:
        app.core.subscribe(self.record)

    async def stop(self, app: App) -> None:
        return None

    def record(self, outputs: Sequence[ev.Output]) -> None:
        self.outputs.extend(outputs)

    def note(self, call_id: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        self.notes.append((call_id, kind, dict(data)))

    def audit(self, **kw: Any) -> None:
        return None

    async def barrier(self) -> None:
        await self.durable()

    def durable(self) -> asyncio.Future[None]:
        self.barriers += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.hold:
            self._held.append(done)
        else:
            done.set_result(None)
        return done

    def release(self) -> None:
        """Complete the barriers held so far and stop holding."""
        self.hold = False
        for f in self._held:
            f.set_result(None)
        self._held.clear()

    def recent_contacts(self, number: str, limit: int = 5) -> Sequence[Mapping[str, Any]]:
        return []

    def ended(self, cid: str) -> ev.CallEnded | None:
        for o in self.outputs:
            if isinstance(o, ev.CallEnded) and o.call_id == cid:
                return o
        return None

    def kinds(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(c, d) for c, k, d in self.notes if k == kind]


RECORDER: Recorder | None = None


def recorder(_app: App) -> Recorder:
    """Factory: the journal double of these tests."""
    global RECORDER
    RECORDER = Recorder()
    return RECORDER


async def start_app(settings: Settings, data_dir: Path, port: int = 0) -> tuple[App, Recorder]:
    """A started server with the recorder journal and the switch link."""
    app = App(
        settings,
        port=port,
        data_dir=data_dir,
        components=["switch_harness:recorder", "ivr.link:switch_link"],
    )
    await app.start()
    assert RECORDER is not None
    return app, RECORDER


def settings_at(path: Path) -> Settings:
    """Load the center's settings."""
    return load_settings(path)


def auto_accept(app: App) -> None:
    """Agents accept every offer at once (the desktop side, without a gateway)."""
    loop = asyncio.get_running_loop()

    def sink(outs: Sequence[ev.Output]) -> None:
        for o in outs:
            if isinstance(o, ev.CallOffered):
                loop.call_soon(app.core.submit, ev.AcceptOffer(o.agent_id, o.call_id))

    app.core.subscribe(sink)


def ready(app: App, *agents: str) -> None:
    """Sign agents in and make them ready."""
    for a in agents:
        app.core.submit(ev.AgentLogin(a))
        app.core.submit(ev.AgentReady(a))


async def until(cond: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Wait until `cond()` is truthy (polling the loop)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
