from __future__ import annotations

import sqlite3

import pytest

from fleet.core import journal as journal_module
from fleet.core.journal import Journal
from fleet.core.model import Container, Direction, Job
from fleet.errors import FleetError


def test_commit_and_load_round_trip(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    c = Container(id="C1", direction=Direction.EXPORT, deadline_s=10.0)
    job = Job(id="J-1", container="C1", from_station="a", to_station="b")
    j.commit(containers=[c.to_dict()], jobs=[job.to_dict()], events=[(1.0, "x", {"a": 1})], meta={"counters": {"job": 1}},
             orders=[("igv-001", "o1", 0, 1.0, {"cells": [1, 2]})])
    j.close()
    j = Journal(tmp_path / "j.sqlite")
    state = j.load()
    assert Container.from_dict(state.containers["C1"]) == c
    assert Job.from_dict(state.jobs["J-1"]) == job
    assert state.meta["counters"] == {"job": 1}
    assert state.last_orders["igv-001"] == {"cells": [1, 2]}
    assert j.events("x")[0][3] == {"a": 1}
    mode = sqlite3.connect(tmp_path / "j.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_failed_commit_changes_nothing(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    with pytest.raises(TypeError):
        j.commit(jobs=[{"id": "J-1", "bad": object()}])
    assert j.load().jobs == {}


def test_not_a_database_is_one_line_error(tmp_path):
    p = tmp_path / "j.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FleetError, match="cannot open"):
        Journal(p)


def test_seen_event_ids_come_back_most_recent_first_kept_regression_sorted_ids_kept_instead_of_recent(tmp_path, monkeypatch):
    # The ids were kept as sorted(seen)[-5000:]: the 5,000 that sort last, not the 5,000
    # most recent, and written whole every tick. An id sorting low and seen last must survive.
    monkeypatch.setattr(journal_module, "EVENT_IDS_KEPT", 3)
    j = Journal(tmp_path / "j.sqlite")
    j.commit(seen_events=["z-1", "y-2"])
    j.commit(seen_events=["x-3", "y-2"])  # a repeat is stored once
    j.commit(seen_events=["a-4"])
    j.close()
    assert Journal(tmp_path / "j.sqlite").load().seen_events == ["y-2", "x-3", "a-4"]


def test_a_version_1_journal_is_upgraded_with_its_seen_event_ids(tmp_path):
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema_version', '1');"
                     "INSERT INTO meta VALUES ('seen_events', '[\"old-1\", \"old-2\"]');")
    db.close()
    j = Journal(tmp_path / "j.sqlite")
    j.commit(seen_events=["new-1"])
    state = j.load()
    assert state.seen_events == ["old-1", "old-2", "new-1"]
    assert "seen_events" not in state.meta
    assert j._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == journal_module.SCHEMA_VERSION


def test_the_seen_events_table_is_pruned_to_about_two_bounds(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "EVENT_IDS_KEPT", 10)
    j = Journal(tmp_path / "j.sqlite")
    for k in range(100):
        j.commit(seen_events=[f"e{k}"])
    assert j._db.execute("SELECT COUNT(*) FROM seen_events").fetchone()[0] <= 20
    assert j.load().seen_events == [f"e{k}" for k in range(90, 100)]
