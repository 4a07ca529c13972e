"""Agent sessions: one live session per agent, its push log, takeover and resume.

A session outlives its connection: when the socket drops, the session waits `resume_grace`
seconds for the same desktop to come back with the session's token; meanwhile pushes keep
their seq numbers and stay in the bounded `PushLog`, so a resumed desktop gets exactly what it
missed, each push once. Past the grace period (or when the log dropped what the desktop had
not seen) the desktop starts over from a full snapshot.

A second sign-in of the same agent takes the session over by default (the first connection is
closed with 4002 and a reason) or is refused, by [server] `second_sign_in`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator

from agent_gateway.framing import Channel, PushLog
from agent_gateway.messages import Push


class Session:
    """An agent's signed-in session; `channel` is None while the desktop is away."""

    __slots__ = ("agent_id", "channel", "expiry", "log", "lost_at", "prior_reason", "token")

    def __init__(self, agent_id: str, channel: Channel, replay: int) -> None:
        self.agent_id = agent_id
        self.token = secrets.token_urlsafe(18)
        self.channel: Channel | None = channel
        self.log = PushLog(replay)
        self.lost_at: float | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.prior_reason = ""  # the not-ready reason "disconnected" replaced, for a resume

    def push(self, push: Push) -> bool:
        """Number, keep and send a push; True when it went out on a live connection."""
        log = self.log
        log.seq += 1  # inlined PushLog.next(): this is the hot path of every push
        push.seq = log.seq
        log.buffer.append((log.seq, push))
        channel = self.channel
        return channel is not None and channel.send(push)


class SessionTable:
    """Sessions by agent and by resume token."""

    def __init__(self, replay: int, grace: float, on_expired: Callable[[Session], None]) -> None:
        self.replay = replay
        self.grace = grace
        self.on_expired = on_expired
        self.by_agent: dict[str, Session] = {}
        self.by_token: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self.by_agent)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self.by_agent.values()))

    def get(self, agent_id: str) -> Session | None:
        """The agent's session, live or waiting for a resume."""
        return self.by_agent.get(agent_id)

    def open(self, agent_id: str, channel: Channel) -> Session:
        """A new session for the agent (the caller closed any previous one first)."""
        old = self.by_agent.get(agent_id)
        if old is not None:
            self.drop(old)
        s = Session(agent_id, channel, self.replay)
        self.by_agent[agent_id] = s
        self.by_token[s.token] = s
        return s

    def by_resume_token(self, token: str) -> Session | None:
        """The session a resume token names."""
        return self.by_token.get(token)

    def attach(self, s: Session, channel: Channel) -> None:
        """A desktop took the session back."""
        if s.expiry is not None:
            s.expiry.cancel()
            s.expiry = None
        s.lost_at = None
        s.channel = channel

    def lose(self, s: Session, now: float) -> None:
        """The desktop's connection is gone: keep the session for the grace period."""
        s.channel = None
        s.lost_at = now
        if s.expiry is not None:
            s.expiry.cancel()
        s.expiry = asyncio.get_running_loop().call_later(self.grace, self._expire, s)

    def _expire(self, s: Session) -> None:
        s.expiry = None
        if self.by_agent.get(s.agent_id) is s and s.channel is None:
            self.drop(s)
            self.on_expired(s)

    def drop(self, s: Session) -> None:
        """Forget a session (its token no longer resumes anything)."""
        if s.expiry is not None:
            s.expiry.cancel()
            s.expiry = None
        if self.by_agent.get(s.agent_id) is s:
            del self.by_agent[s.agent_id]
        self.by_token.pop(s.token, None)
