"""Small builders of center configurations and call details, for tests, chaos runs and
benchmarks that construct centers in code rather than from TOML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from acd import events as ev
from acd.model import SYSTEM_REASONS, AgentConfig, CenterConfig, Priorities, SkillGroup


def group(gid: str, **kw: Any) -> SkillGroup:
    """A group whose skill is its id unless given."""
    kw.setdefault("skill", gid)
    kw.setdefault("name", gid.upper())
    return SkillGroup(id=gid, **kw)


def agent(aid: str, skills: Mapping[str, int], **kw: Any) -> AgentConfig:
    """An agent with an endpoint named after it."""
    attrs = kw.pop("attributes", {})
    return AgentConfig(
        id=aid,
        number=kw.pop("number", aid),
        skills=MappingProxyType(dict(skills)),
        attributes=MappingProxyType({k: frozenset(v) for k, v in attrs.items()}),
        endpoint=kw.pop("endpoint", f"sip:{aid}@test"),
        groups=tuple(kw.pop("groups", ())),
        **kw,
    )


def center(
    groups: Iterable[SkillGroup],
    agents: Iterable[AgentConfig],
    **kw: Any,
) -> CenterConfig:
    """A center config from groups and agents."""
    reasons = dict(SYSTEM_REASONS)
    reasons.update({"break": "Break", "lunch": "Lunch"})
    kw.setdefault("reasons", MappingProxyType(reasons))
    kw.setdefault(
        "priorities",
        Priorities(
            brands=MappingProxyType({"vip": 100.0, "gotone": 60.0, "mzone": 20.0, "easyown": 10.0}),
            floor=0.0,
            ceiling=200.0,
        ),
    )
    return CenterConfig(
        groups=MappingProxyType({g.id: g for g in groups}),
        agents=MappingProxyType({a.id: a for a in agents}),
        **kw,
    )


def info(cid: str, **kw: Any) -> ev.CallInfo:
    """Call info; `city` becomes an attribute."""
    attrs = dict(kw.pop("attributes", {}))
    if "city" in kw:
        attrs["city"] = kw.pop("city")
    kw.setdefault("caller", "138" + cid.rjust(8, "0")[-8:])
    return ev.CallInfo(id=cid, attributes=attrs, **kw)
