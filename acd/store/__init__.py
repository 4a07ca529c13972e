"""Durable storage of the journal's records: the interface and its SQLite implementation."""

from acd.store.base import AuditFilter, CommitHook, Store
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
from acd.store.sqlite import SqliteStore, open_store

__all__ = [
    "AgentStateRecord",
    "AuditFilter",
    "AuditRecord",
    "CallRecord",
    "CommitHook",
    "ConfigRecord",
    "HandledRecord",
    "NoteRecord",
    "OfferRecord",
    "Record",
    "SqliteStore",
    "Store",
    "open_store",
]
