"""The center configuration: TOML files validated into the frozen objects of `acd.model`.

`load_config(path)` returns a `CenterConfig` or raises `ConfigError` listing every problem;
`validate_config(path)` returns a `Report` with the config (when valid), errors and warnings.
Each problem is one line: `FILE: KEY.PATH: what is wrong`. The schema is documented in
docs/configuration.md; the generic reading machinery lives in `acd.configread`.

Reading files happens here, once, at load time; nothing in this module runs while routing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from acd.configread import (
    Loc,
    Located,
    Problems,
    Reader,
    Refs,
    Table,
    read_tree,
    type_name,
    valid_id,
)
from acd.errors import ConfigError
from acd.model import (
    SYSTEM_REASONS,
    AgentConfig,
    Calendar,
    CallbackPolicy,
    CenterConfig,
    Conditions,
    EntryAction,
    EntryRule,
    OverflowAction,
    OverflowRule,
    Priorities,
    ServiceTarget,
    SkillGroup,
    Strategy,
    Team,
    WrapUp,
    WrapUpMode,
)

# Top-level tables other parts of the product own; kept raw in `CenterConfig.sections`.
SECTIONS = frozenset(
    {
        "ivr",
        "switch",
        "server",
        "supervisors",
        "store",
        "kpi",
        "directory",
        "blocks",
        "survey",
        "limits",
        "prompts",
        "credentials",
        "reports",
        "agent_gateway",
    }
)
CORE = (
    "center",
    "priorities",
    "reasons",
    "wrapup_codes",
    "calendars",
    "teams",
    "groups",
    "agents",
    "agent_blocks",
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ENDPOINT = "sip:{id}@localhost"
_GROUP_DEFAULTS = SkillGroup(id="", name="", skill="")  # defaults live in the model
_CENTER_DEFAULTS = CenterConfig()
_VALUED_CONDITIONS = ("waited", "queue_length", "estimated_wait", "service_level_below")
_SPAN = re.compile(r"(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of validating a configuration."""

    config: CenterConfig | None  # None when there are errors
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the configuration loads (warnings allowed)."""
        return not self.errors


def validate_config(path: str | os.PathLike[str]) -> Report:
    """Read and check a configuration; never raises for a bad configuration."""
    problems = Problems()
    tree = read_tree(path, problems)
    config = None
    if tree is not None:
        built = _Builder(tree.root, problems).build()
        if not problems.errors:
            config = replace(built, version=tree.version, source=os.fspath(path))
    return Report(config, tuple(problems.errors), tuple(problems.warnings))


def load_config(path: str | os.PathLike[str]) -> CenterConfig:
    """The validated configuration, or `ConfigError` listing every problem found."""
    report = validate_config(path)
    if report.config is None:
        raise ConfigError(list(report.errors))
    return report.config


def default_config_path() -> Path:
    """$ACD_CONFIG, else ./config/center.toml if present, else the one beside the sources."""
    env = os.environ.get("ACD_CONFIG")
    if env:
        return Path(env)
    local = Path("config") / "center.toml"
    if local.is_file():
        return local
    return Path(__file__).resolve().parent.parent / "config" / "center.toml"


def _frozen(d: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(d))


@dataclass(slots=True)
class _AgentSpec:
    """Agent fields read once (for one agent or a whole block), checked once."""

    reader: Reader
    name: str = ""
    number: str | None = None
    team: Located | None = None
    skills: dict[str, int] = field(default_factory=dict)
    groups: list[Located] = field(default_factory=list)
    attributes: dict[str, frozenset[str]] = field(default_factory=dict)
    endpoint: str = DEFAULT_ENDPOINT
    secret_hash: str = ""
    bad_skills: set[str] = field(default_factory=set)

    def make(self, agent_id: str) -> AgentConfig:
        """The agent with id `agent_id` ({id} in name, number and endpoint is replaced)."""
        number = agent_id if self.number is None else self.number.replace("{id}", agent_id)
        return AgentConfig(
            id=agent_id,
            number=number,
            name=self.name.replace("{id}", agent_id),
            team=self.team.value if self.team is not None else "",
            skills=_frozen(self.skills),
            groups=tuple(g.value for g in self.groups),
            attributes=_frozen(self.attributes),
            endpoint=self.endpoint.replace("{id}", agent_id),
            secret_hash=self.secret_hash,
        )


class _Builder:
    """One pass over the merged tables; problems are collected, never raised."""

    def __init__(self, root: Table, problems: Problems) -> None:
        self.p = problems
        self.top = Reader(root, problems)
        self.refs = Refs()
        self.tz: dt.tzinfo = _CENTER_DEFAULTS.timezone
        self.calendars: dict[str, Calendar] = {}
        self.groups: dict[str, SkillGroup] = {}
        self.group_readers: dict[str, Reader] = {}
        self.match_locs: list[tuple[str, str, Loc]] = []  # (group, agent attribute set, where)
        self.specs: list[tuple[_AgentSpec, list[str]]] = []  # spec, agent ids it made
        self.agents: dict[str, AgentConfig] = {}
        self.agent_locs: dict[str, Loc] = {}

    def build(self) -> CenterConfig:
        """Read every table, cross-check, and assemble the config."""
        top = self.top
        top.allow(*SECTIONS, "include")  # include is consumed while reading files
        center = self._center()
        priorities = self._priorities()
        reasons = self._labels("reasons", dict(SYSTEM_REASONS))
        wrapup = self._labels("wrapup_codes", {})
        self._calendars()
        teams = self._teams()
        self._groups()
        self._agents()
        sections = self._sections()
        self.refs.check("calendar", self.calendars, self.p)
        self.refs.check("group", self.groups, self.p)
        if teams:
            self.refs.check("team", teams, self.p)
        self._cross_checks(priorities)
        top.finish()
        return CenterConfig(
            **center,
            timezone=self.tz,
            priorities=priorities,
            reasons=_frozen(reasons),
            wrapup_codes=_frozen(wrapup),
            calendars=_frozen(self.calendars),
            groups=_frozen(self.groups),
            agents=_frozen(self.agents),
            teams=_frozen(teams),
            sections=_frozen(sections),
        )

    # -- [center], [priorities], labels ----------------------------------------------

    def _center(self) -> dict[str, Any]:
        """CenterConfig keyword arguments from [center]."""
        d = _CENTER_DEFAULTS
        r = self.top.table_at("center")
        if r is None:
            return {}
        self.tz = r.timezone("timezone", d.timezone)
        return {
            "name": r.text("name", d.name, nonempty=True),
            "sl_threshold": r.number("sl_threshold", d.sl_threshold, lo=0, lo_open=True),
            "interval_minutes": r.one_of("interval_minutes", (15, 30, 60), d.interval_minutes),
            "overflow_check_period": r.number(
                "overflow_check_period", d.overflow_check_period, lo=0, hi=300, lo_open=True
            ),
        }

    def _priorities(self) -> Priorities:
        d = Priorities()
        r = self.top.table_at("priorities")
        if r is None:
            return d
        default = r.number("default", d.default)
        floor = r.number("floor", d.floor)
        ceiling = r.number("ceiling", d.ceiling)
        if floor > ceiling:
            r.error("ceiling", f"must not be below the floor ({floor:g})")
        elif not floor <= default <= ceiling:
            r.warning("default", f"{default:g} is outside [{floor:g}, {ceiling:g}]: clamped")
        brands: dict[str, float] = {}
        br = r.table_at("brands")
        if br is not None:
            for brand in br.names():
                brands[brand] = br.number(brand)
        levels: dict[int, float] = {}
        vr = r.table_at("vip_levels")
        if vr is not None:
            for key in vr.names():
                points = vr.number(key)
                if not re.fullmatch(r"\d+", key):
                    vr.error(key, f"a VIP level must be a whole number, not '{key}'")
                    continue
                levels[int(key)] = points
        return Priorities(
            brands=_frozen(brands),
            vip_levels=_frozen(levels),
            default=default,
            floor=floor,
            ceiling=ceiling,
        )

    def _labels(self, key: str, base: dict[str, str]) -> dict[str, str]:
        """A code -> label table ([reasons], [wrapup_codes])."""
        r = self.top.table_at(key)
        if r is None:
            return base
        for code in r.names():
            label = r.text(code, nonempty=True)
            if not valid_id(code):
                r.error(code, "a code may only use letters, digits, '-' and '_'")
            elif label:
                base[code] = label
        return base

    # -- [calendars] ----------------------------------------------------------------

    def _calendars(self) -> None:
        r = self.top.table_at("calendars")
        if r is None:
            return
        for cid, cr in r.tables():
            if not valid_id(cid):
                r.error(cid, "an id may only use letters, digits, '-' and '_'")
            tz = cr.timezone("timezone", self.tz)
            daily = self._spans(cr, "daily")
            weekly = []
            for day in DAYS:
                spans = self._spans(cr, day)
                weekly.append(spans if spans is not None else (daily or ()))
            holidays: set[dt.date] = set()
            for value, loc in cr.array("holidays") or []:
                day_ = _date(value)
                if day_ is None and isinstance(value, str):
                    self.p.error(loc, f"'{value}' is not a date like 2025-10-01")
                elif day_ is None:
                    self.p.error(loc, f"must be a date like 2025-10-01, not {type_name(value)}")
                else:
                    holidays.add(day_)
            special: dict[dt.date, tuple[tuple[int, int], ...]] = {}
            sr = cr.table_at("special")
            if sr is not None:
                for key in sr.names():
                    spans = self._spans(sr, key)
                    day_ = _date(key)
                    if day_ is None:
                        sr.error(key, f"'{key}' is not a date like 2025-10-01")
                    elif spans is not None:
                        special[day_] = spans
            cal = Calendar(cid, tz, tuple(weekly), frozenset(holidays), _frozen(special))
            if not any(weekly) and not any(special.values()):
                cr.warning(None, "never open: no opening hours on any day")
            self.calendars[cid] = cal

    def _spans(self, r: Reader, key: str) -> tuple[tuple[int, int], ...] | None:
        """A list of "HH:MM-HH:MM" spans (sorted, checked), or None when absent."""
        items = r.array(key)
        if items is None:
            return None
        spans: list[tuple[int, int, str, Loc]] = []
        for value, loc in items:
            span = _span(value)
            if isinstance(span, str):
                self.p.error(loc, span)
            else:
                spans.append((span[0], span[1], value, loc))
        spans.sort()
        for (_, end, text, _), (start, _, text2, loc2) in itertools.pairwise(spans):
            if start < end:
                self.p.error(loc2, f"'{text2}' overlaps '{text}'")
        return tuple((a, b) for a, b, _, _ in spans)

    # -- [teams], [groups] ------------------------------------------------------------

    def _teams(self) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        r = self.top.table_at("teams")
        if r is None:
            return teams
        for tid, tr in r.tables():
            if not valid_id(tid):
                r.error(tid, "an id may only use letters, digits, '-' and '_'")
            teams[tid] = Team(tid, tr.text("name", tid, nonempty=True))
        return teams

    def _groups(self) -> None:
        r = self.top.table_at("groups")
        if r is None:
            return
        for gid, gr in r.tables():
            if not valid_id(gid):
                r.error(gid, "an id may only use letters, digits, '-' and '_'")
            self.group_readers[gid] = gr
            self.groups[gid] = self._group(gid, gr)

    def _group(self, gid: str, gr: Reader) -> SkillGroup:
        d = _GROUP_DEFAULTS
        target = d.target
        tr = gr.table_at("target")
        if tr is not None:
            target = ServiceTarget(
                ratio=tr.number("ratio", target.ratio, lo=0, hi=1, lo_open=True),
                seconds=tr.number("seconds", target.seconds, lo=0, lo_open=True),
            )
        wrap = d.wrap_up
        wr = gr.table_at("wrap_up")
        if wr is not None:
            mode = wr.choice("mode", WrapUpMode, wrap.mode)
            seconds = wr.number("seconds", wrap.seconds, lo=0)
            if mode is not WrapUpMode.TIMED and wr.has("seconds"):
                wr.warning("seconds", f"ignored: wrap-up mode is '{mode.value}', not 'timed'")
            wrap = WrapUp(mode, seconds)
        match: list[tuple[str, str]] = []
        mr = gr.table_at("match")
        if mr is not None:
            for call_attr in mr.names():
                agent_set = mr.text(call_attr, nonempty=True)
                if agent_set:
                    match.append((call_attr, agent_set))
                    self.match_locs.append((gid, agent_set, mr.loc(call_attr)))
        calendar = gr.opt_text("calendar")
        if calendar is not None:
            self.refs.need("calendar", calendar, gr.loc("calendar"))
        callback = d.callback
        cr = gr.table_at("callback")
        if cr is not None:
            callback = CallbackPolicy(
                offer_when_estimated_wait=cr.opt_number("offer_when_estimated_wait", lo=0),
                retry_delay=cr.number("retry_delay", callback.retry_delay, lo=0, lo_open=True),
                max_attempts=cr.integer("max_attempts", callback.max_attempts, lo=1, hi=100),
            )
        rules: list[OverflowRule] = []
        names: dict[str, Loc] = {}
        for i, rr in gr.tables_in("overflow"):
            rule = self._rule(gid, i, rr)
            if rule.name in names:
                rr.error("name", f"rule '{rule.name}' is already defined at {names[rule.name]}")
            names[rule.name] = rr.loc("name")
            rules.append(rule)
        return SkillGroup(
            id=gid,
            name=gr.text("name", gid, nonempty=True),
            skill=gr.text("skill", gid, nonempty=True),
            min_level=gr.integer("min_level", d.min_level, lo=1, hi=10),
            target=target,
            capacity=gr.integer("capacity", d.capacity, lo=0),
            ring_timeout=gr.number("ring_timeout", d.ring_timeout, lo=0, lo_open=True),
            wrap_up=wrap,
            strategy=gr.choice("strategy", Strategy, d.strategy),
            reject_delay=gr.number("reject_delay", d.reject_delay, lo=0),
            max_misses=gr.integer("max_misses", d.max_misses, lo=1),
            match=tuple(match),
            overflow=tuple(rules),
            callback=callback,
            calendar=calendar,
            closed=self._entry(gid, gr, "closed"),
            full=self._entry(gid, gr, "full"),
            announce_agent_number=gr.flag("announce_agent_number"),
            survey=gr.flag("survey"),
            ageing_rate=gr.number("ageing_rate", d.ageing_rate, lo=0),
            ageing_cap=gr.number("ageing_cap", d.ageing_cap, lo=0, allow_inf=True),
            expected_aht=gr.number("expected_aht", d.expected_aht, lo=0, lo_open=True),
            announce_period=gr.number("announce_period", d.announce_period, lo=0, lo_open=True),
        )

    def _entry(self, gid: str, gr: Reader, key: str) -> EntryRule:
        """`closed` / `full`: what a call meets when the group cannot take it."""
        er = gr.table_at(key)
        if er is None:
            return EntryRule()
        action = er.choice("action", EntryAction, EntryAction.MESSAGE)
        target = er.opt_text("target")
        prompt = er.text("prompt", "")
        if action is EntryAction.MOVE:
            if target is None:
                er.error(None, "missing 'target': the group to move the call to")
            elif target == gid:
                er.error("target", "a call cannot be moved to the group it is leaving")
            else:
                self.refs.need("group", target, er.loc("target"))
        elif target is not None:
            er.error("target", f"only used when action is 'move' (action is '{action.value}')")
            target = None
        return EntryRule(action, prompt, target)

    def _rule(self, gid: str, i: int, rr: Reader) -> OverflowRule:
        name = rr.text("name", f"rule-{i + 1}", nonempty=True)
        when = Conditions()
        wr = rr.table_at("when", required=True)
        if wr is not None:
            when = Conditions(
                waited=wr.opt_number("waited", lo=0),
                queue_length=wr.opt_integer("queue_length", lo=1),
                estimated_wait=wr.opt_number("estimated_wait", lo=0),
                no_agent_signed_in=wr.flag("no_agent_signed_in"),
                no_agent_ready=wr.flag("no_agent_ready"),
                service_level_below=wr.opt_number("service_level_below", lo=0, hi=1, lo_open=True),
            )
            # A condition given with a bad value was reported already.
            if when.is_empty() and not any(k in wr.table for k in _VALUED_CONDITIONS):
                wr.error(
                    None,
                    "needs at least one condition: waited, queue_length, estimated_wait, "
                    "no_agent_signed_in, no_agent_ready or service_level_below",
                )
        action = rr.choice("action", OverflowAction, OverflowAction.WIDEN, required=True)
        targets = rr.text_list("targets")
        min_level = rr.opt_integer("min_level", lo=1, hi=10)
        if action in (OverflowAction.WIDEN, OverflowAction.MOVE):
            if not targets:
                rr.error(None if targets is None else "targets", f"a {action.value} needs targets")
            for t, loc in targets or []:
                if action is OverflowAction.MOVE and t == gid:
                    self.p.error(loc, "a move cannot target the group the call is leaving")
                else:
                    self.refs.need("group", t, loc)
        elif targets is not None:
            rr.error("targets", f"only used by widen and move rules (action is '{action.value}')")
        if min_level is not None and action is not OverflowAction.WIDEN:
            rr.error("min_level", f"only used by widen rules (action is '{action.value}')")
            min_level = None
        return OverflowRule(
            name=name,
            when=when,
            action=action,
            targets=tuple(t for t, _ in targets or []),
            min_level=min_level,
        )

    # -- [agents], [[agent_blocks]] ------------------------------------------------------

    def _agents(self) -> None:
        r = self.top.table_at("agents")
        if r is not None:
            for aid, ar in r.tables():
                if not valid_id(aid):
                    r.error(aid, "an id may only use letters, digits, '-' and '_'")
                spec = self._spec(ar)
                self.agents[aid] = spec.make(aid)
                self.agent_locs[aid] = ar.loc()
                self.specs.append((spec, [aid]))
        made: dict[str, tuple[str, Reader]] = {}  # block-made id -> (block path, reader)
        for _, br in self.top.tables_in("agent_blocks"):
            first = br.integer("first", -1, lo=0, required=True)
            count = br.integer("count", 0, lo=1, hi=10000, required=True)
            prefix = br.text("prefix", "")
            if prefix and not valid_id(prefix):
                br.error("prefix", "may only use letters, digits, '-' and '_'")
            spec = self._spec(br)
            if first < 0 or count < 1:
                continue
            ids: list[str] = []
            clashes: dict[str, list[str]] = {}
            for n in range(first, first + count):
                aid = f"{prefix}{n}"
                if aid in self.agent_locs:
                    loc = self.agent_locs[aid]
                    br.error(
                        None,
                        f"generates agent '{aid}', already defined as {loc.path} in {loc.file}",
                    )
                    continue
                if aid in made:
                    clashes.setdefault(made[aid][0], []).append(aid)
                    continue
                made[aid] = (br.path, br)
                ids.append(aid)
                self.agents[aid] = spec.make(aid)
            for other, dup in clashes.items():
                more = f" (and {len(dup) - 1} more)" if len(dup) > 1 else ""
                other_file = made[dup[0]][1].loc().file
                br.error(
                    None,
                    f"generates agent '{dup[0]}'{more}, also generated by {other} in {other_file}",
                )
            self.specs.append((spec, ids))
        self._check_numbers()

    def _spec(self, ar: Reader) -> _AgentSpec:
        spec = _AgentSpec(ar)
        spec.name = ar.text("name", "")
        number = ar.raw("number")
        if number is not None:
            if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
                spec.number = str(number)
            else:
                spec.number = ar.text("number", "", nonempty=True) or None
        team = ar.opt_text("team")
        if team is not None:
            spec.team = Located(team, ar.loc("team"))
            self.refs.need("team", team, ar.loc("team"))
        sr = ar.table_at("skills")
        if sr is not None:
            for skill in sr.names():
                level = sr.integer(skill, 0, lo=1, hi=10)
                if level:
                    spec.skills[skill] = level
                else:
                    spec.bad_skills.add(skill)  # reported: no follow-on "lacks it" error
        for g in ar.text_list("groups") or []:
            spec.groups.append(g)
            self.refs.need("group", g.value, g.loc)
        at = ar.table_at("attributes")
        if at is not None:
            for set_name in at.names():
                values = at.text_list(set_name, unique=False)
                if values is not None:
                    spec.attributes[set_name] = frozenset(v for v, _ in values)
        spec.endpoint = ar.text("endpoint", DEFAULT_ENDPOINT, nonempty=True)
        spec.secret_hash = ar.text("secret_hash", "")
        return spec

    def _check_numbers(self) -> None:
        """Agent numbers are announced to callers and typed by supervisors: unique."""
        owner: dict[str, str] = {}
        for a in self.agents.values():
            other = owner.setdefault(a.number, a.id)
            if other != a.id:
                loc = self.agent_locs.get(a.id)
                where = Loc(loc.file, f"{loc.path}.number") if loc else self._block_loc(a.id)
                self.p.error(where, f"number '{a.number}' is already agent '{other}''s")

    def _block_loc(self, agent_id: str) -> Loc:
        for spec, ids in self.specs:
            if agent_id in ids:
                return spec.reader.loc("number")
        return Loc(self.top.table.file)

    # -- raw sections, cross checks -------------------------------------------------------

    def _sections(self) -> dict[str, Table]:
        out: dict[str, Table] = {}
        for name in sorted(SECTIONS):
            value = self.top.raw(name)
            if value is None:
                continue
            if isinstance(value, Table):
                out[name] = value
            else:
                self.top.error(name, f"must be a table, not {type_name(value)}")
        for name in CORE:
            self.top.allow(name)
        return out

    def _cross_checks(self, priorities: Priorities) -> None:
        floors = {gid: g.min_level for gid, g in self.groups.items()}
        for g in self.groups.values():
            for rule in g.overflow:
                if rule.action is OverflowAction.WIDEN and rule.min_level is not None:
                    for t in rule.targets:
                        if t in floors:
                            floors[t] = min(floors[t], rule.min_level)
        for spec, ids in self.specs:
            if not ids:
                continue
            for gid, loc in spec.groups:
                listed = self.groups.get(gid)
                if listed is None or listed.skill in spec.bad_skills:
                    continue
                level = spec.skills.get(listed.skill, 0)
                if level < floors[gid]:
                    has = f"has level {level}" if level else "lacks it"
                    self.p.error(
                        loc,
                        f"group '{gid}' needs skill '{listed.skill}' at level {floors[gid]} "
                        "or more; "
                        f"the agent {has}, so it would never serve it",
                    )
            qualified = [
                gid for gid, g in self.groups.items() if spec.skills.get(g.skill, 0) >= floors[gid]
            ]
            if self.groups and not qualified:
                spec.reader.warning(None, "serves no group: no skill at any group's level")
            named = {gid for gid, _ in spec.groups}
            extra = [gid for gid in qualified if gid not in named]
            if named and extra:
                # The engine serves every group the skills qualify for; `groups` only orders.
                spec.reader.warning(
                    "groups",
                    f"the agent's skills also qualify it for {_names(extra)}, served after the "
                    "listed groups; list them to make the order explicit",
                )
        sets = {s for a in self.agents.values() for s in a.attributes}
        for gid, agent_set, loc in self.match_locs:
            if self.agents and agent_set not in sets:
                self.p.warning(
                    loc,
                    f"no agent has an attribute set '{agent_set}': "
                    f"calls carrying this attribute will wait in '{gid}' forever",
                )
        for gid, g in self.groups.items():
            gr = self.group_readers[gid]
            if self.agents and not any(
                a.skills.get(g.skill, 0) >= floors[gid] for a in self.agents.values()
            ):
                gr.warning(
                    "skill",
                    f"no agent has skill '{g.skill}' at level {floors[gid]} or more: "
                    "nobody can answer this group",
                )
            spread = priorities.ceiling - priorities.floor
            if spread > 0 and g.ageing_rate <= 0:
                gr.warning(
                    "ageing_rate",
                    f"0 means waiting calls never gain priority: with priorities spanning "
                    f"{spread:g} points, low-priority calls can starve",
                )
            elif spread > 0 and g.ageing_cap < spread:
                gr.error(
                    "ageing_cap",
                    f"{g.ageing_cap:g} is below the priority spread {spread:g} (ceiling - floor): "
                    f"calls based above floor + cap would start at the ceiling and lose their "
                    f"priority; use at least {spread:g} (or ageing_rate = 0 for strict priority)",
                )


def _names(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    return ("group " if len(ids) == 1 else "groups ") + ", ".join(quoted)


def _date(value: Any) -> dt.date | None:
    """A TOML date or a "YYYY-MM-DD" string; None otherwise."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _span(value: Any) -> tuple[int, int] | str:
    """(open minute, close minute) from "HH:MM-HH:MM", or an error message."""
    if not isinstance(value, str):
        return f'must be a span like "08:00-18:00", not {type_name(value)}'
    m = _SPAN.fullmatch(value.strip())
    if not m:
        return f"'{value}' is not a span like \"08:00-18:00\""
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        return f"'{value}' is not a valid time span (00:00 to 24:00)"
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return (
            f"'{value}' ends before it starts; a span past midnight is split in two "
            '("22:00-24:00" and "00:00-02:00" on the next day)'
        )
    return start, end
