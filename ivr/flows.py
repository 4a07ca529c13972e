"""IVR flows as frozen data, read from the `[ivr]` and `[prompts]` tables.

A flow is a set of named nodes and a start node. Every node has a `kind` (see `NodeKind`) and
the keys that kind needs; `docs/ivr.md` describes the language. `parse_ivr` validates a whole
file set in one pass (missing targets, unreachable nodes, loops that take no caller input,
unknown groups, calendars and prompts) and records each problem with its file, flow and node.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from acd.configread import Loc, Problems, Reader, Table, suggest
from acd.model import EMPTY_MAP, CenterConfig
from ivr.directory import CsvDirectory, Directory, EmptyDirectory


class NodeKind(StrEnum):
    """What a node does."""

    PLAY = "play"  # play a prompt, then `next`
    MENU = "menu"  # play a prompt, one digit chooses the next node
    COLLECT = "collect"  # play a prompt, collect several digits into an input
    LOOKUP = "lookup"  # the customer directory by caller number
    CONDITION = "condition"  # the first branch whose `when` holds, else `else`
    SET = "set"  # attributes, brand, VIP level, priority
    GOTO = "goto"  # a free jump
    QUEUE = "queue"  # ask for an agent of a group (leaves the flow)
    CALLBACK = "callback"  # a callback task for a group; the caller hangs up
    VOICEMAIL = "voicemail"  # record a message that becomes a task for a group
    TRANSFER = "transfer"  # hand the caller to an external number
    SURVEY = "survey"  # ask for a satisfaction score (1, 2 or 3), then `next`
    HANGUP = "hangup"  # play a goodbye prompt and hang up


# Kinds that wait for the caller: a loop must go through one of them.
INPUT_KINDS = frozenset({NodeKind.MENU, NodeKind.COLLECT, NodeKind.SURVEY})
# Kinds that end the flow.
FINAL_KINDS = frozenset(
    {NodeKind.QUEUE, NodeKind.CALLBACK, NodeKind.VOICEMAIL, NodeKind.TRANSFER, NodeKind.HANGUP}
)


@dataclass(frozen=True, slots=True)
class When:
    """A condition; every key given must hold (an empty one always holds)."""

    brand: frozenset[str] | None = None
    vip_at_least: int | None = None
    attributes: Mapping[str, frozenset[str]] = field(default_factory=lambda: EMPTY_MAP)
    inputs: Mapping[str, frozenset[str]] = field(default_factory=lambda: EMPTY_MAP)
    customer_found: bool | None = None
    open: str | None = None  # calendar id: holds while it is open
    closed: str | None = None  # calendar id: holds while it is closed
    time: tuple[int, int] | None = None  # minutes from local midnight, [from, to)
    days: frozenset[int] | None = None  # 0 = Monday
    group: str | None = None  # the group the live figures below are about
    estimated_wait_above: float | None = None
    agents_ready_below: int | None = None
    group_open: bool | None = None  # not paused and its calendar open


@dataclass(frozen=True, slots=True)
class Branch:
    """One branch of a condition node."""

    when: When
    goto: str


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a flow; keys unused by its kind keep their defaults."""

    id: str
    kind: NodeKind
    prompt: str = ""
    next: str = ""
    choices: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)
    timeout: float = 6.0
    retries: int = 2
    invalid_prompt: str = ""
    timeout_prompt: str = ""
    on_fail: str = ""  # after the last retry
    var: str = ""  # collect: the input's name
    min_digits: int = 1
    max_digits: int = 1
    terminator: str = ""
    branches: tuple[Branch, ...] = ()
    otherwise: str = ""  # condition: `else`
    not_found: str = ""  # lookup: where to go when the caller is unknown
    attributes: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)
    brand: str | None = None
    vip: int | None = None
    priority: float | None = None
    bonus: float | None = None
    group: str = ""
    number: str = ""  # transfer

    def targets(self) -> list[tuple[str, str]]:
        """(key, node id) of every node this one may lead to."""
        out = [(k, v) for k, v in (("next", self.next), ("on_fail", self.on_fail)) if v]
        out += [(f"choices.{d}", t) for d, t in self.choices.items()]
        out += [(f"branches[{i}].goto", b.goto) for i, b in enumerate(self.branches)]
        if self.otherwise:
            out.append(("else", self.otherwise))
        if self.not_found:
            out.append(("not_found", self.not_found))
        return out


@dataclass(frozen=True, slots=True)
class Flow:
    """A named menu tree; `version` changes whenever the configuration does."""

    id: str
    start: str
    nodes: Mapping[str, Node]
    version: str = ""


