"""Invariants of the engine's live state, checked by tests, chaos runs and the soak.

`violations(engine)` returns a description of every broken invariant (empty when sound).
It reads the live records only; it never changes them.
"""

from __future__ import annotations

from collections import Counter

from acd.engine import WAITING, Engine
from acd.live import Agent, Call, CallPhase
from acd.states import AgentState

S = AgentState


def _eligible(engine: Engine, agent: Agent, call: Call) -> bool:
    for gid, level in call.targets.items():
        g = engine.groups.get(gid)
        if g is None:
            continue
        if agent.level(g.cfg.skill) < level:
            continue
        attrs = call.info.attributes
        if all(
            attrs.get(ca) is None or attrs.get(ca) in agent.attrs.get(aa, ())
            for ca, aa in g.cfg.match
        ):
            return True
    return False


def violations(engine: Engine) -> list[str]:
    """Every broken invariant, as text."""
    out: list[str] = []
    offered_to: Counter[str] = Counter()
    for call in engine.calls.values():
        if call.phase is CallPhase.ENDED:
            out.append(f"{call.id}: ended but still live")
        if call.phase in (CallPhase.OFFERED, CallPhase.CONNECTING):
            if call.agent is None and not (call.kind.value == "consult" and call.number):
                out.append(f"{call.id}: {call.phase.value} without an agent")
            elif call.agent is not None:
                offered_to[call.agent.id] += 1
                if call.agent.offer is not call:
                    out.append(f"{call.id}: agent {call.agent.id} does not hold its offer")
        elif call.agent is not None:
            out.append(f"{call.id}: {call.phase.value} but still has agent {call.agent.id}")
        if call.phase is CallPhase.QUEUED:
            if set(call.entries) != set(call.targets):
                out.append(
                    f"{call.id}: queued in {sorted(call.entries)} not {sorted(call.targets)}"
                )
            for gid, e in call.entries.items():
                if not e.alive or e.call is not call:
                    out.append(f"{call.id}: dead entry in {gid}")
            if call.id not in engine.groups[call.group].home:
                out.append(f"{call.id}: missing from its home group")
        elif call.entries:
            out.append(f"{call.id}: {call.phase.value} but still queued")
        if call.phase is CallPhase.CONNECTED and not call.agents and not call.external:
            out.append(f"{call.id}: connected to nobody")
        if call.phase is not CallPhase.CONNECTED and call.agents:
            out.append(f"{call.id}: {call.phase.value} with agents on it")
        for a in call.agents:
            if call not in a.calls:
                out.append(f"{call.id}: agent {a.id} does not know it is on the call")
    for agent_id, n in offered_to.items():
        if n > 1:
            out.append(f"agent {agent_id} holds {n} offers")
    ready_idle: list[Agent] = []
    for agent in engine.agents.values():
        st = agent.state
        if (agent.offer is not None) != (st is S.RESERVED):
            out.append(f"agent {agent.id}: {st.value} with offer {agent.offer and agent.offer.id}")
        if bool(agent.calls) != (st is S.ON_CALL):
            out.append(f"agent {agent.id}: {st.value} on {len(agent.calls)} calls")
        if (agent.wrap is not None) != (st is S.WRAP_UP):
            out.append(f"agent {agent.id}: {st.value} with wrap {agent.wrap}")
        if agent.pools and st is not S.READY:
            out.append(f"agent {agent.id}: idle in pools while {st.value}")
        for c in agent.calls:
            if agent not in c.agents:
                out.append(f"agent {agent.id}: thinks it is on {c.id}")
        if st is S.READY and agent.offer is None and agent.available_at <= engine.now:
            if not agent.pools and agent.members:
                out.append(f"agent {agent.id}: ready and free but in no pool")
            ready_idle.append(agent)
        if st is S.LOGGED_OUT and (agent.calls or agent.offer or agent.pending):
            out.append(f"agent {agent.id}: logged out with work or a pending state")
    # The matching invariant: no idle agent and waiting call that suit each other.
    for call in engine.calls.values():
        if call.phase is not CallPhase.QUEUED:
            continue
        for agent in ready_idle:
            if _eligible(engine, agent, call):
                out.append(f"{call.id} waits while {agent.id} is idle and eligible")
                break
    for g in engine.groups.values():
        live = sum(1 for _ in g.queue.entries())
        if live != g.queue.count:
            out.append(f"group {g.cfg.id}: queue count {g.queue.count} but {live} live entries")
        for cid, call in g.home.items():
            if call.phase not in WAITING or call.group != g.cfg.id or cid not in engine.calls:
                out.append(f"group {g.cfg.id}: stale home entry {cid}")
        counts: Counter[AgentState] = Counter()
        for agent in engine.agents.values():
            if agent.state is S.LOGGED_OUT or g.cfg.id not in agent.members:
                continue
            if agent.level(g.cfg.skill) >= g.cfg.min_level:
                counts[agent.state] += 1
        have = {k: v for k, v in g.counts.items() if v}
        if have != dict(counts):
            out.append(f"group {g.cfg.id}: counts {have} but agents say {dict(counts)}")
    return out
