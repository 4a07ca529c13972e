"""Loading and validating center configurations (acd.config, acd.configread, check-config)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.cli import main
from acd.config import default_config_path, load_config, validate_config
from acd.configread import Problems, Reader, read_tree
from acd.errors import ConfigError
from acd.model import (
    SYSTEM_REASONS,
    EntryAction,
    OverflowAction,
    Strategy,
    WrapUpMode,
)

CONFIG = Path(__file__).resolve().parent.parent / "config"
SHIPPED = ["center.toml", "mode1.toml", "mode2.toml", "mode3.toml"]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder as the working directory, so problems name short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: str | Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


# ------------------------------------------------------------------------- shipped configs


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load_cleanly(name: str) -> None:
    report = validate_config(CONFIG / name)
    assert report.errors == ()
    assert report.warnings == ()
    cfg = report.config
    assert cfg is not None and cfg.groups and cfg.agents
    assert cfg.source == str(CONFIG / name)
    assert len(cfg.version) == 64


def test_default_center_is_a_mode3_province_center() -> None:
    cfg = load_config(CONFIG / "center.toml")
    assert 35 <= len(cfg.agents) <= 45
    assert {"vip-gotone", "general"} <= set(cfg.groups)
    cities = set().union(*(a.attributes.get("cities", set()) for a in cfg.agents.values()))
    assert len(cities) >= 12
    assert {"break", "lunch", "training", "meeting"} <= set(cfg.reasons)
    assert set(SYSTEM_REASONS) <= set(cfg.reasons)
    assert cfg.wrapup_codes and cfg.teams and cfg.calendars
    assert cfg.priorities.vip_levels
    # Every agent belongs to a defined team, every group has agents able to serve it.
    assert all(a.team in cfg.teams for a in cfg.agents.values())
    tiers = {len(a.attributes["cities"]) for a in cfg.agents.values()}
    assert {2, 4, 6} <= tiers and max(tiers) >= 8


def test_mode1_and_mode2_have_no_overflow() -> None:
    for name in ("mode1.toml", "mode2.toml"):
        cfg = load_config(CONFIG / name)
        assert set(cfg.groups) == {"vip", "gotone", "mzone", "easyown"}
        assert all(not g.overflow for g in cfg.groups.values())
    mode2 = load_config(CONFIG / "mode2.toml")
    for brand in ("mzone", "easyown"):
        assert mode2.groups[brand].match == (("city", "cities"),)
        regions = {a.attributes["cities"] for a in mode2.agents.values() if brand in a.groups}
        assert len(regions) == 2
        assert all(5 <= len(r) <= 8 for r in regions)


# ------------------------------------------------------------------------- many errors at once

BAD = """\
[center]
name = "Bad"
timezone = "Asia/Shangai"
sl_treshold = 10
interval_minutes = 20

[priorities]
floor = 0
ceiling = 100
[priorities.vip_levels]
gold = 10

[reasons]
lunch = ""

[calendars.main]
mon = ["08:00-12:00", "11:00-13:00"]
tue = ["18:00-09:00"]
holidays = ["2025-02-30"]

[groups.general]
skill = "mass"
min_level = 0
strategy = "longest_idle"
calendar = "mian"
target = { ratio = 1.5, seconds = 20 }
wrap_up = { mode = "sometimes" }

[groups.vip]
skill = "vip"
min_level = 3
ring_timeout = "15"
closed = { action = "move", target = "vip" }

[[groups.vip.overflow]]
when = { waited = 20 }
action = "widen"
targets = ["general", "genral"]

[[groups.vip.overflow]]
when = {}
action = "voicemail"
min_level = 3

[[groups.vip.overflow]]
when = { service_level_below = 0 }
action = "move"
targets = ["vip"]

[agents.a1]
skills = { mass = 11, vip = 2 }
groups = ["vip", "general", "vip"]

[agents.a2]
team = "x"
skills = { mass = 5 }
groups = ["general", "vip"]
attributes = { cities = "nanjing" }

