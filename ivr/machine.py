"""The IVR engine: walks a flow for one call. Pure: no I/O, time is a parameter.

A `Session` is one call's place in a flow. `IvrMachine.start` enters the flow's start node;
`IvrMachine.handle` feeds what the switch reported (`PromptDone`, `DigitsIn`) or that the
session's deadline passed (`Timeout`). Both return `Act`s for the switch link to carry out:
say something (and maybe collect digits), queue the call, make a callback or voicemail task,
transfer, hang up, or record a note. The transitions are the table `TRANSITIONS` below; nodes
that take no input (lookup, condition, set, goto) are passed through at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from acd.model import CenterConfig
from ivr.flows import FINAL_KINDS, Flow, IvrSettings, Node, NodeKind, When

# Seconds past a prompt's collect timeout before the server stops waiting for the switch's
# own timeout report; and the longest a plain prompt may play.
DEADLINE_SLACK = 2.0
PLAY_LIMIT = 120.0
MAX_STEPS = 200  # silent nodes passed in one go (validation rules out loops; this is a guard)


class Live(Protocol):
    """Live figures a condition may ask about (the engine provides them)."""

    def estimated_wait_new(self, group_id: str) -> float: ...

    def ready_agents(self, group_id: str) -> int: ...

    def is_open(self, group_id: str) -> bool: ...


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class PromptDone:
    """The switch finished playing the prompt."""


@dataclass(frozen=True, slots=True)
class DigitsIn:
    """Digits the caller keyed; empty with `timed_out` when the switch's collect timed out."""

    digits: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Timeout:
    """The session's deadline passed without word from the switch."""


Input = PromptDone | DigitsIn | Timeout


# ---------------------------------------------------------------------------- acts


@dataclass(frozen=True, slots=True)
class Say:
    """Play a prompt; with `max_digits` > 0 also collect digits (a menu or a collect)."""

    prompt: str
    max_digits: int = 0
    min_digits: int = 0
    timeout: float = 0.0
    terminator: str = ""
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Ask the core for an agent of `group`."""

    group: str
    priority: float | None
    bonus: float


@dataclass(frozen=True, slots=True)
class MakeCallback:
    """Create a callback task for `group`, confirm with `prompt` and release the caller."""

    group: str
    prompt: str


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Record a message for `group` (it becomes a task for agents)."""

    group: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the caller to an external number."""

    number: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Play `prompt` (if any) and hang up."""

    prompt: str


@dataclass(frozen=True, slots=True)
class Note:
    """A fact for the journal about this call."""

    kind: str
    data: dict[str, Any]


Act = Say | Enqueue | MakeCallback | RecordVoicemail | Transfer | Hangup | Note


# ---------------------------------------------------------------------------- session


@dataclass(slots=True)
class Session:
    """One call's place in a flow (the flow version it started on is kept to the end)."""

    call_id: str
    caller: str
    flow: Flow
    dialed: str = ""
    node: str = ""
    path: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    brand: str = ""
    vip: int = 0
    customer: dict[str, Any] = field(default_factory=dict)
    found: bool = False
    priority: float | None = None
    bonus: float = 0.0
    tries: int = 0
    deadline: float | None = None
    done: bool = False
    agent: str = ""  # post-call survey: the agent rated
    group: str = ""  # post-call survey: the agent's group

    @property
    def current(self) -> Node:
        """The node the session is at."""
        return self.flow.nodes[self.node]


Handler = Callable[["IvrMachine", Session, Any, float, list[Act]], None]


