"""A real `acd serve` process on 127.0.0.1 with its own data folder, for the reliability runs
(drain, crash and restart, fuzzing, hostile clients, soak) and their tests.

`Rig.write(folder, agents=...)` writes a one-group center (no IVR flow: calls queue straight
into group `g`; key 1 while queued asks for a callback, 2 for a voicemail), the credentials of
`agents` agents (ids from 1001), one switch `pbx-1` and one admin `admin`, all with cheap
hashes; `start()` runs the server and waits for `/readyz`; `kill()` is SIGKILL, `term()` is
SIGTERM (the drain). The same data folder survives restarts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from agent_gateway.auth import hash_secret

FIRST = 1001
AGENT_SECRET = "agent-secret"
SWITCH_TOKEN = "pbx-secret"
ADMIN_SECRET = "admin-secret"

CENTER = """
[center]
name = "reliability"
timezone = "UTC"

[groups.g]
name = "G"
skill = "g"
ring_timeout = {ring}
wrap_up = {wrap}
expected_aht = 2
callback = {{ retry_delay = {retry}, max_attempts = 3 }}

[[agent_blocks]]
first = {first}
count = {agents}
skills = {{ g = 5 }}

[server]
max_connections = {max_conn}
rate_per_second = 1000
rate_burst = 1000
drain_timeout = {drain}
hello_timeout = {hello}
debug_state = true
{server_extra}

[agent_gateway]
stats_interval = 0

[switch]
ack_timeout = 5
grace = {grace}
[switch.switches.pbx-1]
token = "{token}"

[prompts]
music = "music"
callback-offer = "Press 1 for a callback"
callback-confirmed = "We will call you back"
voicemail-record = "Leave a message"
goodbye = "Goodbye"
blocked = "Your number is blocked"
survey = "Rate us"
survey-thanks = "Thanks"

[ivr.treatment]
music = "music"
keys = {{ "1" = "callback", "2" = "voicemail" }}

[supervisors.admin]
name = "Administrator"
secret = "{admin}"
role = "admin"
"""


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid: int) -> int:
    """Open file descriptors of a process (sockets included)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Rig:
    """One server process on a data folder that outlives it."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.config = folder / "center.toml"
        self.data = folder / "data"
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.agents = 0
        self.log = folder / "server.log"

    @classmethod
    def write(
        cls,
        folder: Path,
        *,
        agents: int = 20,
        wrap: str = '{ mode = "none" }',
        ring: float = 10,
        retry: float = 300,
        drain: float = 600,
        grace: float = 60,
        hello: float = 5,
        server_extra: str = "",
    ) -> Rig:
        """Write the center under `folder` (see the module docstring)."""
        folder.mkdir(parents=True, exist_ok=True)
        digest = hash_secret(AGENT_SECRET, log_n=2)
        text = CENTER.format(
            ring=ring,
            wrap=wrap,
            retry=retry,
            first=FIRST,
            agents=agents,
            max_conn=agents + 2000,
            drain=drain,
            hello=hello,
            server_extra=server_extra,
            grace=grace,
            token=hash_secret(SWITCH_TOKEN, log_n=2),
            admin=hash_secret(ADMIN_SECRET, log_n=2),
        )
        text += "\n[credentials.agents]\n" + "".join(
            f'"{FIRST + i}" = "{digest}"\n' for i in range(agents)
        )
        rig = cls(folder)
        rig.config.write_text(text, encoding="utf-8")
        rig.agents = agents
        return rig

    @property
    def base(self) -> str:
        """ws://127.0.0.1:PORT"""
        return f"ws://127.0.0.1:{self.port}"

    def credentials(self, count: int | None = None) -> list[tuple[str, str]]:
        """(agent id, secret) of the first `count` agents."""
        n = self.agents if count is None else count
        return [(str(FIRST + i), AGENT_SECRET) for i in range(n)]

    def start(self, timeout: float = 30.0) -> float:
        """Run `acd serve` on the folder; seconds until `/readyz` answered 200."""
        self.data.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "acd.cli", "serve", "--config", str(self.config),
                 "--data-dir", str(self.data), "--port", str(self.port),
                 "--log-level", "warning"],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )  # fmt: skip
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            if self.http("/readyz")[0] == 200:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise TimeoutError("server not ready")

    def http(self, path: str) -> tuple[int, str]:
        """GET a path: (status, body); (0, "") when nothing answers."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def term(self) -> None:
        """SIGTERM: the drain."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None when still running after `timeout`."""
        assert self.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout)
        return None

    def stop(self) -> None:
        """Make sure the process is gone (SIGKILL when it does not stop on SIGINT)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        if self.wait(10) is None:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's stderr."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