[grups.extra]
"""


def test_a_bad_file_reports_every_problem(here: Path) -> None:
    write(here / "center.toml", BAD)
    problems = errors_of("center.toml")
    expected = [
        "center.toml: center.timezone: unknown time zone 'Asia/Shangai' "
        "(did you mean 'Asia/Shanghai'?); use an IANA name or an offset like +08:00",
        "center.toml: center.sl_treshold: unknown key 'sl_treshold' (did you mean 'sl_threshold'?)",
        "center.toml: center.interval_minutes: must be one of 15, 30, 60 (got 20)",
        "center.toml: priorities.vip_levels.gold: a VIP level must be a whole number, not 'gold'",
        "center.toml: reasons.lunch: must not be empty",
        "center.toml: calendars.main.mon[1]: '11:00-13:00' overlaps '08:00-12:00'",
        "center.toml: calendars.main.tue[0]: '18:00-09:00' ends before it starts; a span past "
        'midnight is split in two ("22:00-24:00" and "00:00-02:00" on the next day)',
        "center.toml: calendars.main.holidays[0]: '2025-02-30' is not a date like 2025-10-01",
        "center.toml: groups.general.strategy: 'longest_idle' is not one of longest-idle, "
        "most-skilled, fewest-calls, least-talk-time, round-robin, random, least-versatile "
        "(did you mean 'longest-idle'?)",
        "center.toml: groups.general.calendar: unknown calendar 'mian' (did you mean 'main'?)",
        "center.toml: groups.general.target.ratio: must be greater than 0 and at most 1 (got 1.5)",
        "center.toml: groups.general.wrap_up.mode: 'sometimes' is not one of none, timed, "
        "mandatory",
        "center.toml: groups.general.min_level: must be between 1 and 10 (got 0)",
        "center.toml: groups.vip.ring_timeout: must be a number, not a string ('15')",
        "center.toml: groups.vip.closed.target: a call cannot be moved to the group it is leaving",
        "center.toml: groups.vip.overflow[0].targets[1]: unknown group 'genral' "
        "(did you mean 'general'?)",
        "center.toml: groups.vip.overflow[1].when: needs at least one condition: waited, "
        "queue_length, estimated_wait, no_agent_signed_in, no_agent_ready or "
        "service_level_below",
        "center.toml: groups.vip.overflow[1].min_level: only used by widen rules "
        "(action is 'voicemail')",
        "center.toml: groups.vip.overflow[2].when.service_level_below: must be greater than 0 "
        "and at most 1 (got 0)",
        "center.toml: groups.vip.overflow[2].targets[0]: a move cannot target the group the "
        "call is leaving",
        "center.toml: agents.a1.skills.mass: must be between 1 and 10 (got 11)",
        "center.toml: agents.a1.groups[2]: 'vip' is listed twice",
        "center.toml: agents.a1.groups[0]: group 'vip' needs skill 'vip' at level 3 or more; "
        "the agent has level 2, so it would never serve it",
        "center.toml: agents.a2.groups[1]: group 'vip' needs skill 'vip' at level 3 or more; "
        "the agent lacks it, so it would never serve it",
        "center.toml: agents.a2.attributes.cities: must be an array, not a string ('nanjing')",
        "center.toml: grups: unknown key 'grups' (did you mean 'groups'?)",
    ]
    for line in expected:
        assert line in problems, line
    assert len(problems) == len(set(problems)) == len(expected)
    # Every problem names the file and a key path.
    assert all(p.startswith("center.toml: ") and p.count(": ") >= 2 for p in problems)


def test_validate_config_never_raises(here: Path) -> None:
    write(here / "center.toml", BAD)
    report = validate_config("center.toml")
    assert report.config is None and not report.ok
    assert len(report.errors) > 20


def test_unreadable_and_malformed_files(here: Path) -> None:
    assert errors_of("nope.toml") == ["nope.toml: cannot read the file: No such file or directory"]
    write(here / "broken.toml", '[center]\nname = "x\n')
    [problem] = errors_of("broken.toml")
    assert problem.startswith("broken.toml: invalid TOML: ") and "line 2" in problem


def test_team_must_exist_when_teams_are_defined(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [teams.red]
        [groups.g]
        [agents.a]
        team = "rde"
        skills = { g = 1 }
        """,
    )
    assert errors_of("c.toml") == [
        "c.toml: agents.a.team: unknown team 'rde' (did you mean 'red'?)"
    ]


# ------------------------------------------------------------------------- includes