class IvrMachine:
    """Walks flows; holds no per-call state (that is the Session's)."""

    def __init__(self, settings: IvrSettings, center: CenterConfig, live: Live) -> None:
        self.settings = settings
        self.center = center
        self.live = live
        s = settings.survey
        self.survey_flow = Flow(
            "survey",
            "survey",
            MappingProxyType(
                {
                    "survey": Node(
                        "survey",
                        NodeKind.SURVEY,
                        prompt=s.prompt,
                        timeout=s.timeout,
                        retries=1,
                        next="thanks",
                        on_fail="bye",
                    ),
                    "thanks": Node("thanks", NodeKind.HANGUP, prompt=s.thanks),
                    "bye": Node("bye", NodeKind.HANGUP),
                }
            ),
        )

    # ---------------------------------------------------------------- public

    def session(self, call_id: str, caller: str, dialed: str) -> Session | None:
        """A new session for a call to `dialed`, or None when no flow takes that number."""
        flow = self.settings.flow_for(dialed)
        if flow is None:
            return None
        return Session(call_id, caller, flow, dialed)

    def survey_session(self, call_id: str, caller: str, agent: str, group: str) -> Session:
        """A post-call survey for the agent who just handled the call."""
        return Session(call_id, caller, self.survey_flow, agent=agent, group=group)

    def start(self, s: Session, now: float, node: str | None = None) -> list[Act]:
        """Enter the flow at its start (or at `node`, when resuming after a resync)."""
        out: list[Act] = []
        target = node if node is not None and node in s.flow.nodes else s.flow.start
        self._goto(s, target, now, out)
        return out

    def handle(self, s: Session, event: Input, now: float) -> list[Act]:
        """What the switch reported for the session, or its deadline passing."""
        out: list[Act] = []
        if s.done:
            return out
        if isinstance(event, Timeout) and (s.deadline is None or now < s.deadline):
            return out  # a stale timer: the session moved on
        handler = TRANSITIONS.get((s.current.kind, type(event)))
        if handler is not None:
            handler(self, s, event, now, out)
        return out

    # ---------------------------------------------------------------- walking

    def _goto(self, s: Session, node_id: str, now: float, out: list[Act]) -> None:
        """Enter a node; pass through the ones that take no input."""
        for _ in range(MAX_STEPS):
            node = s.flow.nodes[node_id]
            s.node = node_id
            s.path.append(node_id)
            s.tries = 0
            s.deadline = None
            nxt = self._pass(s, node, now, out)
            if nxt is None:
                return
            node_id = nxt
        s.done = True
        out.append(Note("ivr", {"error": "too many steps", "path": list(s.path)}))
        out.append(Hangup(self.settings.blocked_prompt))

    def _pass(self, s: Session, node: Node, now: float, out: list[Act]) -> str | None:
        """Carry out a node; the next node for silent ones, None when waiting or done."""
        kind = node.kind
        if kind is NodeKind.GOTO:
            return node.next
        if kind is NodeKind.LOOKUP:
            c = self.settings.directory.lookup(s.caller)
            if c is None:
                return node.not_found or node.next
            s.found = True
            s.brand, s.vip = c.brand, c.vip
            if c.city:
                s.attributes["city"] = c.city
            s.customer = c.record()
            return node.next
        if kind is NodeKind.SET:
            s.attributes.update(node.attributes)
            if node.brand is not None:
                s.brand = node.brand
            if node.vip is not None:
                s.vip = node.vip
            if node.priority is not None:
                s.priority = node.priority
            if node.bonus is not None:
                s.bonus += node.bonus
            return node.next
        if kind is NodeKind.CONDITION:
            for b in node.branches:
                if self.holds(b.when, s, now):
                    return b.goto
            return node.otherwise
        if kind in FINAL_KINDS:
            s.done = True
            out.append(Note("ivr", self.summary(s)))
            out.append(self._final(s, node))
            return None
        self._ask(s, node, now, out)
        return None

    def _final(self, s: Session, node: Node) -> Act:
        kind = node.kind
        if kind is NodeKind.QUEUE:
            priority = node.priority if node.priority is not None else s.priority
            return Enqueue(node.group, priority, s.bonus + (node.bonus or 0.0))
        if kind is NodeKind.CALLBACK:
            return MakeCallback(node.group, node.prompt)
        if kind is NodeKind.VOICEMAIL:
            return RecordVoicemail(node.group, node.prompt)
        if kind is NodeKind.TRANSFER:
            return Transfer(node.number, node.prompt)
        return Hangup(node.prompt)

    def _ask(self, s: Session, node: Node, now: float, out: list[Act], prompt: str = "") -> None:
        """Play the node's prompt (or a retry prompt) and wait."""
        p = prompt or node.prompt
        if node.kind is NodeKind.PLAY:
            s.deadline = now + PLAY_LIMIT
            out.append(Say(p))
            return
        if node.kind is NodeKind.COLLECT:
            out.append(Say(p, node.max_digits, node.min_digits, node.timeout, node.terminator))
        else:  # menu, survey: one key
            out.append(Say(p, 1, 1, node.timeout))
        s.deadline = now + node.timeout + DEADLINE_SLACK

    def _retry(self, s: Session, now: float, out: list[Act], timed_out: bool) -> None:
        node = s.current
        s.tries += 1
        if s.tries > node.retries:
            self._goto(s, node.on_fail or node.next, now, out)
            return
        again = node.timeout_prompt if timed_out else node.invalid_prompt
        if again:
            # The retry prompt then the node's own prompt: one Say per prompt, in order.
            out.append(Say(again, interruptible=True))
        tries = s.tries
        self._ask(s, node, now, out)
        s.tries = tries

    # ---------------------------------------------------------------- conditions

    def holds(self, w: When, s: Session, now: float) -> bool:
        """Whether every key of the condition holds for the session now."""
        if w.brand is not None and s.brand not in w.brand:
            return False
        if w.vip_at_least is not None and s.vip < w.vip_at_least:
            return False
        for k, values in w.attributes.items():
            if s.attributes.get(k) not in values:
                return False
        for k, values in w.inputs.items():
            if s.inputs.get(k) not in values:
                return False
        if w.customer_found is not None and s.found != w.customer_found:
            return False
        cals = self.center.calendars
        if w.open is not None and not cals[w.open].is_open(now):
            return False
        if w.closed is not None and cals[w.closed].is_open(now):
            return False
        if w.time is not None or w.days is not None:
            local = dt.datetime.fromtimestamp(now, self.center.timezone)
            if w.days is not None and local.weekday() not in w.days:
                return False
            minute = local.hour * 60 + local.minute
            if w.time is not None and not w.time[0] <= minute < w.time[1]:
                return False
        if w.group is not None:
            live = self.live
            if w.group_open is not None and live.is_open(w.group) != w.group_open:
                return False
            ewt = w.estimated_wait_above
            if ewt is not None and not live.estimated_wait_new(w.group) > ewt:
                return False
            below = w.agents_ready_below
            if below is not None and not live.ready_agents(w.group) < below:
                return False
        return True

    def summary(self, s: Session) -> dict[str, Any]:
        """The `ivr` journal note: path and inputs."""
        return {"flow": s.flow.id, "path": list(s.path), "inputs": dict(s.inputs)}


