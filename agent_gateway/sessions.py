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

import msgspec

from agent_gateway.framing import Channel, PushLog
from agent_gateway.messages import AnyPush, Push

# A kept push: (when it happened, encoded as MessagePack?, the encoded frame). Frames are kept
# encoded: a few hundred bytes each instead of a tree of objects.
Kept = tuple[float, bool, bytes]

_FROM_MSGPACK = msgspec.msgpack.Decoder(AnyPush)
_FROM_JSON = msgspec.json.Decoder(AnyPush)


class Session:
    """An agent's signed-in session; `channel` is None while the desktop is away."""

    __slots__ = (
        "agent_id",
        "binary",
        "channel",
        "expiry",
        "keep_for",
        "log",
        "lost_at",
        "prior_reason",
        "token",
    )

    def __init__(self, agent_id: str, channel: Channel, replay: int, keep_for: float) -> None:
        self.agent_id = agent_id
        self.token = secrets.token_urlsafe(18)
        self.channel: Channel | None = channel
        self.binary = channel.binary
        self.log = PushLog(replay)
        self.keep_for = keep_for
        self.lost_at: float | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.prior_reason = ""  # the not-ready reason "disconnected" replaced, for a resume

    def push(self, push: Push) -> bool:
        """Number, keep and send a push; True when it went out on a live connection.

        Pushes are kept for replay until they are older than any connection loss that could
        still be resumed (heartbeat detection plus the resume grace): a resume that needs
        older ones gets a snapshot instead. That bounds a busy session's memory.
        """
        log = self.log
        log.seq += 1  # inlined PushLog.next(): this is the hot path of every push
        push.seq = log.seq
        channel = self.channel
        binary = channel.binary if channel is not None else self.binary
        frame = channel.codec.encode(push, binary) if channel is not None else _encode(push, binary)
        buf = log.buffer
        buf.append((log.seq, (push.at, binary, frame)))
        horizon = push.at - self.keep_for
        while buf[0][1][0] < horizon:
            buf.popleft()
        return channel is not None and channel.send_frame(frame)

    def replay(self, kept: list[Kept]) -> int:
        """Send kept frames again on the current channel (re-encoded if it speaks the other
        encoding); how many went out."""
        channel = self.channel
        if channel is None:
            return 0
        sent = 0
        for _at, binary, frame in kept:
            if binary != channel.binary:
                push = (_FROM_MSGPACK if binary else _FROM_JSON).decode(frame)
                frame = channel.codec.encode(push, channel.binary)
            if channel.send_frame(frame):
                sent += 1
        return sent


_MSGPACK = msgspec.msgpack.Encoder()
_JSON = msgspec.json.Encoder()


def _encode(push: Push, binary: bool) -> bytes:
    return _MSGPACK.encode(push) if binary else _JSON.encode(push)


class SessionTable:
    """Sessions by agent and by resume token."""

    def __init__(
        self,
        replay: int,
        grace: float,
        on_expired: Callable[[Session], None],
        keep_for: float = 600.0,
    ) -> None:
        self.replay = replay
        self.grace = grace
        self.keep_for = keep_for
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
        s = Session(agent_id, channel, self.replay, self.keep_for)
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
        s.binary = channel.binary

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