def test_includes_merge_tables_and_concatenate_arrays(here: Path) -> None:
    main_file = write(
        here / "center.toml",
        """\
        include = ["parts/groups.toml", "parts/agents.toml"]
        [center]
        name = "Merged"
        [groups.g]
        skill = "s"
        [[groups.g.overflow]]
        name = "first"
        when = { waited = 30 }
        action = "voicemail"
        """,
    )
    groups = write(
        here / "parts" / "groups.toml",
        """\
        include = ["hours.toml"]
        [groups.g]
        calendar = "day"
        [[groups.g.overflow]]
        name = "second"
        when = { waited = 60 }
        action = "callback"
        """,
    )
    hours = write(here / "parts" / "hours.toml", '[calendars.day]\ndaily = ["08:00-20:00"]\n')
    agents = write(here / "parts" / "agents.toml", "[agents.a]\nskills = { s = 1 }\n")
    cfg = load_config("center.toml")
    g = cfg.groups["g"]
    assert g.calendar == "day" and g.skill == "s"
    assert [r.name for r in g.overflow] == ["first", "second"]
    assert set(cfg.agents) == {"a"}
    data = b"".join(p.read_bytes() for p in (main_file, groups, hours, agents))
    assert cfg.version == hashlib.sha256(data).hexdigest()


def test_a_key_defined_in_two_files_names_both(here: Path) -> None:
    write(here / "a.toml", 'include = ["b.toml"]\n[center]\nname = "A"\n[groups.g]\n')
    write(here / "b.toml", '[center]\nname = "B"\n[groups.g]\nring_timeout = 0\n')
    assert errors_of("a.toml") == [
        "b.toml: center.name: already defined in a.toml",
        # a problem in an included file names that file
        "b.toml: groups.g.ring_timeout: must be greater than 0 (got 0)",
    ]


def test_include_problems(here: Path) -> None:
    write(here / "a.toml", 'include = ["b.toml", "missing.toml", 3]\n')
    write(here / "b.toml", 'include = ["a.toml"]\n')
    problems = errors_of("a.toml")
    assert problems == [
        "b.toml: include[0]: 'a.toml' is already included (as a.toml)",
        "a.toml: include[1]: cannot read 'missing.toml': No such file or directory",
        "a.toml: include[2]: must be a file name, not an integer",
    ]


def test_sections_of_other_parts_are_kept_with_their_file(here: Path) -> None:
    write(here / "a.toml", 'include = ["ivr.toml"]\n[server]\nport = 8765\n')
    write(here / "ivr.toml", '[ivr.flows.main]\nprompt = "welcome"\n')
    cfg = load_config("a.toml")
    assert set(cfg.sections) == {"server", "ivr"}
    assert cfg.sections["server"].plain() == {"port": 8765}
    ivr = cfg.sections["ivr"]
    assert ivr.file == "ivr.toml"
    # Later validators read them with the same machinery and name the right file.
    problems = Problems()
    flows = Reader(ivr, problems).table_at("flows")
    assert flows is not None
    for _, flow in flows.tables():
        flow.integer("prompt")
    assert problems.errors == [
        "ivr.toml: ivr.flows.main.prompt: must be an integer, not a string ('welcome')"
    ]


def test_read_tree_reports_without_raising(here: Path) -> None:
    problems = Problems()
    assert read_tree("missing.toml", problems) is None
    assert problems.errors == ["missing.toml: cannot read the file: No such file or directory"]


# ------------------------------------------------------------------------- values


def test_defaults_of_a_minimal_config(here: Path) -> None:
    write(here / "c.toml", "[groups.support]\n[agents.7]\nskills = { support = 1 }\n")
    cfg = load_config("c.toml")
    g = cfg.groups["support"]
    assert (g.name, g.skill, g.strategy, g.wrap_up.mode) == (
        "support",
        "support",
        Strategy.LONGEST_IDLE,
        WrapUpMode.TIMED,
    )
    a = cfg.agents["7"]
    assert (a.number, a.endpoint, a.groups) == ("7", "sip:7@localhost", ())
    assert cfg.reasons == SYSTEM_REASONS
    assert cfg.sections == {}


