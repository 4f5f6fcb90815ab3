from __future__ import annotations

import sqlite3

import pytest

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