@dataclass(frozen=True, slots=True)
class Treatment:
    """What a caller hears while queued, and the keys that act there."""

    music: str = "music-on-hold"
    announce_position: bool = True
    announce_wait: bool = True
    keys: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)  # digit -> action
    callback_prompt: str = "callback-offer"  # "press 1 for a callback that keeps your place"
    callback_confirm: str = "callback-confirmed"
    voicemail_prompt: str = "voicemail-record"


@dataclass(frozen=True, slots=True)
class Survey:
    """The post-call satisfaction survey (groups with `survey = true`)."""

    prompt: str = "survey"
    thanks: str = "survey-thanks"
    timeout: float = 8.0
    scores: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(
            {"1": "very_satisfied", "2": "satisfied", "3": "dissatisfied"}
        )
    )


@dataclass(frozen=True, slots=True)
class Prompt:
    """A recorded prompt id with its TTS text (the switch plays one or speaks the other)."""

    id: str
    text: str
    language: str = "zh-CN"


@dataclass(frozen=True, slots=True)
class IvrSettings:
    """The `[ivr]` and `[prompts]` tables, validated."""

    flows: Mapping[str, Flow] = field(default_factory=lambda: EMPTY_MAP)
    entry: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)  # dialed -> flow
    default_flow: str = ""
    prompts: Mapping[str, Prompt] = field(default_factory=lambda: EMPTY_MAP)
    treatment: Treatment = Treatment()
    survey: Survey = Survey()
    blocked_prompt: str = "blocked"
    language: str = "zh-CN"
    directory: Directory = field(default_factory=EmptyDirectory)

    def flow_for(self, dialed: str) -> Flow | None:
        """The flow a dialed number enters (the default flow otherwise)."""
        fid = self.entry.get(dialed, self.default_flow)
        return self.flows.get(fid)


TREATMENT_ACTIONS = ("callback", "voicemail")
# Prompts the server plays by these ids, outside any flow: a [prompts] table without them is
# warned about (the switch gets the id with no text; its own recording may still play).
BUILTIN_PROMPTS: Mapping[str, str] = MappingProxyType(
    {
        "goodbye": "it hangs up on a caller it cannot queue or serve",
        "transfer-failed": "an IVR transfer fails, before it hangs up",
    }
)


