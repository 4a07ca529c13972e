"""The pure IVR machine on a simulated clock, and flow validation through check-config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core_harness import Core, agent, center, group
from switch_harness import settings_at, write_center

from acd.configread import Problems
from acd.settings import validate_settings
from ivr import machine as im
from ivr.blocks import BadBlock, Blocks, make_rule
from ivr.flows import IvrSettings, parse_ivr

MONDAY_10H = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC).timestamp()
SUNDAY_10H = dt.datetime(2025, 3, 9, 10, 0, tzinfo=dt.UTC).timestamp()


def machine(tmp_path: Path, extra: str = "") -> tuple[im.IvrMachine, Core]:
    settings = settings_at(write_center(tmp_path, extra=extra))
    ivr = settings.parts["ivr"]
    assert isinstance(ivr, IvrSettings)
    core = Core(settings.center)
    return im.IvrMachine(ivr, settings.center, core.engine), core


def say(acts: list[im.Act]) -> list[str]:
    return [a.prompt for a in acts if isinstance(a, im.Say)]


def test_walk_lookup_play_menu_collect_set_queue(tmp_path: Path) -> None:
    mc, _ = machine(tmp_path)
    s = mc.session("c1", "13900000002", "10086")
    assert s is not None
    acts = mc.start(s, 0.0)
    assert say(acts) == ["welcome"] and s.node == "welcome"
    assert (s.brand, s.attributes["city"], s.customer["name"]) == ("mzone", "suzhou", "Huang Lei")
    acts = mc.handle(s, im.PromptDone(), 1.0)
    assert acts == [im.Say("menu", 1, 1, 1.0)] and s.deadline == 1.0 + 1.0 + im.DEADLINE_SLACK
    assert mc.handle(s, im.PromptDone(), 1.5) == []  # a late prompt_done moves nothing
    acts = mc.handle(s, im.DigitsIn("2"), 2.0)
    assert acts == [im.Say("pin", 4, 4, 6.0, "#")]
    acts = mc.handle(s, im.DigitsIn("12"), 3.0)  # too short: retried
    assert say(acts) == ["pin"] and s.tries == 1
    acts = mc.handle(s, im.DigitsIn("4321#"), 4.0)
    assert isinstance(acts[0], im.Note) and acts[0].kind == "ivr"
    assert acts[0].data["inputs"] == {"menu": "2", "pin": "4321"}
    assert acts[1] == im.Enqueue("general", None, 5.0)
    assert s.attributes["topic"] == "billing" and s.done
    assert mc.handle(s, im.DigitsIn("1"), 5.0) == []  # done: nothing moves


def test_menu_retries_invalid_and_timeout_then_fails(tmp_path: Path) -> None:
    mc, _ = machine(tmp_path)
    s = mc.session("c1", "1", "x")
    assert s is not None
    mc.start(s, 0.0)
    mc.handle(s, im.PromptDone(), 0.0)
    assert say(mc.handle(s, im.DigitsIn("7"), 1.0)) == ["invalid", "menu"]
    assert mc.handle(s, im.Timeout(), 1.5) == []  # not yet due
    acts = mc.handle(s, im.Timeout(), 10.0)  # the switch never reported: our deadline
    assert acts[-1] == im.Hangup("goodbye")


def test_vip_from_the_directory_takes_the_fast_path(tmp_path: Path) -> None:
    mc, _ = machine(tmp_path)
    s = mc.session("c1", "13800000001", "10086")
    assert s is not None
    mc.start(s, 0.0)
    acts = mc.handle(s, im.PromptDone(), 1.0)
    assert say(acts) == ["vip-hello"]
    acts = mc.handle(s, im.DigitsIn("5"), 2.0)  # digits interrupt a prompt
    assert acts[-1] == im.Enqueue("vip", None, 0.0) and s.vip == 1


def test_final_nodes(tmp_path: Path) -> None:
    mc, _ = machine(tmp_path)
    for digit, kind in (
        ("3", im.Enqueue),
        ("4", im.MakeCallback),
        ("5", im.Transfer),
        ("6", im.RecordVoicemail),
    ):
        s = mc.session("c", "1", "x")
        assert s is not None
        mc.start(s, 0.0)
        mc.handle(s, im.PromptDone(), 0.0)
        acts = mc.handle(s, im.DigitsIn(digit), 1.0)
        assert isinstance(acts[-1], kind), digit


EXTRA = """
[calendars.office]
mon = ["09:00-18:00"]
tue = []
wed = []
thu = []
fri = []
sat = []
sun = []

[ivr.flows.cond]
start = "c"
[ivr.flows.cond.nodes.c]
kind = "condition"
else = "q-else"
[[ivr.flows.cond.nodes.c.branches]]
when = { open = "office", attributes = { city = ["suzhou", "wuxi"] } }
goto = "q-open"
[[ivr.flows.cond.nodes.c.branches]]
when = { group = "general", agents_ready_below = 1, time = "09:00-12:00", days = ["mon"] }
goto = "q-unstaffed"
[[ivr.flows.cond.nodes.c.branches]]
when = { customer_found = false }
goto = "q-unknown"
[ivr.flows.cond.nodes.q-open]
kind = "queue"
group = "general"
priority = 42
[ivr.flows.cond.nodes.q-unstaffed]
kind = "voicemail"
group = "general"
[ivr.flows.cond.nodes.q-unknown]
kind = "hangup"
[ivr.flows.cond.nodes.q-else]
kind = "queue"
group = "vip"