# ---------------------------------------------------------------------------- transitions


def _prompt_done(m: IvrMachine, s: Session, _e: Any, now: float, out: list[Act]) -> None:
    m._goto(s, s.current.next, now, out)


def _menu_digits(m: IvrMachine, s: Session, e: DigitsIn, now: float, out: list[Act]) -> None:
    node = s.current
    digit = e.digits[:1]
    target = node.choices.get(digit) if digit else None
    if target is None:
        m._retry(s, now, out, timed_out=not digit)
        return
    s.inputs[node.id] = digit
    m._goto(s, target, now, out)


def _collect_digits(m: IvrMachine, s: Session, e: DigitsIn, now: float, out: list[Act]) -> None:
    node = s.current
    digits = e.digits.rstrip(node.terminator) if node.terminator else e.digits
    if not node.min_digits <= len(digits) <= node.max_digits or not digits.isdigit():
        m._retry(s, now, out, timed_out=not digits)
        return
    s.inputs[node.var] = digits
    m._goto(s, node.next, now, out)


def _survey_digits(m: IvrMachine, s: Session, e: DigitsIn, now: float, out: list[Act]) -> None:
    node = s.current
    scores = m.settings.survey.scores
    digit = e.digits[:1]
    if digit not in scores:
        m._retry(s, now, out, timed_out=not digit)
        return
    s.inputs[node.var or "survey"] = digit
    data: dict[str, Any] = {"score": int(digit), "label": scores[digit]}
    if s.agent:
        data["agent"] = s.agent
        data["group"] = s.group
    out.append(Note("survey", data))
    m._goto(s, node.next, now, out)


def _timed_out(m: IvrMachine, s: Session, _e: Any, now: float, out: list[Act]) -> None:
    m._retry(s, now, out, timed_out=True)


def _digits(
    on_digits: Callable[[IvrMachine, Session, DigitsIn, float, list[Act]], None],
) -> Handler:
    def handler(m: IvrMachine, s: Session, e: DigitsIn, now: float, out: list[Act]) -> None:
        if e.timed_out and not e.digits:
            m._retry(s, now, out, timed_out=True)
        else:
            on_digits(m, s, e, now, out)

    return handler


# (kind of the node the session waits at, input) -> what happens. Anything else is ignored
# (a late prompt_done for a menu, say): it cannot move the session.
TRANSITIONS: dict[tuple[NodeKind, type], Handler] = {
    (NodeKind.PLAY, PromptDone): _prompt_done,
    (NodeKind.PLAY, DigitsIn): _prompt_done,  # digits interrupt a prompt
    (NodeKind.PLAY, Timeout): _prompt_done,
    (NodeKind.MENU, DigitsIn): _digits(_menu_digits),
    (NodeKind.MENU, Timeout): _timed_out,
    (NodeKind.COLLECT, DigitsIn): _digits(_collect_digits),
    (NodeKind.COLLECT, Timeout): _timed_out,
    (NodeKind.SURVEY, DigitsIn): _digits(_survey_digits),
    (NodeKind.SURVEY, Timeout): _timed_out,
}
