"""The web server and host: health endpoints, unknown paths, timers through the loop."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
import websockets
from core_harness import agent, center, group

from acd import events as ev
from acd.app import App
from acd.settings import ServerSettings, Settings


def settings() -> Settings:
    cfg = center([group("g", ring_timeout=0.2)], [agent("a1", {"g": 5})])
    return Settings(cfg, {"server": ServerSettings()})


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def test_health_ready_and_unknown_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = App(settings(), port=0, data_dir=tmp_path, components=[])
    await app.start()
    try:
        port = app.web.port
        assert await asyncio.to_thread(get, port, "/healthz") == (200, b"ok\n")
        assert await asyncio.to_thread(get, port, "/readyz") == (200, b"ready\n")
        assert (await asyncio.to_thread(get, port, "/nope"))[0] == 404
        with pytest.raises(websockets.exceptions.InvalidStatus) as err:
            async with websockets.connect(f"ws://127.0.0.1:{port}/nope"):
                pass
        assert err.value.response.status_code == 404
    finally:
        await app.stop()


async def test_engine_timers_fire_through_the_event_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = App(settings(), port=0, data_dir=tmp_path, components=[])
    seen: list[ev.Output] = []
    app.core.subscribe(seen.extend)
    await app.start()
    try:
        app.core.submit(ev.AgentLogin("a1"))
        app.core.submit(ev.AgentReady("a1"))
        app.core.submit(ev.EnqueueCall(ev.CallInfo("c1"), "g"))
        await asyncio.sleep(0.6)  # ring timeout 0.2 s fires from loop.call_at
        ends = [o for o in seen if isinstance(o, ev.OfferEnded)]
        assert ends and ends[0].result == "timeout"
        assert app.engine.agents["a1"].reason == "no-answer"
    finally:
        await app.stop()


async def test_one_server_per_data_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from acd.errors import StartupError

    parts = ["acd.journal:component"]
    first = App(settings(), port=0, data_dir=tmp_path, components=parts)
    await first.start()
    try:
        second = App(settings(), port=0, data_dir=tmp_path, components=parts)
        with pytest.raises(StartupError) as err:
            await second.start()
        assert str(tmp_path) in err.value.message and "in use" in err.value.message
        assert not second.components  # nothing of it started, nothing written
        assert await asyncio.to_thread(get, first.web.port, "/readyz") == (200, b"ready\n")
    finally:
        await first.stop()
    again = App(settings(), port=0, data_dir=tmp_path, components=parts)
    await again.start()  # the folder is free once its server stopped
    await again.stop()


async def test_a_taken_address_is_a_clear_error_and_frees_the_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from acd.app import serve_until_stopped
    from acd.errors import StartupError

    first = App(settings(), port=0, data_dir=tmp_path / "a", components=[])
    await first.start()
    try:
        port = first.web.port
        parts = ["acd.journal:component"]
        clash = App(settings(), port=port, data_dir=tmp_path / "b", components=parts)
        with pytest.raises(StartupError) as err:
            await clash.start()
        assert err.value.message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
        assert not clash.components  # the journal it had started is stopped again
        again = App(settings(), port=port, data_dir=tmp_path / "b", components=parts)
        assert await serve_until_stopped(again) == 1  # `acd serve` exits 1
        later = App(settings(), port=0, data_dir=tmp_path / "b", components=parts)
        await later.start()
        await later.stop()
    finally:
        await first.stop()


def test_drain_and_reload_ignore_a_stale_pid_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    # a killed server leaves acd.pid behind and nobody holds the lock: its pid may now be
    # any process's, which must not get the signal
    import subprocess
    import sys

    from acd.cli import main
    from acd.datadir import LOCK_FILE
    from acd.reloader import PID_FILE

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / PID_FILE).write_text(f"{bystander.pid}\n")
        (tmp_path / LOCK_FILE).write_text(f"{bystander.pid}\n")
        assert main(["drain", "--data-dir", str(tmp_path), "--wait", "0"]) == 1
        assert main(["reload", "--data-dir", str(tmp_path)]) == 1
        assert "stale pid file" in capsys.readouterr().err
        assert bystander.poll() is None  # still running: no signal reached it
    finally:
        bystander.kill()
        bystander.wait()
