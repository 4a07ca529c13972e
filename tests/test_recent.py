"""The screen pop's in-memory history (acd.recent) agrees with the store's."""

from __future__ import annotations

from collections.abc import Sequence

from acd.recent import RecentContacts
from acd.store import CallRecord


def rec(cid: str, caller: str, at: float, agent: str = "a1") -> CallRecord:
    return CallRecord(
        call_id=cid, kind="inbound", group="g", groups=["g"], cause="completed",
        ended_by="caller", ended_at=at, queued_at=at - 10, answered_at=at - 5, wait=5.0,
        talk=5.0, hold=0.0, agents=[agent], caller=caller,
    )  # fmt: skip


class Store:
    """Committed records only (what a query sees), counting queries."""

    def __init__(self, committed: list[CallRecord]) -> None:
        self.committed = committed
        self.asked = 0

    def recent_calls(self, caller: str, limit: int) -> Sequence[CallRecord]:
        self.asked += 1
        mine = [r for r in self.committed if r.caller == caller]
        return sorted(mine, key=lambda r: r.ended_at, reverse=True)[:limit]


def ids(contacts: object) -> list[str]:
    return [c["call_id"] for c in contacts]  # type: ignore[attr-defined]


def test_numbers_never_seen_cost_no_query_and_new_records_show_at_once() -> None:
    store = Store([rec("old1", "111", 100.0), rec("old2", "111", 200.0)])
    recent = RecentContacts(depth=5)
    recent.load(["111"])
    assert recent.get("999", 5, store.recent_calls) == [] and store.asked == 0
    assert ids(recent.get("111", 5, store.recent_calls)) == ["old2", "old1"]
    assert store.asked == 1
    recent.add(rec("new", "111", 300.0))  # written, not committed: shown from memory
    assert ids(recent.get("111", 5, store.recent_calls)) == ["new", "old2", "old1"]
    assert ids(recent.get("111", 2, store.recent_calls)) == ["new", "old2"]
    recent.add(rec("first", "222", 310.0))  # a first contact: exact without the store
    assert ids(recent.get("222", 5, store.recent_calls)) == ["first"]
    assert store.asked == 1
    assert recent.get("111", 5, store.recent_calls)[0]["agent"] == "a1"


def test_a_miss_merges_records_not_committed_yet() -> None:
    store = Store([rec("c1", "111", 100.0)])
    recent = RecentContacts(capacity=1)
    recent.load(["111"])
    recent.add(rec("c2", "111", 200.0))  # in flight: the store does not have it yet
    assert ids(recent.get("111", 5, store.recent_calls)) == ["c2", "c1"]
    recent.get("333", 5, store.recent_calls)
    recent.add(rec("x", "444", 1.0))  # capacity 1: "111" leaves the cache
    store.committed.append(rec("c2", "111", 200.0))
    assert ids(recent.get("111", 5, store.recent_calls)) == ["c2", "c1"]


def test_without_load_every_miss_asks_the_store() -> None:
    store = Store([rec("c1", "111", 100.0)])
    recent = RecentContacts()
    assert ids(recent.get("111", 5, store.recent_calls)) == ["c1"]
    assert ids(recent.get("111", 5, store.recent_calls)) == ["c1"]
    assert recent.get("555", 5, store.recent_calls) == [] and store.asked == 3
