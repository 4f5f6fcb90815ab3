"""The core's journal: an SQLite database in WAL mode under the state directory.

The core writes, once per tick and in one transaction, every container and job that
changed, every order it issued and every customs or operator event. A crash (even
SIGKILL) loses at most the tick in flight: a committed transaction survives the process.
On start, :meth:`Journal.load` gives back the last committed state, from which the core
recovers: no job lost, none duplicated, every container where it was.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fleet.errors import FleetError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS containers (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    vehicle TEXT NOT NULL, order_id TEXT NOT NULL, order_update_id INTEGER NOT NULL,
    t_s REAL NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (vehicle, order_id, order_update_id));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, t_s REAL NOT NULL, kind TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE);
"""

SCHEMA_VERSION = "2"
"""2 added ``seen_events``; a version 1 journal (its ids in the meta row ``seen_events``) is
upgraded in place when opened."""
EVENT_IDS_KEPT = 100_000
"""The most recent external event ids kept for de-duplication (in memory and in the journal):
hours of e-seal and single-window traffic, far beyond any feed's retry window."""


@dataclass
class JournalState:
    """What :meth:`Journal.load` returns."""

    meta: dict[str, Any] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_events: list[str] = field(default_factory=list)  # oldest first, at most EVENT_IDS_KEPT


class Journal:
    """Append-and-upsert journal. Not thread-safe: the core's loop is its only user."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen_since_prune = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise FleetError(f"journal {self.path}: cannot open ({exc})") from None
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] == "1":  # the seen_events table was just created; the old ids stay in meta
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise FleetError(f"journal {self.path}: schema version {row[0]}, this program writes {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def commit(
        self,
        *,
        containers: Iterable[dict[str, Any]] = (),
        jobs: Iterable[dict[str, Any]] = (),
        orders: Iterable[tuple[str, str, int, float, dict[str, Any]]] = (),
        events: Iterable[tuple[float, str, dict[str, Any]]] = (),
        seen_events: Iterable[str] = (),
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Write one tick's changes atomically; ``seen_events`` are the external event ids
        taken in since the last commit (the oldest beyond :data:`EVENT_IDS_KEPT` are dropped)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO containers VALUES (?, ?)", ((c["id"], json.dumps(c)) for c in containers))
            db.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?)", ((j["id"], json.dumps(j)) for j in jobs))
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?)",
                ((v, oid, uid, t, json.dumps(doc)) for v, oid, uid, t, doc in orders),
            )
            db.executemany("INSERT INTO events (t_s, kind, doc) VALUES (?, ?, ?)", ((t, k, json.dumps(d)) for t, k, d in events))
            seen = list(seen_events)
            db.executemany("INSERT OR IGNORE INTO seen_events (id) VALUES (?)", ((e,) for e in seen))
            self._seen_since_prune += len(seen)
            if self._seen_since_prune >= EVENT_IDS_KEPT:
                # Now and then, not every tick: the table holds at most about two bounds.
                db.execute("DELETE FROM seen_events WHERE seq <= (SELECT MAX(seq) FROM seen_events) - ?", (EVENT_IDS_KEPT,))
            if meta:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", ((k, json.dumps(v)) for k, v in meta.items()))
            db.execute("COMMIT")
            if self._seen_since_prune >= EVENT_IDS_KEPT:
                self._seen_since_prune = 0
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def load(self) -> JournalState:
        state = JournalState()
        for key, value in self._db.execute("SELECT key, value FROM meta WHERE key != 'schema_version'"):
            state.meta[key] = json.loads(value)
        for cid, doc in self._db.execute("SELECT id, doc FROM containers"):
            state.containers[cid] = json.loads(doc)
        for jid, doc in self._db.execute("SELECT id, doc FROM jobs"):
            state.jobs[jid] = json.loads(doc)
        for vehicle, doc in self._db.execute(
            "SELECT vehicle, doc FROM orders o WHERE rowid = (SELECT rowid FROM orders p WHERE p.vehicle = o.vehicle "
            "ORDER BY t_s DESC, order_update_id DESC LIMIT 1)"
        ):
            state.last_orders[vehicle] = json.loads(doc)
        recent = [e for (e,) in self._db.execute("SELECT id FROM seen_events ORDER BY seq DESC LIMIT ?", (EVENT_IDS_KEPT,))]
        older = state.meta.pop("seen_events", [])  # a version 1 journal's ids
        state.seen_events = (older + recent[::-1])[-EVENT_IDS_KEPT:]
        return state

    def events(self, kind: str | None = None) -> list[tuple[int, float, str, dict[str, Any]]]:
        sql = "SELECT seq, t_s, kind, doc FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY seq"
        return [(s, t, k, json.loads(d)) for s, t, k, d in self._db.execute(sql, (kind,) if kind else ())]