def _minutes(text: str) -> tuple[int, int] | None:
    try:
        a, b = text.split("-")
        ta, tb = dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip())
    except ValueError:
        return None
    lo, hi = ta.hour * 60 + ta.minute, tb.hour * 60 + tb.minute
    return (lo, hi) if lo < hi else None


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class _FlowReader:
    """Reads one flow and checks it as a graph."""

    def __init__(self, fid: str, r: Reader, center: CenterConfig, parent: _IvrReader) -> None:
        self.fid = fid
        self.r = r
        self.center = center
        self.parent = parent

    def node_loc(self, nr: Reader, key: str | None = None) -> Loc:
        return nr.loc(key)

    def read(self) -> Flow | None:
        r = self.r
        start = r.text("start", required=True, nonempty=True)
        nodes: dict[str, Node] = {}
        readers: dict[str, Reader] = {}
        nt = r.table_at("nodes", required=True)
        if nt is None:
            r.finish()
            return None
        for nid, nr in nt.tables():
            node = self._node(nid, nr)
            if node is not None:
                nodes[nid] = node
                readers[nid] = nr
        if start and start not in nodes:
            r.error("start", f"no node '{start}' in flow '{self.fid}'{suggest(start, nodes)}")
        for nid, node in nodes.items():
            for key, target in node.targets():
                if target not in nodes:
                    readers[nid].error(
                        key.split(".")[0].split("[")[0],
                        f"flow '{self.fid}', node '{nid}': {key} goes to unknown node "
                        f"'{target}'{suggest(target, nodes)}",
                    )
        if start in nodes:
            self._reachability(start, nodes, readers)
            self._silent_loops(nodes, readers)
        r.finish()
        return Flow(self.fid, start, MappingProxyType(nodes))

    def _reachability(self, start: str, nodes: dict[str, Node], readers: dict[str, Reader]) -> None:
        seen = {start}
        todo = [start]
        while todo:
            for _, t in nodes[todo.pop()].targets():
                if t in nodes and t not in seen:
                    seen.add(t)
                    todo.append(t)
        for nid in nodes:
            if nid not in seen:
                readers[nid].error(
                    None, f"flow '{self.fid}', node '{nid}': unreachable from '{start}'"
                )

    def _silent_loops(self, nodes: dict[str, Node], readers: dict[str, Reader]) -> None:
        """A cycle through nodes that never wait for the caller would spin forever."""
        silent = {n for n, node in nodes.items() if node.kind not in INPUT_KINDS}
        state: dict[str, int] = {}  # 1 visiting, 2 done
        reported: set[str] = set()

        def visit(n: str, stack: list[str]) -> None:
            state[n] = 1
            stack.append(n)
            for _, t in nodes[n].targets():
                if t not in silent:
                    continue
                if state.get(t) == 1:
                    loop = stack[stack.index(t) :]
                    if t not in reported:
                        reported.update(loop)
                        readers[t].error(
                            None,
                            f"flow '{self.fid}', node '{t}': loop with no caller input "
                            f"({' -> '.join([*loop, t])})",
                        )
                elif t not in state:
                    visit(t, stack)
            stack.pop()
            state[n] = 2

        for n in sorted(silent):
            if n not in state:
                visit(n, [])

    def _prompt(self, nr: Reader, key: str, *, required: bool = False) -> str:
        p = nr.text(key, required=required, nonempty=required)
        if p:
            self.parent.prompt_refs.append((p, nr.loc(key), self.fid, nr.path.rsplit(".", 1)[-1]))
        return p

    def _group(self, nr: Reader, key: str, nid: str, *, required: bool = True) -> str:
        g = nr.text(key, required=required, nonempty=required)
        if g and g not in self.center.groups:
            nr.error(
                key,
                f"flow '{self.fid}', node '{nid}': unknown group '{g}'"
                f"{suggest(g, self.center.groups)}",
            )
        return g

    def _node(self, nid: str, nr: Reader) -> Node | None:
        kind = nr.choice("kind", NodeKind, NodeKind.HANGUP, required=True)
        if "kind" not in nr.table:
            return None
        kw: dict[str, Any] = {}
        need_next = kind in (
            NodeKind.PLAY,
            NodeKind.COLLECT,
            NodeKind.LOOKUP,
            NodeKind.SET,
            NodeKind.GOTO,
            NodeKind.SURVEY,
        )
        if need_next:
            kw["next"] = nr.text("next", required=True, nonempty=True)
        if kind in (NodeKind.PLAY, NodeKind.MENU, NodeKind.COLLECT, NodeKind.SURVEY):
            kw["prompt"] = self._prompt(nr, "prompt", required=True)
        if kind in (NodeKind.HANGUP, NodeKind.CALLBACK, NodeKind.VOICEMAIL, NodeKind.TRANSFER):
            kw["prompt"] = self._prompt(nr, "prompt")
        if kind in (NodeKind.MENU, NodeKind.COLLECT, NodeKind.SURVEY):
            kw["timeout"] = nr.number("timeout", 6.0, lo=0.5, hi=120)
            kw["retries"] = nr.integer("retries", 2, lo=0, hi=9)
            kw["invalid_prompt"] = self._prompt(nr, "invalid_prompt")
            kw["timeout_prompt"] = self._prompt(nr, "timeout_prompt")
            kw["on_fail"] = nr.text("on_fail")
            if kind is NodeKind.MENU and not kw["on_fail"]:
                nr.error(None, f"flow '{self.fid}', node '{nid}': missing 'on_fail'")
        if kind is NodeKind.MENU:
            choices: dict[str, str] = {}
            ct = nr.table_at("choices", required=True)
            if ct is not None:
                for digit, target, loc in ct.entries():
                    if digit not in "0123456789*#" or len(digit) != 1:
                        self.parent.problems.error(loc, "a choice is one key: 0-9, * or #")
                    elif not isinstance(target, str) or not target:
                        self.parent.problems.error(loc, "must be a node id")
                    else:
                        choices[digit] = target
            kw["choices"] = MappingProxyType(choices)
        if kind is NodeKind.COLLECT:
            kw["var"] = nr.text("var", required=True, nonempty=True)
            kw["min_digits"] = nr.integer("min", 1, lo=1, hi=32)
            kw["max_digits"] = nr.integer("max", 8, lo=1, hi=32)
            kw["terminator"] = nr.one_of("terminator", ("#", "*", ""), "#")
            if kw["max_digits"] < kw["min_digits"]:
                nr.error("max", f"must be at least min ({kw['min_digits']})")
        if kind is NodeKind.SURVEY:
            kw["var"] = nr.text("var", "survey")
        if kind is NodeKind.LOOKUP:
            kw["not_found"] = nr.text("not_found")
        if kind is NodeKind.CONDITION:
            branches = []
            for i, br in nr.tables_in("branches"):
                goto = br.text("goto", required=True, nonempty=True)
                wr = br.table_at("when", required=True)
                when = self._when(wr, nid) if wr is not None else When()
                br.finish()
                branches.append(Branch(when, goto))
                del i
            kw["branches"] = tuple(branches)
            kw["otherwise"] = nr.text("else", required=True, nonempty=True)
        if kind is NodeKind.SET:
            attrs: dict[str, str] = {}
            at = nr.table_at("attributes")
            if at is not None:
                for k, v, loc in at.entries():
                    if isinstance(v, str):
                        attrs[k] = v
                    else:
                        self.parent.problems.error(loc, "an attribute value is a string")
            kw["attributes"] = MappingProxyType(attrs)
            kw["brand"] = nr.opt_text("brand")
            kw["vip"] = nr.opt_integer("vip", lo=0, hi=9)
            kw["priority"] = nr.opt_number("priority", lo=0)
            kw["bonus"] = nr.opt_number("bonus")
        if kind in (NodeKind.QUEUE, NodeKind.CALLBACK, NodeKind.VOICEMAIL):
            kw["group"] = self._group(nr, "group", nid)
        if kind is NodeKind.QUEUE:
            kw["priority"] = nr.opt_number("priority", lo=0)
            kw["bonus"] = nr.opt_number("bonus")
        if kind is NodeKind.TRANSFER:
            kw["number"] = nr.text("number", required=True, nonempty=True)
        nr.allow("description")
        return Node(nid, kind, **kw)

    def _when(self, wr: Reader, nid: str) -> When:
        kw: dict[str, Any] = {}
        brands = wr.raw("brand")
        if brands is not None:
            items = [brands] if isinstance(brands, str) else wr.text_list("brand") or []
            kw["brand"] = frozenset(i if isinstance(i, str) else i.value for i in items)
        kw["vip_at_least"] = wr.opt_integer("vip_at_least", lo=0, hi=9)
        for key in ("attributes", "inputs"):
            sub = wr.table_at(key)
            if sub is None:
                continue
            values: dict[str, frozenset[str]] = {}
            for k, v, loc in sub.entries():
                if isinstance(v, str):
                    values[k] = frozenset([v])
                elif isinstance(v, list | tuple) or hasattr(v, "plain"):
                    vs = list(v)
                    if all(isinstance(x, str) for x in vs):
                        values[k] = frozenset(vs)
                    else:
                        self.parent.problems.error(loc, "values are strings")
                else:
                    self.parent.problems.error(loc, "a string or a list of strings")
            kw[key] = MappingProxyType(values)
        if wr.has("customer_found"):
            kw["customer_found"] = wr.flag("customer_found")
        for key in ("open", "closed"):
            cal = wr.opt_text(key)
            if cal is not None and cal not in self.center.calendars:
                wr.error(
                    key,
                    f"flow '{self.fid}', node '{nid}': unknown calendar '{cal}'"
                    f"{suggest(cal, self.center.calendars)}",
                )
            kw[key] = cal
        span = wr.opt_text("time")
        if span is not None:
            mins = _minutes(span)
            if mins is None:
                wr.error("time", f"must read 'HH:MM-HH:MM' with the start first (got '{span}')")
            kw["time"] = mins
        days = wr.text_list("days")
        if days is not None:
            ds = set()
            for d, loc in days:
                if d not in _DAYS:
                    self.parent.problems.error(loc, f"'{d}' is not a day (mon..sun)")
                else:
                    ds.add(_DAYS[d])
            kw["days"] = frozenset(ds)
        live = ("estimated_wait_above", "agents_ready_below", "group_open")
        kw["estimated_wait_above"] = wr.opt_number("estimated_wait_above", lo=0)
        kw["agents_ready_below"] = wr.opt_integer("agents_ready_below", lo=1)
        if wr.has("group_open"):
            kw["group_open"] = wr.flag("group_open")
        if any(kw.get(k) is not None for k in live):
            kw["group"] = self._group(wr, "group", nid)
        else:
            wr.allow("group")
        wr.finish()
        return When(**{k: v for k, v in kw.items() if v is not None})