def test_typed_values_are_converted(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [center]
        timezone = "+08:00"
        [priorities]
        ceiling = 500
        [priorities.vip_levels]
        1 = 100
        3 = 300
        [reasons]
        lunch = "Lunch"
        login = "Just signed in"
        [groups.g]
        ageing_cap = "inf"
        match = { city = "cities", lang = "languages" }
        full = { action = "move", target = "h" }
        closed = { action = "callback", prompt = "closed" }
        [[groups.g.overflow]]
        when = { waited = 10, no_agent_ready = true }
        action = "widen"
        targets = ["g", "h"]
        min_level = 1
        [groups.h]
        [agents.a]
        number = 1001
        skills = { g = 3, h = 1 }
        attributes = { cities = ["nanjing"], languages = ["en"] }
        """,
    )
    cfg = load_config("c.toml")
    assert cfg.timezone.utcoffset(None) == dt.timedelta(hours=8)
    assert dict(cfg.priorities.vip_levels) == {1: 100.0, 3: 300.0}
    assert cfg.reasons["lunch"] == "Lunch" and cfg.reasons["login"] == "Just signed in"
    g = cfg.groups["g"]
    assert math.isinf(g.ageing_cap)
    assert g.match == (("city", "cities"), ("lang", "languages"))  # order kept
    assert (g.full.action, g.full.target) == (EntryAction.MOVE, "h")
    assert (g.closed.action, g.closed.prompt) == (EntryAction.CALLBACK, "closed")
    [rule] = g.overflow
    assert (rule.name, rule.action, rule.targets, rule.min_level) == (
        "rule-1",
        OverflowAction.WIDEN,
        ("g", "h"),
        1,
    )
    assert rule.when.waited == 10 and rule.when.no_agent_ready
    assert cfg.agents["a"].number == "1001"
    assert cfg.agents["a"].attributes["cities"] == frozenset({"nanjing"})


def test_warnings_do_not_fail_the_load(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [priorities]
        ceiling = 500
        [calendars.never]
        [groups.g]
        ageing_cap = 500
        calendar = "never"
        match = { city = "cities" }
        [groups.h]
        ageing_rate = 0
        [agents.a]
        skills = { g = 1 }
        """,
    )
    report = validate_config("c.toml")
    assert report.ok and report.config is not None
    assert report.warnings == (
        "c.toml: calendars.never: never open: no opening hours on any day",
        "c.toml: groups.g.match.city: no agent has an attribute set 'cities': calls carrying "
        "this attribute will wait in 'g' forever",
        "c.toml: groups.h.skill: no agent has skill 'h' at level 1 or more: nobody can answer "
        "this group",
        "c.toml: groups.h.ageing_rate: 0 means waiting calls never gain priority: with "
        "priorities spanning 500 points, low-priority calls can starve",
    )
    assert report.config.starvation_bound(report.config.groups["g"]) == 500.0
    assert report.config.starvation_bound(report.config.groups["h"]) is None


def test_an_ageing_cap_below_the_priority_spread_is_an_error(here: Path) -> None:
    (here / "c.toml").write_text(
        "[priorities]\nceiling = 500\n[groups.g]\nageing_cap = 100\n"
        "[agents.a]\nskills = { g = 1 }\n"
    )
    report = validate_config("c.toml")
    assert not report.ok
    assert report.errors == (
        "c.toml: groups.g.ageing_cap: 100 is below the priority spread 500 (ceiling - floor): "
        "calls based above floor + cap would start at the ceiling and lose their priority; "
        "use at least 500 (or ageing_rate = 0 for strict priority)",
    )


def test_widen_rules_lower_the_level_an_agent_needs(here: Path) -> None:
    text = """\
    [groups.vip]
    min_level = 6
    [groups.general]
    [[groups.general.overflow]]
    when = { waited = 30 }
    action = "widen"
    targets = ["vip"]
    min_level = 3
    [agents.a]
    skills = { vip = 4, general = 5 }
    groups = ["general", "vip"]
    """
    write(here / "c.toml", text)
    assert load_config("c.toml").agents["a"].groups == ("general", "vip")
    write(here / "c.toml", text.replace("min_level = 3", "min_level = 5"))
    assert errors_of("c.toml") == [
        "c.toml: agents.a.groups[1]: group 'vip' needs skill 'vip' at level 5 or more; the "
        "agent has level 4, so it would never serve it"
    ]


