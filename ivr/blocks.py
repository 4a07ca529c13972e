"""Caller blocks: only explicit rules, each with a reason, who set it and an expiry.

A rule matches a caller number exactly, or every number starting with a prefix when the
pattern ends in `*` ("1380013*"). A blocked caller hears the blocked prompt and is hung up,
never met with silence, and every hit is recorded (journal note `block`). Rules live in a
small JSON file in the data folder so they outlast restarts; expired rules are dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from acd.errors import AcdError

MAX_SECONDS = 366 * 86400.0  # no rule lasts more than a year


class BadBlock(AcdError):
    """A block rule that is not acceptable (no reason, no expiry, bad pattern...)."""

    code = "bad_block"


class UnknownBlock(AcdError):
    """No block rule with that pattern."""

    code = "unknown_block"


@dataclass(frozen=True, slots=True)
class BlockRule:
    """One explicit block."""

    pattern: str  # a number, or a prefix ending in "*"
    reason: str
    actor: str
    created_at: float
    expires_at: float

    def matches(self, number: str) -> bool:
        """Whether the rule covers `number`."""
        if self.pattern.endswith("*"):
            return number.startswith(self.pattern[:-1])
        return number == self.pattern

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain data."""
        return asdict(self)


def make_rule(rule: dict[str, Any], actor: str, now: float) -> BlockRule:
    """A validated rule from `{"pattern", "reason", "expires_at"}` (or `"seconds"`)."""
    pattern = str(rule.get("pattern", "")).strip()
    body = pattern[:-1] if pattern.endswith("*") else pattern
    if not body or not body.isdigit() or len(pattern) > 32:
        raise BadBlock("pattern: a number, or a prefix of at least one digit ending in '*'")
    reason = str(rule.get("reason", "")).strip()
    if not reason:
        raise BadBlock("reason: a block needs a reason")
    if not actor:
        raise BadBlock("a block needs the name of who sets it")
    expires = rule.get("expires_at")
    seconds = rule.get("seconds")
    if expires is None and seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise BadBlock("seconds: a number")
        expires = now + float(seconds)
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise BadBlock("expires_at (epoch seconds) or seconds: every block expires")
    if not now < float(expires) <= now + MAX_SECONDS:
        raise BadBlock("the expiry must be in the future and within a year")
    return BlockRule(pattern, reason, actor, now, float(expires))


class Blocks:
    """The live rules, persisted to `path` (None: memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rules: dict[str, BlockRule] = {}
        if path is not None and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            for item in data.get("rules", []):
                r = BlockRule(**item)
                self.rules[r.pattern] = r

    def match(self, number: str, now: float) -> BlockRule | None:
        """The rule blocking `number` now, if any (expired rules are dropped on the way)."""
        if not self.rules:
            return None
        hit = None
        for r in list(self.rules.values()):
            if r.expires_at <= now:
                del self.rules[r.pattern]
                continue
            if hit is None and r.matches(number):
                hit = r
        return hit

    def add(self, rule: BlockRule) -> None:
        """Add or replace the rule for its pattern."""
        self.rules[rule.pattern] = rule
        self._save()

    def remove(self, pattern: str) -> BlockRule:
        """Remove the rule for `pattern`."""
        r = self.rules.pop(pattern, None)
        if r is None:
            raise UnknownBlock(f"no block for {pattern!r}", pattern=pattern)
        self._save()
        return r

    def active(self, now: float) -> list[BlockRule]:
        """Rules in force now."""
        return [r for r in self.rules.values() if r.expires_at > now]

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        data = {"rules": [r.to_dict() for r in self.rules.values()]}
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
