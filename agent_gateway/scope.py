"""What a supervisor or admin may see and touch on the /admin socket.

Rules (checked before anything changes; a refusal is the error code `forbidden`):
- An admin may act on everything, and alone may reload the configuration and manage caller
  blocks.
- A supervisor may act on the agents of its teams, on the agents of its groups (those whose
  skills qualify them for the group at its minimum level) and on the calls of its groups (a
  call is in a group when that is its home group or one of the queues it waits in).
- Moving a call needs both the call and the destination group in scope; assigning one needs
  both the call and the agent.

Pure: reads the engine's live records, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from acd.engine import Engine
from acd.errors import AcdError, Forbidden
from acd.live import Agent, Call
from agent_gateway.auth import Staff

ADMIN_ONLY = frozenset({"reload", "add_block", "remove_block", "list_blocks"})


class UnknownTeam(AcdError):
    """No team with that id."""

    code = "unknown_team"


class Scope:
    """The reach of one signed-in staff member."""

    __slots__ = ("staff",)

    def __init__(self, staff: Staff) -> None:
        self.staff = staff

    @property
    def is_admin(self) -> bool:
        """Admins reach everything."""
        return self.staff.role == "admin"

    @property
    def key(self) -> tuple[str, frozenset[str], frozenset[str]]:
        """Staff members with equal keys see the same wallboard."""
        if self.is_admin:
            return ("admin", frozenset(), frozenset())
        return ("supervisor", self.staff.teams, self.staff.groups)

    # -- predicates -------------------------------------------------------------------

    def group_ok(self, group_id: str) -> bool:
        """Whether the group is in scope."""
        return self.is_admin or group_id in self.staff.groups

    def agent_ok(self, engine: Engine, agent: Agent) -> bool:
        """Whether the agent is in scope (by team, or qualified for one of the groups)."""
        if self.is_admin or agent.cfg.team in self.staff.teams:
            return True
        for gid in self.staff.groups:
            g = engine.groups.get(gid)
            if g is not None and agent.level(g.cfg.skill) >= g.cfg.min_level:
                return True
        return False

    def call_ok(self, call: Call) -> bool:
        """Whether the call is in scope (home group or a queue it waits in)."""
        if self.is_admin or call.group in self.staff.groups:
            return True
        return any(gid in self.staff.groups for gid in call.entries)

    def team_ok(self, team: str) -> bool:
        """Whether the team is in scope."""
        return self.is_admin or team in self.staff.teams

    # -- checks that raise --------------------------------------------------------------

    def need_admin(self, action: str) -> None:
        """Refuse an admin-only action to a supervisor."""
        if not self.is_admin:
            raise Forbidden(f"{action} is for admins only", action=action)

    def need_agent(self, engine: Engine, agent_id: str) -> Agent:
        """The agent, when it exists and is in scope."""
        agent = engine.agent(agent_id)  # UnknownAgent
        if not self.agent_ok(engine, agent):
            raise Forbidden(f"agent {agent_id} is outside your teams and groups", agent=agent_id)
        return agent

    def need_call(self, engine: Engine, call_id: str) -> Call:
        """The live call, when it is in scope."""
        call = engine.call(call_id)  # UnknownCall
        if not self.call_ok(call):
            raise Forbidden(f"call {call_id} is outside your groups", call_id=call_id)
        return call

    def need_group(self, engine: Engine, group_id: str) -> None:
        """The group, when it exists and is in scope."""
        engine.group(group_id)  # UnknownGroup
        if not self.group_ok(group_id):
            raise Forbidden(f"group {group_id} is outside your groups", group=group_id)

    def need_team(self, engine: Engine, team: str) -> None:
        """The team, when it exists and is in scope."""
        if team not in engine.config.teams:
            raise UnknownTeam(f"no team {team!r}", team=team)
        if not self.team_ok(team):
            raise Forbidden(f"team {team} is outside your teams", team=team)

    # -- what is in view --------------------------------------------------------------

    def agents(self, engine: Engine) -> set[str]:
        """Ids of every agent in scope."""
        return {a.id for a in engine.agents.values() if self.agent_ok(engine, a)}

    def groups(self, engine: Engine) -> list[str]:
        """Ids of the groups in scope, in config order."""
        return [gid for gid in engine.groups if self.group_ok(gid)]

    def agents_of(self, engine: Engine, team: str | None, group: str | None) -> list[str]:
        """Agents of a team or a group (each checked against the scope)."""
        ids: Iterable[Agent]
        if team is not None:
            self.need_team(engine, team)
            ids = (a for a in engine.agents.values() if a.cfg.team == team)
        elif group is not None:
            self.need_group(engine, group)
            g = engine.groups[group]
            ids = (a for a in engine.agents.values() if a.level(g.cfg.skill) >= g.cfg.min_level)
        else:
            return []
        return sorted(a.id for a in ids)