# ------------------------------------------------------------------------- calendars


def _epoch(tz: str | dt.tzinfo, year: int, month: int, day: int, hour: int, minute: int) -> float:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


def test_calendar_in_an_iana_zone(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [center]
        timezone = "Asia/Shanghai"
        [calendars.office]
        daily = ["08:30-12:00", "13:00-18:00"]
        sat = ["09:00-12:00"]
        sun = []
        holidays = [2025-10-01, "2025-10-02"]
        [calendars.office.special]
        2025-10-03 = ["10:00-24:00"]
        2025-10-08 = []
        """,
    )
    cal = load_config("c.toml").calendars["office"]

    def at(month: int, day: int, hour: int, minute: int) -> bool:
        return cal.is_open(_epoch("Asia/Shanghai", 2025, month, day, hour, minute))

    assert at(9, 30, 8, 29) is False  # Tuesday, before opening
    assert at(9, 30, 8, 30) is True
    assert at(9, 30, 12, 30) is False  # lunch
    assert at(9, 30, 17, 59) is True
    assert at(9, 30, 18, 0) is False  # the end of a span is closed
    assert at(9, 27, 11, 0) is True and at(9, 27, 13, 0) is False  # Saturday hours
    assert at(9, 28, 11, 0) is False  # Sunday
    assert at(10, 1, 10, 0) is False and at(10, 2, 10, 0) is False  # holidays
    assert at(10, 3, 9, 0) is False and at(10, 3, 23, 59) is True  # special day, to 24:00
    assert at(10, 8, 10, 0) is False  # a special closed day
    # Open at 10:00 Shanghai is 02:00 UTC: the zone, not UTC, decides.
    assert cal.is_open(dt.datetime(2025, 9, 30, 2, 0, tzinfo=dt.UTC).timestamp())
    nxt = cal.next_change(_epoch("Asia/Shanghai", 2025, 9, 30, 11, 0))
    assert nxt == _epoch("Asia/Shanghai", 2025, 9, 30, 12, 0)


def test_calendar_with_a_fixed_offset(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [calendars.night]
        timezone = "-05:00"
        daily = ["00:00-06:00", "22:00-24:00"]
        """,
    )
    cal = load_config("c.toml").calendars["night"]
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    assert cal.tz.utcoffset(None) == dt.timedelta(hours=-5)
    assert cal.is_open(_epoch(minus5, 2025, 3, 4, 23, 0))
    assert cal.is_open(_epoch(minus5, 2025, 3, 5, 5, 59))
    assert not cal.is_open(_epoch(minus5, 2025, 3, 5, 6, 0))
    # 23:00 at -05:00 is 04:00 UTC the next day.
    assert cal.is_open(dt.datetime(2025, 3, 5, 4, 0, tzinfo=dt.UTC).timestamp())
    assert not cal.is_open(dt.datetime(2025, 3, 5, 12, 0, tzinfo=dt.UTC).timestamp())


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ("8:00-12:00", "'8:00-12:00' is not a span like \"08:00-18:00\""),
        ("08:00-24:30", "'08:00-24:30' is not a valid time span (00:00 to 24:00)"),
        ("24:00-24:00", "'24:00-24:00' is not a valid time span (00:00 to 24:00)"),
        ("10:00-10:00", "'10:00-10:00' ends before it starts"),
    ],
)
def test_bad_spans(here: Path, span: str, message: str) -> None:
    write(here / "c.toml", f'[calendars.c]\nmon = ["{span}"]\n')
    [problem] = errors_of("c.toml")
    assert problem.startswith(f"c.toml: calendars.c.mon[0]: {message}")


# ------------------------------------------------------------------------- agent blocks


