"""A small harness to drive the pure engine with a hand-held clock in tests."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, TypeVar

from acd import events as ev
from acd.builders import agent, center, group, info
from acd.engine import Engine
from acd.errors import AcdError
from acd.model import CenterConfig

Out = TypeVar("Out", bound=ev.Output)
__all__ = ["Core", "agent", "center", "group", "info", "with_group"]


class Core:
    """An engine plus a clock and a log of every output."""

    def __init__(self, config: CenterConfig, now: float = 0.0, seed: int = 0) -> None:
        self.engine = Engine(config, now=now, seed=seed)
        self.t = now
        self.log: list[ev.Output] = []

    def at(self, t: float) -> Core:
        """Move the clock (timers due by then fire on the next call)."""
        assert t >= self.t
        self.t = t
        return self

    def __call__(self, event: ev.Event, dt: float = 0.0) -> list[ev.Output]:
        self.t += dt
        try:
            out = self.engine.handle(event, self.t)
        except AcdError as err:
            self.log.extend(err.outputs)
            raise
        self.log.extend(out)
        return out

    def tick(self, t: float) -> list[ev.Output]:
        """Advance to t, firing timers."""
        return self(ev.Tick(), t - self.t)

    def login_ready(self, *aids: str) -> None:
        """Sign agents in and make them ready."""
        for a in aids:
            self(ev.AgentLogin(a))
            self(ev.AgentReady(a))

    def call(self, cid: str, grp: str, **kw: Any) -> list[ev.Output]:
        """An inbound call enters `grp`."""
        priority = kw.pop("priority", None)
        return self(ev.EnqueueCall(info(cid, **kw), grp, priority=priority))

    def answer(self, aid: str, cid: str) -> None:
        """Accept and connect."""
        self(ev.AcceptOffer(aid, cid))
        self(ev.AgentLegAnswered(cid, aid))

    def state(self, aid: str) -> str:
        """The agent's state value."""
        return self.engine.agents[aid].state.value

    def offers(self) -> list[tuple[str, str]]:
        """(call, agent) of every offer so far, in order."""
        return [(o.call_id, o.agent_id) for o in self.log if isinstance(o, ev.CallOffered)]

    def last(self, kind: type[Out]) -> Out:
        """The latest output of a type."""
        for o in reversed(self.log):
            if isinstance(o, kind):
                return o
        raise AssertionError(f"no {kind.__name__} in the log")

    def all(self, kind: type[Out]) -> list[Out]:
        """Every output of a type, in order."""
        return [o for o in self.log if isinstance(o, kind)]

    def offered_to(self, cid: str) -> str | None:
        """Who the call is ringing now."""
        call = self.engine.calls.get(cid)
        return call.agent.id if call is not None and call.agent is not None else None


def with_group(cfg: CenterConfig, gid: str, **changes: Any) -> CenterConfig:
    """A copy of the config with one group changed."""
    groups = dict(cfg.groups)
    groups[gid] = replace(groups[gid], **changes)
    return replace(cfg, groups=MappingProxyType(groups))
