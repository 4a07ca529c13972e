"""The bare references of the performance report: echo servers in a child process on
127.0.0.1, read from /proc."""

from __future__ import annotations

import os
import threading
import time

from loadtest.reference import ProcStat, frame_cost, paced_frame_cost


def test_paced_echo_returns_every_frame_and_charges_its_cpu_per_frame() -> None:
    # a few connections, 2,000 frames: it raises if any frame is not echoed back. Enough
    # frames for their CPU to span several of /proc's 10 ms ticks.
    cost = paced_frame_cost(connections=5, frames_per_second=2000.0, seconds=1.0)
    assert 0 < cost < 0.01  # a frame costs microseconds, not the run's whole CPU


def test_flat_out_echo_charges_its_cpu_per_frame() -> None:
    cost = frame_cost(frames=4000, clients=4)
    assert 0 < cost < 0.01


def test_threads_split_a_process_cpu_by_thread() -> None:
    spent, done = threading.Event(), threading.Event()

    def spin() -> None:  # uses 0.1 s of its own CPU, then waits to be read
        while time.thread_time() < 0.1:
            pass
        spent.set()
        done.wait()

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        spent.wait()
        threads = ProcStat.threads(os.getpid())
    finally:
        done.set()
        worker.join()
    assert os.getpid() in threads  # the main thread's id is the process id
    assert worker.native_id is not None
    assert threads[worker.native_id] >= 0.09  # CPU is counted in 10 ms ticks
    assert sum(threads.values()) <= ProcStat.of(os.getpid()).cpu + 0.02
