"""The journal and the reports on a hand-computed scenario driven through the core."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.cli import main
from acd.journal import JournalComponent
from acd.recorder import config_record
from acd.reports import kpi
from acd.store import AuditFilter, SqliteStore, open_store

T0 = 1_699_999_200.0  # a 15-minute boundary (UTC)
CALLER = "13800000001"


def scenario() -> Core:
    cfg = center([group("g")], [agent("a1", {"g": 5}), agent("a2", {"g": 5})])
    core = Core(cfg, now=T0)
    core.login_ready("a1", "a2")
    core.at(T0 + 10).call("c1", "g", caller=CALLER)
    core.at(T0 + 15).answer("a1", "c1")
    core.at(T0 + 20).call("c2", "g")
    core.at(T0 + 30)(ev.HoldChanged("c1", True))
    core.tick(T0 + 35)  # c2 rings a2 out: a2 not ready (no-answer), c2 queued again
    core.at(T0 + 40)(ev.HoldChanged("c1", False))
    core.at(T0 + 50)(ev.CallerHangup("c2"))  # abandoned after 30 s
    core.at(T0 + 60).call("c3", "g")
    core.at(T0 + 65)(ev.CallerHangup("c3"))  # abandoned within the 20 s target
    core.at(T0 + 75)(ev.CallerHangup("c1"))  # talk 60 s with 10 s of hold
    core.at(T0 + 80)(ev.FinishWrapUp("a1"))  # ACW 5 s
    core.at(T0 + 100).call("c4", "g", caller=CALLER)  # a repeat call: c1 not resolved
    core.at(T0 + 104).answer("a1", "c4")
    core.at(T0 + 164)(ev.CallerHangup("c4"))
    core.tick(T0 + 174)  # timed wrap-up (10 s) ends
    return core


@pytest.fixture
def journal(tmp_path: Path) -> tuple[Core, SqliteStore]:
    core = scenario()
    store = open_store(tmp_path)
    j = JournalComponent(store, lambda: T0 + 300, lambda: core.engine.config)
    store.append([config_record(core.engine.config, T0, "start")])
    j.record(core.log)
    j.note("c1", "survey", {"score": 1, "agent": "a1"}, T0 + 80)
    j.note("c1", "ivr", {"path": ["main", "billing"]}, T0 + 9)
    j.audit(
        at=T0 + 5, who="sup1", role="supervisor", action="force_ready", target="a2",
        params={"reason": ""}, result="ok",
    )  # fmt: skip
    j.audit(
        at=T0 + 6, who="sup2", role="supervisor", action="force_logout", target="a1",
        params={}, result="refused:permission",
    )  # fmt: skip
    store.append(j.recorder.close_states(T0 + 300))
    store.close()
    return core, open_store(tmp_path, writer=False)


def test_call_records_hold_the_whole_story(journal: tuple[Core, SqliteStore]) -> None:
    _core, store = journal
    c1 = store.call("c1")
    assert c1 is not None
    assert (c1.cause, c1.ended_by, c1.agents, c1.caller) == ("completed", "caller", ["a1"], CALLER)
    assert (c1.wait, c1.talk, c1.hold) == (5.0, 50.0, 10.0)
    assert c1.queued_at == T0 + 10 and c1.answered_at == T0 + 15 and c1.ended_at == T0 + 75
    assert [p["event"] for p in c1.detail["parties"]] == ["connected", "held", "retrieved"]
    c2 = store.call("c2")
    assert c2 is not None and c2.cause == "abandoned" and c2.agents == []
    assert [(o["agent"], o["result"]) for o in c2.detail["offers"]] == [("a2", "timeout")]
    assert c2.detail["abandon"][0]["wait"] == 30.0
    assert [n.kind for n in store.notes_for("c1")] == ["ivr", "survey"]
    assert store.check() == "ok"


def test_agent_intervals_and_handled_calls(journal: tuple[Core, SqliteStore]) -> None:
    _core, store = journal
    a1 = [(s.state, s.start - T0, s.end - T0) for s in store.agent_states(T0, T0 + 900)
          if s.agent_id == "a1"]  # fmt: skip
    assert ("on_call", 15.0, 75.0) in a1 and ("wrap_up", 75.0, 80.0) in a1
    a2 = [(s.state, s.reason) for s in store.agent_states(T0, T0 + 900) if s.agent_id == "a2"]
    assert ("not_ready", "no-answer") in a2
    handled = [(h.call_id, h.talk, h.acw) for h in store.handled(T0, T0 + 900)]
    assert handled == [("c1", 60.0, 5.0), ("c4", 60.0, 10.0)]


def test_interval_kpis_by_hand_and_rebuilt_like_the_engine(
    journal: tuple[Core, SqliteStore],
) -> None:
    core, store = journal
    rows = kpi.intervals(store, T0, T0 + 900)
    g = next(r for r in rows if r["group"] == "g")
    assert g["start"] == T0
    assert (g["offered"], g["answered"], g["blocked"]) == (4, 2, 0)
    assert (g["abandoned_before_threshold"], g["abandoned_after_threshold"]) == (1, 1)
    assert g["service_level"] == pytest.approx(2 / 3)  # 2 / (2 answered + 1 after T)
    assert g["asa_seconds"] == pytest.approx(4.5)
    assert g["aht_seconds"] == pytest.approx(67.5)  # (60 + 60 talk + 5 + 10 ACW) / 2
    assert g["talk_seconds"] == pytest.approx(55.0)
    assert g["hold_seconds"] == pytest.approx(5.0)
    assert g["acw_seconds"] == pytest.approx(7.5)
    assert g["abandon_rate"] == pytest.approx(0.5)
    assert g["mean_time_to_abandon_seconds"] == pytest.approx(17.5)
    # a1: 135 s busy of 300 s ready-or-busy; a2: 35 s ready or ringing, then not ready
    assert g["occupancy"] == pytest.approx(135 / (300 + 35))
    live = core.engine.groups["g"].stats.interval  # the engine's own counters agree
    assert (live.offered, live.answered, live.answered_within) == (4, 2, 2)
    assert (live.abandoned, live.abandoned_within, live.blocked) == (2, 1, 0)
    assert live.wait_answered / live.answered == pytest.approx(g["asa_seconds"])
    assert live.service_level() == pytest.approx(g["service_level"])
    assert live.handle_time / live.handled == pytest.approx(g["aht_seconds"])


def test_agent_report_figures(journal: tuple[Core, SqliteStore]) -> None:
    _core, store = journal
    rows = {r["agent"]: r for r in kpi.agents(store, T0, T0 + 900)}
    a1 = rows["a1"]
    assert a1["signed_in_seconds"] == pytest.approx(300.0)
    assert a1["talk_rate"] == pytest.approx(120 / 300)
    assert a1["utilisation"] == pytest.approx(1.0)
    assert a1["occupancy"] == pytest.approx(135 / 300)
    assert a1["calls_handled"] == 2
    assert a1["calls_per_8h"] == pytest.approx(2 * 8 * 3600 / 300)
    assert a1["aht_seconds"] == pytest.approx(67.5)
    assert a1["acw_seconds"] == pytest.approx(7.5)
    assert a1["satisfaction"] == pytest.approx(1.0)
    assert a1["fcr"] == pytest.approx(0.5)  # c1 was followed by c4 from the same number
    assert a1["answer_15s"] == pytest.approx(1.0)
    assert rows["a2"]["missed_offers"] == 1
    assert rows["a2"]["utilisation"] == pytest.approx(35 / 300)
    assert {r["rank"] for r in rows.values()} == {1, 2}


def test_report_and_audit_commands(journal: tuple[Core, SqliteStore], tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert main(list(argv)) == 0
        return buf.getvalue()

    d = ["--data-dir", str(tmp_path)]
    rows = json.loads(run("report", "intervals", *d, "--json"))
    assert {r["group"] for r in rows} == {"g", kpi.ALL}
    csv_text = run("report", "intervals", *d, "--format", "csv", "--minutes", "60")
    assert csv_text.splitlines()[0].startswith("start,group,offered,answered")
    page = run("report", "intervals", *d, "--format", "html", "--group", "g")
    assert page.count("<svg") == 4 and "Service level" in page
    assert "a1" in run("report", "agents", *d)
    bench = json.loads(run("report", "benchmark", *d, "--json"))
    asa = next(r for r in bench["benchmark"] if r["measure"] == "asa_seconds")
    assert asa["value"] == pytest.approx(4.5) and asa["standing"] == "better than median"
    audit = json.loads(run("audit", *d, "--who", "sup2", "--json"))
    assert [(a["action"], a["result"]) for a in audit] == [("force_logout", "refused:permission")]
    assert len(json.loads(run("audit", *d, "--since", str(T0 + 5.5), "--json"))) == 1
    assert "force_ready" in run("audit", *d)
    _core, store = journal
    assert len(store.audit_rows(AuditFilter(action="force_ready"))) == 1


def test_barrier_and_recent_contacts(tmp_path: Path) -> None:
    import asyncio

    core = scenario()
    store = open_store(tmp_path)
    j = JournalComponent(store, lambda: T0)

    async def go() -> None:
        j.record(core.log)
        await j.barrier()  # committed: a second connection sees it at once
        contacts = j.recent_contacts(CALLER)
        assert [c["call_id"] for c in contacts] == ["c4", "c1"]
        assert contacts[0]["agent"] == "a1"

    asyncio.run(go())
    store.close()


def test_close_ends_every_threads_reader_and_leaves_no_wal(tmp_path: Path) -> None:
    import threading

    store = open_store(tmp_path)
    store.append([config_record(scenario().engine.config, T0, "start")])
    done = threading.Event()
    store.sync(done.set)
    assert done.wait(10)
    store.call_ids()  # a reader on this thread
    worker = threading.Thread(target=store.call_ids)  # and one on another, as reports do
    worker.start()
    worker.join()

    def wal() -> list[str]:
        return [p.name for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm"))]

    assert wal()  # open connections keep the WAL
    store.close()
    assert wal() == []


async def test_a_restart_rebuilds_the_agents_counts_of_the_day(tmp_path: Path) -> None:
    # fewest-calls and least-talk-time pick by them: a restart must not hand the next calls
    # to whoever already worked the most today
    from switch_harness import settings_at, write_center

    from acd.app import App

    settings = settings_at(write_center(tmp_path / "c"))
    parts = ["acd.journal:component", "acd.recovery:component"]
    app = App(settings, port=0, data_dir=tmp_path / "d", components=parts)
    await app.start()
    try:
        app.core.submit(ev.AgentLogin("a2"))
        app.core.submit(ev.AgentReady("a2"))
        for cid in ("c1", "c2"):
            app.core.submit(ev.EnqueueCall(ev.CallInfo(cid), "general"))
            app.core.submit(ev.AcceptOffer("a2", cid))
            app.core.submit(ev.AgentLegAnswered(cid, "a2"))
            app.core.submit(ev.CallerHangup(cid))
        worked = app.engine.agents["a2"]
        assert worked.handled == 2
        talk = worked.talk
    finally:
        await app.stop()
    again = App(settings, port=0, data_dir=tmp_path / "d", components=parts)
    await again.start()
    try:
        back = again.engine.agents["a2"]
        assert back.handled == 2 and back.talk == pytest.approx(talk)
        assert again.engine.agents["a1"].handled == 0
    finally:
        await again.stop()
