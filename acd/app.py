"""`acd serve`: the engine, its host, the web server and the sides, started and stopped in order.

Each side is a component built by a factory `(App) -> Component` listed in `COMPONENTS`;
components start in list order and stop in reverse. They find each other through
`App.components` by name (the switch link asks for the journal, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

from acd import __version__
from acd.datadir import DataDirLock
from acd.engine import Engine
from acd.errors import StartupError
from acd.gc_tuning import tune_gc
from acd.host import CoreHost
from acd.server import WebServer
from acd.settings import Settings

log = structlog.get_logger("acd.app")

TEXT = "text/plain; charset=utf-8"


class Component(Protocol):
    """A side of the server (gateway, switch link, journal, metrics...)."""

    name: str

    async def start(self, app: App) -> None: ...

    async def stop(self, app: App) -> None: ...


ComponentFactory = Callable[["App"], Component]

# "module:factory", in start order.
COMPONENTS: list[str] = [
    "acd.journal:component",
    "acd.metrics:component",
    "ivr.link:switch_link",
    "agent_gateway.server:component",
    "agent_gateway.admin:component",
    "acd.debug:component",
    "acd.recovery:component",
]


class App:
    """A running server: settings, engine, host, web server and components."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        data_dir: str | Path = "./var",
        components: list[str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = Path(data_dir)
        self._lock = DataDirLock(self.data_dir)
        # The engine starts at the host's time: its day (the agents' counts of the day, which
        # recovery rebuilds) is today's, not the epoch's.
        clock = clock or time.time
        self.core = CoreHost(Engine(settings.center, now=clock()), clock=clock)
        self.engine = self.core.engine
        self.web = WebServer(host, port, settings.server)
        self.components: dict[str, Component] = {}
        self._specs = list(COMPONENTS if components is None else components)
        self.ready = False
        self.draining = False
        self.stopping = asyncio.Event()
        self._drain_task: asyncio.Task[Any] | None = None
        self.web.http_route("/healthz", lambda _r: (200, TEXT, b"ok\n"))
        self.web.http_route("/readyz", self._readyz)

    def _readyz(self, _request: Any) -> tuple[int, str, bytes]:
        if self.draining:
            return 503, TEXT, b"draining\n"
        if self.ready:
            return 200, TEXT, b"ready\n"
        return 503, TEXT, b"starting\n"

    async def reload(self, actor: str) -> str:
        """Apply the configuration on disk to new calls (see acd.reloader); its version."""
        from acd.reloader import reload

        return await reload(self, actor)

    def begin_drain(self) -> None:
        """Drain (see acd.drain), then stop; a second request stops at once."""
        if self._drain_task is not None:
            self.stopping.set()
            return
        from acd.drain import drain

        async def run() -> None:
            try:
                await drain(self, self.settings.server.drain_timeout)
            finally:
                self.stopping.set()

        self._drain_task = asyncio.get_running_loop().create_task(run())

    def component(self, name: str) -> Component | None:
        """A started component by name."""
        return self.components.get(name)

    async def start(self) -> None:
        """Lock the data folder, start the components and listen.

        Raises `StartupError` when another server holds the folder or the address is taken;
        whatever had started is stopped again.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            self.engine.now = self.core.now()
            for spec in self._specs:
                module, _, attr = spec.partition(":")
                factory: ComponentFactory = getattr(importlib.import_module(module), attr)
                comp = factory(self)
                await comp.start(self)
                self.components[comp.name] = comp
            self.core.start()
            try:
                await self.web.start()
            except OSError as err:
                where = f"{self.web.host}:{self.web.port}"
                reason = err.strerror or str(err)
                raise StartupError(f"cannot listen on {where}: {reason}") from err
        except BaseException:
            await self.stop()
            raise
        tune_gc()
        self.ready = True

    async def stop(self) -> None:
        """Stop listening, then the components in reverse order."""
        self.ready = False
        await self.web.stop()
        self.core.stop()
        for comp in reversed(list(self.components.values())):
            try:
                await comp.stop(self)
            except Exception:
                log.exception("component failed to stop", component=comp.name)
        self.components.clear()
        self._lock.release()


async def serve_until_stopped(app: App) -> int:
    """Run until SIGINT (stop now) or SIGTERM (drain, then stop; `acd drain` sends it)."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # not on Windows
        loop.add_signal_handler(signal.SIGINT, app.stopping.set)
        loop.add_signal_handler(signal.SIGTERM, app.begin_drain)
    try:
        await app.start()
    except StartupError as err:
        log.error("cannot start", error=err.message)
        return 1
    from acd.reloader import install, uninstall

    install(app)  # SIGHUP -> reload, and the pid file `acd reload` signals
    cfg = app.settings.center
    log.info(
        "serving",
        version=__version__,
        host=app.web.host,
        port=app.web.port,
        config=cfg.source,
        config_version=cfg.version[:12],
        groups=len(cfg.groups),
        agents=len(cfg.agents),
        data_dir=str(app.data_dir),
    )
    try:
        await app.stopping.wait()
        log.info("stopping")
        await app.stop()
    finally:
        uninstall(app)
    return 0


def run(app_factory: Callable[[], App]) -> int:
    """Run the server on uvloop when it is installed."""

    async def main() -> int:
        return await serve_until_stopped(app_factory())

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())
