"""Hot reload: re-read the configuration and apply it to new calls.

`reload(app, actor)` (the admin socket calls it; SIGHUP and `acd reload` reach it too) reads
the same file set again off the event loop, refuses it as a whole when it has any error,
then hands the routing part to the core (`Reload`) and the rest to every component that has
an `apply_settings(settings)` method. Calls in progress are not disturbed: the core keeps
their places, and a call already in an IVR flow finishes on the flow version it started on.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from acd.datadir import in_use
from acd.events import Reload
from acd.settings import Settings, load_settings

if TYPE_CHECKING:
    from acd.app import App

log = structlog.get_logger("acd.reload")

PID_FILE = "acd.pid"
_RUNNING: set[asyncio.Task[None]] = set()


async def reload(app: App, actor: str) -> str:
    """Apply the configuration as it is on disk now; returns its version.

    Raises `acd.errors.ConfigError` (code `bad_config`, every problem listed) and changes
    nothing when the files do not validate.
    """
    source = app.settings.center.source
    settings: Settings = await asyncio.to_thread(load_settings, source)
    app.core.submit(Reload(settings.center, actor))
    app.settings = settings
    for comp in app.components.values():
        apply = getattr(comp, "apply_settings", None)
        if apply is not None:
            apply(settings)
    version = settings.center.version
    log.info("configuration reloaded", actor=actor, version=version[:12])
    return version


def install(app: App) -> None:
    """Reload on SIGHUP; write the pid file `acd reload` signals."""
    loop = asyncio.get_running_loop()

    def on_hup() -> None:
        task = loop.create_task(_reload_logged(app))
        _RUNNING.add(task)  # keep a reference until it is done
        task.add_done_callback(_RUNNING.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, AttributeError):  # no SIGHUP (Windows)
        return
    (app.data_dir / PID_FILE).write_text(f"{os.getpid()}\n")


def uninstall(app: App) -> None:
    """Remove the pid file if it is still ours, so `acd reload`/`acd drain` never signal a
    process that later reuses the pid."""
    path = app.data_dir / PID_FILE
    try:
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
    except (OSError, ValueError):
        pass  # gone already, or another server's


async def _reload_logged(app: App) -> None:
    try:
        await reload(app, "sighup")
    except Exception as err:  # a bad file must not stop the server
        log.error("reload refused", error=str(err))


def signal_server(data_dir: str | Path, sig: int = signal.SIGHUP) -> int:
    """Send `sig` (SIGHUP: reload) to the server whose pid file is in `data_dir`; its pid.

    Raises `ProcessLookupError` when no server holds the folder's lock: the pid file is then
    stale (a killed server leaves it) and its pid may be another process's by now.
    """
    folder = Path(data_dir)
    pid = int((folder / PID_FILE).read_text().strip())
    if not in_use(folder):
        raise ProcessLookupError(f"no server holds the folder (stale pid file, pid {pid})")
    os.kill(pid, sig)
    return pid
