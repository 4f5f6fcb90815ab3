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
"""

SCHEMA_VERSION = "1"


@dataclass
class JournalState:
    """What :meth:`Journal.load` returns."""

    meta: dict[str, Any] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_orders: dict[str, dict[str, Any]] = field(default_factory=dict)


class Journal:
    """Append-and-upsert journal. Not thread-safe: the core's loop is its only user."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
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
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Write one tick's changes atomically."""
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
            if meta:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", ((k, json.dumps(v)) for k, v in meta.items()))
            db.execute("COMMIT")
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
        return state

    def events(self, kind: str | None = None) -> list[tuple[int, float, str, dict[str, Any]]]:
        sql = "SELECT seq, t_s, kind, doc FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY seq"
        return [(s, t, k, json.loads(d)) for s, t, k, d in self._db.execute(sql, (kind,) if kind else ())]