def test_agent_blocks_generate_agents(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [teams.t]
        [groups.g]
        [[agent_blocks]]
        first = 2001
        count = 3
        team = "t"
        name = "Agent {id}"
        skills = { g = 4 }
        groups = ["g"]
        attributes = { cities = ["nanjing", "wuxi"] }
        endpoint = "sip:{id}@pbx"
        [[agent_blocks]]
        first = 7
        count = 2
        prefix = "night-"
        skills = { g = 1 }
        """,
    )
    cfg = load_config("c.toml")
    assert list(cfg.agents) == ["2001", "2002", "2003", "night-7", "night-8"]
    a = cfg.agents["2002"]
    assert (a.number, a.name, a.team, a.endpoint, a.groups) == (
        "2002",
        "Agent 2002",
        "t",
        "sip:2002@pbx",
        ("g",),
    )
    assert a.attributes["cities"] == frozenset({"nanjing", "wuxi"})
    assert cfg.agents["night-8"].endpoint == "sip:night-8@localhost"


def test_agent_block_collisions_name_both_definitions(here: Path) -> None:
    write(
        here / "c.toml", 'include = ["more.toml"]\n[groups.g]\n[agents.2002]\nskills = { g = 1 }\n'
    )
    write(
        here / "more.toml",
        """\
        [[agent_blocks]]
        first = 2001
        count = 3
        skills = { g = 1 }
        [[agent_blocks]]
        first = 2003
        count = 4
        skills = { g = 1 }
        [[agent_blocks]]
        count = 0
        """,
    )
    assert errors_of("c.toml") == [
        "more.toml: agent_blocks[0]: generates agent '2002', already defined as agents.2002 "
        "in c.toml",
        "more.toml: agent_blocks[1]: generates agent '2003', also generated by agent_blocks[0] "
        "in more.toml",
        "more.toml: agent_blocks[2]: missing 'first'",
        "more.toml: agent_blocks[2].count: must be between 1 and 10000 (got 0)",
    ]


def test_agent_numbers_are_unique(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [groups.g]
        [agents.a]
        number = "1001"
        skills = { g = 1 }
        [agents.b]
        number = "1001"
        skills = { g = 1 }
        """,
    )
    assert errors_of("c.toml") == ["c.toml: agents.b.number: number '1001' is already agent 'a''s"]


# ------------------------------------------------------------------------- default path


def test_default_config_path(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_CONFIG", "/etc/acd/site.toml")
    assert default_config_path() == Path("/etc/acd/site.toml")
    monkeypatch.delenv("ACD_CONFIG")
    bundled = default_config_path()
    assert bundled == CONFIG / "center.toml" and bundled.is_file()
    write(here / "config" / "center.toml", "")
    assert default_config_path() == Path("config") / "center.toml"


# ------------------------------------------------------------------------- check-config


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CONFIG / "center.toml")
    assert main(["check-config", path]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"{path}: ok (3 groups, 40 agents, 0 warnings, version ")


def test_check_config_lists_errors_and_warnings(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        here / "c.toml",
        """\
        [center]
        interval_minutes = 5
        [groups.g]
        ageing_rate = 0
        strategy = "fifo"
        [agents.a]
        skills = { g = 1 }
        """,
    )
    assert main(["check-config", "c.toml"]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "c.toml: center.interval_minutes: must be one of 15, 30, 60 (got 5)",
        "c.toml: groups.g.strategy: 'fifo' is not one of longest-idle, most-skilled, "
        "fewest-calls, least-talk-time, round-robin, random, least-versatile",
        "warning: c.toml: groups.g.ageing_rate: 0 means waiting calls never gain priority: "
        "with priorities spanning 1000 points, low-priority calls can starve",
    ]
    assert out == "c.toml: invalid (2 errors, 1 warning)\n"

    write(here / "c.toml", "[groups.g]\nageing_rate = 0\n[agents.a]\nskills = { g = 1 }\n")
    assert main(["check-config", "c.toml"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("warning: c.toml: groups.g.ageing_rate: ")
    assert out.startswith("c.toml: ok (1 groups, 1 agents, 2 warnings, version ")


def test_unlisted_groups_the_skills_qualify_for_are_pointed_out(here: Path) -> None:
    write(
        here / "c.toml",
        """\
        [groups.gotone]
        [groups.mzone]
        [agents.a]
        skills = { gotone = 5, mzone = 5 }
        groups = ["gotone"]
        """,
    )
    report = validate_config("c.toml")
    assert report.ok
    assert report.warnings == (
        "c.toml: agents.a.groups: the agent's skills also qualify it for group 'mzone', served "
        "after the listed groups; list them to make the order explicit",
    )
