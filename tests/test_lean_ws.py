"""The load generator's lean websocket client against a real websockets server, the lean
desktops against the real server, and the live run's measuring helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from loadtest.lean_ws import CallbackSocket, LeanSocket
from loadtest.live import LagProbe, bucket_quantile, histogram_delta, pin_cpus


@asynccontextmanager
async def server(handler: Any, **kw: Any) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, compression=None, **kw) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/x"


async def until(cond: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def echo(ws: ServerConnection) -> None:
    async for msg in ws:
        await ws.send(msg)


async def test_frames_of_every_length_class_round_trip_in_order() -> None:
    async with server(echo, max_size=2**20) as u:
        got: list[bytes] = []
        s = CallbackSocket(got.append)
        await s.open(u)
        sizes = [0, 1, 125, 126, 127, 65535, 65536, 200_000]
        payloads = [os.urandom(n) for n in sizes]
        for p in payloads:  # one loop turn: they leave in one write
            s.send_frame(p)
        s.send_frame("héllo".encode(), text=True)
        await until(lambda: len(got) == len(sizes) + 1)
        assert got[:-1] == payloads and got[-1] == "héllo".encode()
        await s.close()
        assert s.close_code() == (1000, "") and s.proto is not None
        assert s.proto.state is State.CLOSED


async def test_pings_are_answered_and_fragmented_messages_put_together() -> None:
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        done.set_result(await (await ws.ping(b"p")))  # waits for the pong
        await ws.send([b"ab", b"cd", b"ef"])  # a fragmented message
        await ws.send(b"whole")
        await ws.wait_closed()

    async with server(handler) as u:
        got: list[bytes] = []
        s = CallbackSocket(got.append)
        await s.open(u)
        assert await asyncio.wait_for(done, 5) >= 0
        await until(lambda: len(got) == 2)
        assert got == [b"abcdef", b"whole"]
        await s.close()


async def test_server_close_and_oversized_frames_end_the_connection() -> None:
    async def closer(ws: ServerConnection) -> None:
        await ws.close(4001, "go away")

    lost: list[str] = []
    async with server(closer) as u:
        s = CallbackSocket(lambda b: None, lambda: lost.append("lost"))
        await s.open(u)
        await until(lambda: lost == ["lost"])
        assert s.close_code() == (4001, "go away")

    async def big(ws: ServerConnection) -> None:
        await ws.send(b"x" * 5000)
        await ws.wait_closed()

    async with server(big) as u:
        got: list[bytes] = []
        s = CallbackSocket(got.append)
        await s.open(u, max_size=1000)
        assert s.closed is not None
        await asyncio.wait_for(s.closed, 5)
        assert got == [] and s.proto is not None and s.proto.close_sent is not None
        assert s.proto.close_sent.code == 1009


async def test_a_refused_handshake_raises() -> None:
    def refuse(conn: ServerConnection, request: Any) -> Response:
        return Response(403, "Forbidden", Headers(), b"no")

    async with server(echo, process_request=refuse) as u:
        with pytest.raises(InvalidStatus):
            await CallbackSocket(lambda b: None).open(u)


def test_frames_split_anywhere_across_reads_are_cut_correctly() -> None:
    got: list[bytes] = []

    class Sink(LeanSocket):
        def frame(self, payload: bytes) -> None:
            got.append(payload)

    s = Sink()
    s.proto = ClientProtocol(parse_uri("ws://127.0.0.1:1/x"), state=State.OPEN)
    payloads = [b"", b"a" * 10, b"b" * 125, b"c" * 300, b"d" * 70000]
    wire = b""
    for p in payloads:
        n = len(p)
        if n < 126:
            head = bytes((0x82, n))
        elif n < 65536:
            head = bytes((0x82, 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x82, 127)) + n.to_bytes(8, "big")
        wire += head + p
    for step in (1, 3, 7, 1000):
        got.clear()
        for i in range(0, len(wire), step):
            s.data_received(wire[i : i + step])
        assert got == payloads, step


def test_histogram_quantiles_and_lag_probe() -> None:
    before = [(0.001, 10.0), (0.005, 20.0), (float("inf"), 20.0)]
    after = [(0.001, 60.0), (0.005, 118.0), (float("inf"), 120.0)]
    delta = histogram_delta(before, after)
    assert delta == [(0.001, 50.0), (0.005, 98.0), (float("inf"), 100.0)]
    assert bucket_quantile(delta, 0.5) == pytest.approx(0.001)
    assert bucket_quantile(delta, 0.74) == pytest.approx(0.001 + 0.004 * 24 / 48)
    assert bucket_quantile(delta, 0.99) == pytest.approx(0.005)  # in +Inf: the last bound
    assert bucket_quantile([(float("inf"), 0.0)], 0.5) is None
    assert histogram_delta(None, after) is None

    async def probe() -> LagProbe:
        p = LagProbe(asyncio.get_running_loop(), period=0.002)
        await asyncio.sleep(0.05)
        p.stop()
        return p

    p = asyncio.run(probe())
    assert len(p.lags) >= 3 and p.percentile(0.99) >= 0


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_pin_cpus_splits_the_cpus_between_server_and_client() -> None:
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in "ab"]
    try:
        server_cpus, client_cpus = pin_cpus(procs[0].pid, procs[1].pid)
        cpus = sorted(os.sched_getaffinity(0))
        assert os.sched_getaffinity(procs[0].pid) == server_cpus == {cpus[0]}
        assert os.sched_getaffinity(procs[1].pid) == client_cpus
        assert client_cpus == (set(cpus[1:]) or {cpus[0]})
    finally:
        for p in procs:
            p.kill()
            p.wait()
