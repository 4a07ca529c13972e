"""The journal's grouped barriers: every waiter released only after its records are committed,
one commit for the barriers of a window, nothing lost at stop or when a waiter gives up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from acd.journal import JournalComponent
from acd.store import OfferRecord, open_store


def _offer(i: int) -> OfferRecord:
    return OfferRecord(f"c{i}", "a1", "g", 1.0 + i, 2.0 + i, "accepted")


def test_barriers_of_one_turn_share_one_commit(tmp_path: Path) -> None:
    store = open_store(tmp_path, synchronous="normal", sync_linger=0.0)
    j = JournalComponent(store, time.time, group_commit=0.05)

    async def go() -> None:
        for i in range(10):
            j._hand([_offer(i)])
        await asyncio.gather(*(j.barrier() for _ in range(5)))
        assert (j.barriers, j.syncs) == (5, 1)
        # released only once committed: a second connection sees every record
        reader = open_store(tmp_path, writer=False)
        assert len(list(reader.offers(0, 100))) == 10
        reader.close()

    asyncio.run(go())
    store.close()


def test_a_barrier_inside_the_window_waits_for_it_and_is_committed(tmp_path: Path) -> None:
    store = open_store(tmp_path, synchronous="normal", sync_linger=0.0)
    j = JournalComponent(store, time.time, group_commit=0.2)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        j._hand([_offer(0)])
        await j.barrier()  # nothing committed lately: at once
        j._hand([_offer(1)])
        t0 = loop.time()
        late = asyncio.ensure_future(j.barrier())
        given_up = asyncio.ensure_future(j.barrier())
        await asyncio.sleep(0)
        given_up.cancel()  # a waiter that gives up costs the others nothing
        await late
        assert loop.time() - t0 >= 0.1  # it waited for the window
        assert j.syncs == 2
        assert store.committed == 2

    asyncio.run(go())
    store.close()


def test_stop_commits_a_group_still_waiting_for_its_window(tmp_path: Path) -> None:
    store = open_store(tmp_path, synchronous="normal", sync_linger=0.0)
    j = JournalComponent(store, time.time, group_commit=30.0)

    async def go() -> None:
        await j.barrier()
        j._hand([_offer(7)])
        waiter = asyncio.ensure_future(j.barrier())
        await asyncio.sleep(0.05)
        assert not waiter.done()  # a 30 s window
        await j.stop(None)  # type: ignore[arg-type]  # (stop does not use the app)
        await asyncio.wait_for(waiter, 5)

    asyncio.run(go())
    reader = open_store(tmp_path, writer=False)
    assert [o.call_id for o in reader.offers(0, 100)] == ["c7"]


def test_group_commit_is_read_from_the_store_section(tmp_path: Path) -> None:
    from acd.journal import StoreSettings
    from acd.settings import validate_settings
    from acd.sim import Scenario
    from loadtest.live import generated_config

    path = generated_config(Scenario(agents=2), 1.0, "token", "secret", tmp_path)
    base = path.read_text()
    path.write_text(base + "\n[store]\ngroup_commit = 0.005\n")
    settings, problems = validate_settings(path)
    assert settings is not None, problems.errors
    assert settings.parts["store"] == StoreSettings(group_commit=0.005)
    path.write_text(base + "\n[store]\ngroup_commit = 5\n")
    settings, problems = validate_settings(path)
    assert settings is None
    assert any("store.group_commit" in e for e in problems.errors), problems.errors
