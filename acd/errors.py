"""Typed errors of the core. Each has a stable machine `code` the protocols send on."""

from __future__ import annotations

from typing import Any, ClassVar


class AcdError(Exception):
    """Base of every error the core raises on purpose; nothing changed when one is raised."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.outputs: list[Any] = []  # engine outputs of timers that fell due before the refusal


class StartupError(AcdError):
    """The server cannot start: its data folder is in use, or it cannot listen."""

    code = "startup"


class IllegalTransition(AcdError):
    """The agent's state does not allow this."""

    code = "wrong_state"


class WrongState(AcdError):
    """A call or task is not in a state that allows this."""

    code = "wrong_state"


class UnknownAgent(AcdError):
    """No agent with that id."""

    code = "unknown_agent"


class UnknownCall(AcdError):
    """No live call with that id."""

    code = "unknown_call"


class UnknownGroup(AcdError):
    """No skill group with that id."""

    code = "unknown_group"


class UnknownReason(AcdError):
    """A not-ready reason or wrap-up code that the config does not define."""

    code = "unknown_reason"


class Forbidden(AcdError):
    """The actor may not act on this target."""

    code = "forbidden"


class NotAvailable(AcdError):
    """The target agent or group cannot take this now."""

    code = "not_available"


class DuplicateCall(AcdError):
    """A call with this id is already live."""

    code = "duplicate_call"


class WrapUpCodeRequired(AcdError):
    """The group's wrap-up is mandatory and no code was given."""

    code = "wrapup_code_required"


class ConfigError(AcdError):
    """A configuration is invalid; `problems` lists every error found."""

    code = "bad_config"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) if problems else "invalid configuration")
        self.problems = problems