class _IvrReader:
    def __init__(self, center: CenterConfig, problems: Problems) -> None:
        self.center = center
        self.problems = problems
        self.prompt_refs: list[tuple[str, Loc, str, str]] = []


def _base_dir(center: CenterConfig, table: Table, key: str) -> Path:
    return Path(table.file_of(key)).parent if table.file_of(key) else Path(center.source).parent


def parse_ivr(center: CenterConfig, problems: Problems) -> IvrSettings:
    """Read `[ivr]` and `[prompts]`; every problem names its file, flow and node."""
    d = IvrSettings()
    table = center.sections.get("ivr")
    ptable = center.sections.get("prompts")
    ctx = _IvrReader(center, problems)
    prompts: dict[str, Prompt] = {}
    if isinstance(ptable, Table):
        pr = Reader(ptable, problems)
        for pid, value, loc in pr.entries():
            if isinstance(value, str):
                prompts[pid] = Prompt(pid, value)
            elif isinstance(value, Table):
                sub = pr.child(value)
                prompts[pid] = Prompt(
                    pid, sub.text("text", required=True), sub.text("language", "zh-CN")
                )
            else:
                problems.error(loc, "a prompt is its text or a table with text and language")
        for pid, when in BUILTIN_PROMPTS.items():
            if pid not in prompts:
                pr.warning(None, f"no prompt '{pid}', which the server plays when {when}")
        pr.finish()
    if not isinstance(table, Table):
        return IvrSettings(prompts=MappingProxyType(prompts))
    r = Reader(table, problems)
    flows: dict[str, Flow] = {}
    ft = r.table_at("flows")
    if ft is not None:
        for fid, fr in ft.tables():
            flow = _FlowReader(fid, fr, center, ctx).read()
            if flow is not None:
                flows[fid] = Flow(flow.id, flow.start, flow.nodes, center.version)
    default_flow = r.text("default_flow", "")
    if default_flow and default_flow not in flows:
        r.error("default_flow", f"unknown flow '{default_flow}'{suggest(default_flow, flows)}")
    entry: dict[str, str] = {}
    et = r.table_at("entry")
    if et is not None:
        for dialed, fid, loc in et.entries():
            if not isinstance(fid, str) or fid not in flows:
                problems.error(loc, f"unknown flow {fid!r}{suggest(str(fid), flows)}")
            else:
                entry[dialed] = fid
    treatment = d.treatment
    tr = r.table_at("treatment")
    if tr is not None:
        keys: dict[str, str] = {}
        kt = tr.table_at("keys")
        if kt is not None:
            for digit, action, loc in kt.entries():
                if action not in TREATMENT_ACTIONS:
                    problems.error(loc, f"must be one of {', '.join(TREATMENT_ACTIONS)}")
                else:
                    keys[digit] = action
        treatment = Treatment(
            music=ctx_prompt(ctx, tr, "music", treatment.music),
            announce_position=tr.flag("announce_position", True),
            announce_wait=tr.flag("announce_wait", True),
            keys=MappingProxyType(keys),
            callback_prompt=ctx_prompt(ctx, tr, "callback_prompt", treatment.callback_prompt),
            callback_confirm=ctx_prompt(ctx, tr, "callback_confirm", treatment.callback_confirm),
            voicemail_prompt=ctx_prompt(ctx, tr, "voicemail_prompt", treatment.voicemail_prompt),
        )
    survey = d.survey
    sr = r.table_at("survey")
    if sr is not None:
        survey = Survey(
            prompt=ctx_prompt(ctx, sr, "prompt", survey.prompt),
            thanks=ctx_prompt(ctx, sr, "thanks", survey.thanks),
            timeout=sr.number("timeout", survey.timeout, lo=1, hi=60),
        )
    blocked_prompt = ctx_prompt(ctx, r, "blocked_prompt", d.blocked_prompt)
    language = r.text("language", d.language, nonempty=True)
    directory: Directory = EmptyDirectory()
    path = r.opt_text("directory")
    if path is not None:
        full = _base_dir(center, table, "directory") / path
        try:
            directory = CsvDirectory.load(full)
        except (OSError, ValueError) as err:
            r.error("directory", f"cannot read the customer directory {path}: {err}")
    r.finish()
    if prompts:
        for pid, loc, fid, nid in ctx.prompt_refs:
            if pid not in prompts:
                where = f"flow '{fid}', node '{nid}': " if fid else ""
                problems.error(loc, f"{where}unknown prompt '{pid}'{suggest(pid, prompts)}")
    return IvrSettings(
        flows=MappingProxyType(flows),
        entry=MappingProxyType(entry),
        default_flow=default_flow,
        prompts=MappingProxyType(prompts),
        treatment=treatment,
        survey=survey,
        blocked_prompt=blocked_prompt,
        language=language,
        directory=directory,
    )


def ctx_prompt(ctx: _IvrReader, r: Reader, key: str, default: str) -> str:
    """A prompt id from a settings table (checked against [prompts] with the flows' ones)."""
    p = r.text(key, default, nonempty=True)
    ctx.prompt_refs.append((p, r.loc(key), "", ""))
    return p