[ivr.entry]
"999" = "cond"
"""


def test_conditions_on_calendars_time_attributes_and_live_figures(tmp_path: Path) -> None:
    mc, core = machine(tmp_path, EXTRA)

    def final(caller: str, now: float) -> im.Act:
        s = mc.session("c", caller, "999")
        assert s is not None
        return mc.start(s, now)[-1]

    # the flow has no lookup node: the city is unknown, so the office branch never holds
    assert isinstance(final("13900000002", MONDAY_10H), im.RecordVoicemail)  # nobody ready
    core.at(MONDAY_10H).login_ready("a2")
    assert isinstance(final("13900000002", MONDAY_10H), im.Hangup)  # customer_found false
    assert isinstance(final("13900000002", SUNDAY_10H), im.Hangup)
    s = mc.session("c", "13900000002", "999")
    assert s is not None
    s.attributes["city"] = "wuxi"
    s.found = True
    assert mc.start(s, MONDAY_10H)[-1] == im.Enqueue("general", 42.0, 0.0)
    s = mc.session("c", "13900000002", "999")
    assert s is not None
    s.found = True
    assert mc.start(s, SUNDAY_10H)[-1] == im.Enqueue("vip", None, 0.0)


def test_post_call_survey(tmp_path: Path) -> None:
    mc, _ = machine(tmp_path)
    s = mc.survey_session("c1", "1", "a1", "general")
    assert say(mc.start(s, 0.0)) == ["survey"]
    assert say(mc.handle(s, im.DigitsIn("9"), 1.0)) == ["survey"]  # not a score: asked again
    acts = mc.handle(s, im.DigitsIn("3"), 2.0)
    notes = [a for a in acts if isinstance(a, im.Note) and a.kind == "survey"]
    assert notes[0].data == {"score": 3, "label": "dissatisfied", "agent": "a1", "group": "general"}
    assert acts[-1] == im.Hangup("survey-thanks")


def _errors(tmp_path: Path, old: str, new: str, extra: str = "") -> list[str]:
    path = write_center(tmp_path, extra=extra)
    path.write_text(path.read_text().replace(old, new))
    settings, problems = validate_settings(path)
    assert settings is None
    return problems.errors


def test_flow_errors_name_file_flow_and_node(tmp_path: Path) -> None:
    errs = _errors(tmp_path, 'next = "vip-check"', 'next = "vip-chek"')
    assert any(
        "ivr.flows.main.nodes.welcome.next: flow 'main', node 'welcome': next goes to unknown "
        "node 'vip-chek' (did you mean 'vip-check'?)" in e
        for e in errs
    ), errs
    assert any("node 'vip-check': unreachable from 'lookup'" in e for e in errs)
    errs = _errors(tmp_path, 'group = "night"', 'group = "nite"')
    assert any(
        "center.toml: ivr.flows.main.nodes.to-night.group: "
        "flow 'main', node 'to-night': unknown group 'nite'" in e
        for e in errs
    ), errs
    errs = _errors(tmp_path, 'prompt = "goodbye"', 'prompt = "good-bye"')
    assert any(
        "nodes.bye.prompt: flow 'main', node 'bye': unknown prompt 'good-bye'" in e for e in errs
    ), errs
    loop = """
[ivr.flows.spin]
start = "a"
[ivr.flows.spin.nodes.a]
kind = "set"
next = "b"
[ivr.flows.spin.nodes.b]
kind = "goto"
next = "a"
"""
    path = write_center(tmp_path, extra=loop)
    _, problems = validate_settings(path)
    assert any("loop with no caller input (a -> b -> a)" in e for e in problems.errors), (
        problems.errors
    )
    errs = _errors(tmp_path, 'kind = "menu"', 'kind = "menus"')
    assert any("'menus' is not one of" in e for e in errs)


def test_bundled_center_validates_with_its_flows() -> None:
    root = Path(__file__).resolve().parent.parent / "config" / "center.toml"
    settings, problems = validate_settings(root)
    assert settings is not None, problems.errors
    ivr = settings.parts["ivr"]
    assert "10086" in ivr.flows and len(ivr.directory.customers) >= 10  # type: ignore[attr-defined]
    assert settings.parts["switch"].tokens["pbx-1"].startswith("scrypt$")


def test_empty_ivr_section() -> None:
    cfg = center([group("g")], [agent("a", {"g": 5})])
    assert parse_ivr(cfg, Problems()).flows == {}


def test_block_rules(tmp_path: Path) -> None:
    b = Blocks(tmp_path / "blocks.json")
    for bad in (
        {"pattern": "13*", "reason": ""},
        {"pattern": "x", "reason": "r", "seconds": 5},
        {"pattern": "1", "reason": "r", "seconds": -1},
        {"pattern": "1", "reason": "r"},
    ):
        try:
            make_rule(bad, "admin", 100.0)
        except BadBlock:
            continue
        raise AssertionError(bad)
    b.add(make_rule({"pattern": "138*", "reason": "abuse", "seconds": 60}, "admin", 100.0))
    b.add(make_rule({"pattern": "13900000002", "reason": "fraud", "seconds": 10}, "admin", 100.0))
    assert b.match("13900000002", 105.0) is not None
    hit = b.match("13812345678", 120.0)
    assert hit is not None and hit.reason == "abuse"
    assert b.match("13900000002", 111.0) is None  # expired
    assert [r.pattern for r in Blocks(tmp_path / "blocks.json").active(120.0)] == ["138*"]


def test_prompts_the_server_plays_are_warned_about_when_missing(tmp_path: Path) -> None:
    path = write_center(tmp_path)
    path.write_text(path.read_text().replace('transfer-failed = "The transfer failed"\n', ""))
    settings, problems = validate_settings(path)
    assert settings is not None  # it loads: the switch may hold its own recording
    assert any(
        "prompts: no prompt 'transfer-failed', which the server plays when an IVR transfer" in w
        for w in problems.warnings
    ), problems.warnings
    assert not any("'goodbye'" in w for w in problems.warnings)
