"""A minimal switch side for the crash test: calls in and out over a websocket, each final
event acknowledged only after the journal's barrier (as the switch link does).

Run as a server: `python -m loadtest.crash_switch --config C --data-dir D --port P` starts the
same `App` as `acd serve` (every component of `acd.app.COMPONENTS`) plus this one, on
`/crash-switch`. Frames are JSON text:
    {"call": "<id>"}  a call arrives (IVR path noted, queued in the first group)
    {"end": "<id>"}   the caller hangs up; the reply {"ack": "<id>"} comes once the call's
                      record is committed, {"error": ...} when the call is unknown.
Every agent of the configuration signs in and goes ready at start and accepts every offer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection

from acd import events as ev
from acd.app import COMPONENTS, App, run
from acd.errors import AcdError

PATH = "/crash-switch"


class CrashSwitch:
    """The component: auto-answering agents and the acknowledging call socket."""

    name = "crash-switch"

    def __init__(self) -> None:
        self.app: App | None = None
        self.group = ""
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, app: App) -> None:
        """Register the socket route and answer every offer."""
        self.app = app
        self.group = next(iter(app.engine.config.groups))
        app.web.ws_route(PATH, self.serve)
        app.core.subscribe(self._outputs)
        loop = asyncio.get_running_loop()
        loop.call_soon(self._sign_in)

    async def stop(self, app: App) -> None:
        """Nothing to release."""

    def _sign_in(self) -> None:
        assert self.app is not None
        for aid in self.app.engine.config.agents:
            self.app.core.submit(ev.AgentLogin(aid))
            self.app.core.submit(ev.AgentReady(aid))

    def _outputs(self, outs: Sequence[ev.Output]) -> None:
        loop = asyncio.get_running_loop()
        for o in outs:
            if isinstance(o, ev.CallOffered):
                loop.call_soon(self._answer, o.call_id, o.agent_id)

    def _answer(self, call_id: str, agent_id: str) -> None:
        assert self.app is not None
        try:
            self.app.core.submit(ev.AcceptOffer(agent_id, call_id))
            self.app.core.submit(ev.AgentLegAnswered(call_id, agent_id))
        except AcdError:
            pass  # the caller hung up meanwhile

    async def serve(self, ws: ServerConnection) -> None:
        """One switch connection."""
        app = self.app
        assert app is not None
        journal: Any = app.component("journal")
        async for frame in ws:
            msg = json.loads(frame)
            now = app.core.now()
            if "call" in msg:
                cid = str(msg["call"])
                if journal is not None:
                    journal.note(cid, "ivr", {"path": ["main", "1"]}, now)
                try:
                    app.core.submit(
                        ev.EnqueueCall(ev.CallInfo(cid, caller="9" + cid[-10:]), self.group)
                    )
                except AcdError as err:
                    await ws.send(json.dumps({"error": err.code, "call": cid}))
            elif "end" in msg:
                task = asyncio.create_task(self._end(ws, str(msg["end"]), journal))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _end(self, ws: ServerConnection, cid: str, journal: Any) -> None:
        assert self.app is not None
        try:
            self.app.core.submit(ev.CallerHangup(cid))
        except AcdError as err:
            await ws.send(json.dumps({"error": err.code, "call": cid}))
            return
        if journal is not None:
            await journal.barrier()
        await ws.send(json.dumps({"ack": cid}))


def component(app: App) -> CrashSwitch:
    """Factory for the component list."""
    return CrashSwitch()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve like `acd serve`, with the crash-test switch socket added."""
    from acd.logsetup import configure
    from acd.settings import load_settings

    p = argparse.ArgumentParser(prog="crash_switch")
    p.add_argument("--config", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    configure("warning")
    settings = load_settings(args.config)
    specs = [*COMPONENTS, "loadtest.crash_switch:component"]
    return run(
        lambda: App(
            settings, host="127.0.0.1", port=args.port, data_dir=args.data_dir, components=specs
        )
    )


if __name__ == "__main__":
    sys.exit(main())
