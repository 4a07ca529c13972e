"""The embedded store: SQLite in the data folder, WAL, one writer thread with group commit.

The event loop hands records over a queue and never waits for the disk. The writer thread
takes everything queued (up to `batch` records), inserts it with one `executemany` per table,
commits once, then releases every `sync` waiter that was queued behind those records.

A commit has a fixed cost (about 150 µs of CPU whatever it holds, with its fsync) that a call's
few records do not amortise, so the writer gathers before it commits: records nobody waits for
wait up to `linger` seconds for company, and a `sync` waiter up to `sync_linger` (a few
milliseconds on an acknowledgement, against a commit per call at hundreds of calls a second). A
commit that fails (disk full, I/O error) is rolled back and retried; waiters stay waiting, so
nothing is acknowledged that is not on disk.

Readers use their own connections (WAL lets them read while the writer writes).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
import structlog

from acd.store.base import AuditFilter, CommitHook
from acd.store.records import (
    AgentStateRecord,
    AuditRecord,
    CallRecord,
    ConfigRecord,
    HandledRecord,
    NoteRecord,
    OfferRecord,
    Record,
)

log = structlog.get_logger("acd.store")

Synchronous = Literal["off", "normal", "full", "extra"]
FILENAME = "journal.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT NOT NULL, kind TEXT NOT NULL, grp TEXT NOT NULL, cause TEXT NOT NULL,
    ended_by TEXT NOT NULL, ended_at REAL NOT NULL, queued_at REAL, answered_at REAL,
    wait REAL, talk REAL NOT NULL, hold REAL NOT NULL, caller TEXT NOT NULL,
    agent TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS calls_ended ON calls(ended_at);
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller, ended_at);
CREATE INDEX IF NOT EXISTS calls_id ON calls(call_id);
CREATE TABLE IF NOT EXISTS offers (
    call_id TEXT NOT NULL, agent_id TEXT NOT NULL, grp TEXT NOT NULL, offered_at REAL NOT NULL,
    ended_at REAL NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS offers_ended ON offers(ended_at);
CREATE TABLE IF NOT EXISTS agent_states (
    agent_id TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, start REAL NOT NULL,
    "end" REAL NOT NULL, actor TEXT NOT NULL, call_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS agent_states_end ON agent_states("end");
CREATE TABLE IF NOT EXISTS handled (
    agent_id TEXT NOT NULL, call_id TEXT NOT NULL, grp TEXT NOT NULL, at REAL NOT NULL,
    talk REAL NOT NULL, acw REAL NOT NULL, code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS handled_at ON handled(at);
CREATE TABLE IF NOT EXISTS notes (
    call_id TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notes_at ON notes(at);
CREATE INDEX IF NOT EXISTS notes_call ON notes(call_id);
CREATE TABLE IF NOT EXISTS audit (
    at REAL NOT NULL, who TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, params TEXT NOT NULL, result TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TABLE IF NOT EXISTS config_versions (
    at REAL NOT NULL, version TEXT NOT NULL, actor TEXT NOT NULL, snapshot TEXT NOT NULL);
"""

_json = msgspec.json.Encoder()
_call_body = msgspec.msgpack.Encoder()
_call_decode = msgspec.msgpack.Decoder(CallRecord)


def _dumps(value: Any) -> str:
    return _json.encode(value).decode()


def _loads(text: str) -> Any:
    return msgspec.json.decode(text)


# record type -> (insert statement, row builder)
_INSERTS: dict[type[Any], tuple[str, Callable[[Any], tuple[Any, ...]]]] = {
    CallRecord: (
        "INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        lambda r: (
            r.call_id, r.kind, r.group, r.cause, r.ended_by, r.ended_at, r.queued_at,
            r.answered_at, r.wait, r.talk, r.hold, r.caller, r.agents[-1] if r.agents else "",
            _call_body.encode(r),
        ),
    ),
    OfferRecord: (
        "INSERT INTO offers VALUES (?,?,?,?,?,?,?)",
        lambda r: (r.call_id, r.agent_id, r.group, r.offered_at, r.ended_at, r.result, r.reason),
    ),
    AgentStateRecord: (
        "INSERT INTO agent_states VALUES (?,?,?,?,?,?,?)",
        lambda r: (r.agent_id, r.state, r.reason, r.start, r.end, r.actor, r.call_id),
    ),
    HandledRecord: (
        "INSERT INTO handled VALUES (?,?,?,?,?,?,?)",
        lambda r: (r.agent_id, r.call_id, r.group, r.at, r.talk, r.acw, r.code),
    ),
    NoteRecord: (
        "INSERT INTO notes VALUES (?,?,?,?)",
        lambda r: (r.call_id, r.kind, r.at, _dumps(r.data)),
    ),
    AuditRecord: (
        "INSERT INTO audit VALUES (?,?,?,?,?,?,?)",
        lambda r: (r.at, r.who, r.role, r.action, r.target, _dumps(r.params), r.result),
    ),
    ConfigRecord: (
        "INSERT INTO config_versions VALUES (?,?,?,?)",
        lambda r: (r.at, r.version, r.actor, _dumps(r.snapshot)),
    ),
}  # fmt: skip


# Rows go in as multi-row INSERTs: one statement (one step, one release and re-take of the
# interpreter lock) for up to `_MOST` rows instead of one per row, which the event loop's
# thread felt as a lock hand-over each. Chunks are powers of two, so a few statements per
# table stay prepared in the connection's cache.
_MOST = 256  # rows per statement: 14 columns x 256 stays well under SQLite's 32,766 variables
_MULTI: dict[tuple[type[Any], int], str] = {}


def _multi(kind: type[Any], n: int) -> str:
    """The INSERT of `n` rows of one record type."""
    sql = _MULTI.get((kind, n))
    if sql is None:
        one = _INSERTS[kind][0]
        head, values = one.split(" VALUES ")
        sql = _MULTI[(kind, n)] = f"{head} VALUES {','.join([values] * n)}"
    return sql


def _chunks(rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """`rows` in runs whose lengths are powers of two (at most `_MOST`)."""
    i, n = 0, len(rows)
    while i < n:
        size = min(_MOST, 1 << ((n - i).bit_length() - 1))
        yield rows[i : i + size]
        i += size


class _Sync:
    __slots__ = ("done",)

    def __init__(self, done: Callable[[], None]) -> None:
        self.done = done


_STOP = object()


def _connect(path: Path, synchronous: Synchronous, *, readonly: bool = False) -> sqlite3.Connection:
    # Readers open read-write too: the first open after a crash replays the WAL, which writes.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SqliteStore:
    """The SQLite store. `writer=False` opens it for reading only (reports, tools)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "full",
        batch: int = 5000,
        linger: float = 0.02,
        sync_linger: float = 0.005,
        writer: bool = True,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.path = Path(path)
        self.batch = batch
        self.linger = linger
        self.sync_linger = sync_linger
        self.on_commit = on_commit
        self.committed = 0  # records committed so far
        self.commits = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []  # every thread's, so close() ends them all
        self._readers_lock = threading.Lock()
        self._synchronous = synchronous
        if writer:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(self.path, synchronous)
            conn.executescript(SCHEMA)
            self._conn: sqlite3.Connection | None = conn
            self._thread = threading.Thread(target=self._run, name="acd-store", daemon=True)
            self._thread.start()
        else:
            if not self.path.exists():
                raise FileNotFoundError(f"no journal at {self.path}")
            self._conn = None

    # ------------------------------------------------------------------ writing

    def append(self, records: Sequence[Record]) -> None:
        """Queue records for the writer; never blocks."""
        if records:
            self._queue.put(records)

    def sync(self, done: Callable[[], None]) -> None:
        """Call `done` from the writer thread once everything queued before is committed."""
        self._queue.put(_Sync(done))

    def close(self) -> None:
        """Drain the queue, commit, stop the writer and close the connections."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for reader in readers:  # last connection closed: SQLite checkpoints and drops the WAL
            reader.close()
        self._local = threading.local()

    def _run(self) -> None:
        q = self._queue
        stop = False
        while not stop:
            item = q.get()
            pending: list[Sequence[Record]] = []
            syncs: list[_Sync] = []
            count = 0
            deadline = 0.0  # when to stop gathering (0: not gathering yet)
            while True:
                if item is _STOP:
                    stop = True
                elif type(item) is _Sync:
                    if not syncs:  # someone waits: gather only briefly
                        soon = time.monotonic() + self.sync_linger
                        deadline = soon if deadline == 0.0 else min(deadline, soon)
                    syncs.append(item)
                else:
                    pending.append(item)
                    count += len(item)
                if count >= self.batch:
                    break
                try:
                    item = q.get_nowait()
                    continue
                except queue.Empty:
                    pass
                if stop or not pending:
                    break
                if deadline == 0.0:
                    deadline = time.monotonic() + self.linger
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = q.get(timeout=left)
                except queue.Empty:
                    break
            if pending:
                self._write(pending, count)
            for s in syncs:
                try:
                    s.done()
                except Exception:
                    log.exception("store sync callback failed")
        assert self._conn is not None
        self._conn.close()
        self._conn = None

    def _write(self, batches: list[Sequence[Record]], count: int) -> None:
        rows: dict[type[Any], list[tuple[Any, ...]]] = {}
        for records in batches:
            for r in records:
                t = type(r)
                row = _INSERTS[t][1](r)
                got = rows.get(t)
                if got is None:
                    rows[t] = [row]
                else:
                    got.append(row)
        statements = [
            (_multi(kind, len(chunk)), [v for row in chunk for v in row])
            for kind, values in rows.items()
            for chunk in _chunks(values)
        ]
        conn = self._conn
        assert conn is not None
        delay = 0.05
        while True:
            t0 = time.perf_counter()
            try:
                conn.execute("BEGIN")
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except sqlite3.Error:
                log.exception("journal commit failed; retrying", records=count)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            elapsed = time.perf_counter() - t0  # perf counter: a cost, not a KPI duration
            self.committed += count
            self.commits += 1
            if self.on_commit is not None:
                self.on_commit(elapsed, count)
            return

    # ------------------------------------------------------------------ reading

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._reader().execute(sql, params).fetchall()

    def calls(
        self, since: float, until: float, *, caller: str | None = None
    ) -> Iterator[CallRecord]:
        """Call records that ended in [since, until), oldest first."""
        sql = "SELECT body FROM calls WHERE ended_at >= ? AND ended_at < ?"
        params: list[Any] = [since, until]
        if caller is not None:
            sql += " AND caller = ?"
            params.append(caller)
        for (body,) in self._rows(sql + " ORDER BY ended_at", params):
            yield _call_decode.decode(body)

    def recent_calls(self, caller: str, limit: int) -> list[CallRecord]:
        """The caller's latest call records, newest first."""
        rows = self._rows(
            "SELECT body FROM calls WHERE caller = ? ORDER BY ended_at DESC LIMIT ?",
            (caller, limit),
        )
        return [_call_decode.decode(b) for (b,) in rows]

    def call(self, call_id: str) -> CallRecord | None:
        """The record of one call (the latest, should it have ended twice)."""
        rows = self._rows(
            "SELECT body FROM calls WHERE call_id = ? ORDER BY ended_at DESC LIMIT 1", (call_id,)
        )
        return _call_decode.decode(rows[0][0]) if rows else None

    def callers(self) -> Iterator[str]:
        """Every caller number with a call record (each once)."""
        for (caller,) in self._reader().execute(
            "SELECT DISTINCT caller FROM calls WHERE caller != ''"
        ):
            yield caller

    def call_ids(self) -> set[str]:
        """Ids of every call recorded."""
        return {cid for (cid,) in self._rows("SELECT call_id FROM calls")}

    def offers(self, since: float, until: float) -> Iterator[OfferRecord]:
        """Offers that ended in [since, until)."""
        for row in self._rows(
            "SELECT * FROM offers WHERE ended_at >= ? AND ended_at < ? ORDER BY ended_at",
            (since, until),
        ):
            yield OfferRecord(*row)

    def agent_states(self, since: float, until: float) -> Iterator[AgentStateRecord]:
        """State intervals overlapping [since, until)."""
        for row in self._rows(
            'SELECT * FROM agent_states WHERE "end" > ? AND start < ? ORDER BY start',
            (since, until),
        ):
            yield AgentStateRecord(*row)

    def handled(self, since: float, until: float) -> Iterator[HandledRecord]:
        """Handled calls whose handling ended in [since, until)."""
        for row in self._rows(
            "SELECT * FROM handled WHERE at >= ? AND at < ? ORDER BY at", (since, until)
        ):
            yield HandledRecord(*row)

    def notes(self, since: float, until: float, *, kind: str | None = None) -> Iterator[NoteRecord]:
        """Notes taken in [since, until), of one kind if given."""
        sql = "SELECT * FROM notes WHERE at >= ? AND at < ?"
        params: list[Any] = [since, until]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        for cid, k, at, data in self._rows(sql + " ORDER BY at", params):
            yield NoteRecord(cid, k, at, _loads(data))

    def notes_for(self, call_id: str) -> list[NoteRecord]:
        """Every note of one call, oldest first."""
        rows = self._rows("SELECT * FROM notes WHERE call_id = ? ORDER BY at", (call_id,))
        return [NoteRecord(cid, k, at, _loads(data)) for cid, k, at, data in rows]

    def audit_rows(self, flt: AuditFilter) -> list[AuditRecord]:
        """Audit rows matching the filter, oldest first."""
        sql = "SELECT * FROM audit WHERE 1=1"
        params: list[Any] = []
        if flt.who is not None:
            sql += " AND who = ?"
            params.append(flt.who)
        if flt.action is not None:
            sql += " AND action = ?"
            params.append(flt.action)
        if flt.since is not None:
            sql += " AND at >= ?"
            params.append(flt.since)
        if flt.until is not None:
            sql += " AND at < ?"
            params.append(flt.until)
        sql += " ORDER BY at"
        if flt.limit is not None:
            sql += " LIMIT ?"
            params.append(flt.limit)
        return [
            AuditRecord(at, who, role, action, target, _loads(p), result)
            for at, who, role, action, target, p, result in self._rows(sql, params)
        ]

    def config_versions(self) -> list[ConfigRecord]:
        """Every configuration version recorded, oldest first."""
        rows = self._rows("SELECT * FROM config_versions ORDER BY at")
        return [ConfigRecord(at, v, actor, _loads(s)) for at, v, actor, s in rows]

    def span(self) -> tuple[float, float] | None:
        """Earliest arrival (or end) and latest end of the calls recorded."""
        row = self._rows("SELECT min(coalesce(queued_at, ended_at)), max(ended_at) FROM calls")[0]
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def check(self) -> str:
        """SQLite's integrity check ("ok" when sound)."""
        rows = self._rows("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)


def open_store(data_dir: str | Path, **kwargs: Any) -> SqliteStore:
    """The store of a data folder."""
    return SqliteStore(Path(data_dir) / FILENAME, **kwargs)
