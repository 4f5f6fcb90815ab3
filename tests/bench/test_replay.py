"""Deterministic replay (issue #10): the same scenario and seed give the same core event log,
in this process and in fresh processes with different string-hash seeds."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from bench.replay import main as replay_main
from bench.replay import replay as replay_and_dump
from bench.runner import STEP_S, Run
from bench.scenario import load_scenario

DURATION_S = 1200.0
"""Long enough on ``smoke`` for containers to be picked, carried and dropped (first drop ~850 s)."""

RUN_IN_CHILD = """
import json, sys
from bench.runner import STEP_S, Run
from bench.scenario import load_scenario
run = Run(load_scenario("smoke").with_duration({duration}).with_seed({seed}))
try:
    for _ in range(round({duration} / STEP_S)):
        run.step()
    sys.stdout.write(json.dumps(run.core.event_log))
finally:
    run.close()
"""


def event_log(seed: int, duration_s: float = DURATION_S) -> str:
    """The core's event log of a lockstep ``smoke`` run, as JSON."""
    run = Run(load_scenario("smoke").with_duration(duration_s).with_seed(seed))
    try:
        for _ in range(round(duration_s / STEP_S)):
            run.step()
        return json.dumps(run.core.event_log)
    finally:
        run.close()


def child_event_logs(seed: int, hash_seeds: tuple[str, ...]) -> list[str]:
    """The same run in one fresh interpreter per ``PYTHONHASHSEED``, run side by side."""
    code = RUN_IN_CHILD.format(duration=DURATION_S, seed=seed)
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONHASHSEED": h}) for h in hash_seeds]
    logs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-2000:]
        logs.append(out)
    return logs


@pytest.fixture(scope="module")
def reference() -> str:
    return event_log(seed=1)


def test_the_event_log_is_not_trivial(reference):
    kinds = Counter(kind for _, kind, _ in json.loads(reference))
    assert kinds["leg_released"] >= 5
    assert kinds["job_done"] >= 1  # a container was dropped where it was going
    assert kinds["job_assigned"] >= 3 and kinds["arrival"] >= 5


def test_same_seed_same_event_log_in_one_process(reference):
    assert event_log(seed=1) == reference


def test_same_seed_same_event_log_across_processes_and_hash_seeds(reference):
    first, second = child_event_logs(seed=1, hash_seeds=("1", "4242"))
    assert first == reference
    assert second == reference


def test_another_seed_gives_another_event_log(reference):
    other = event_log(seed=2, duration_s=300.0)
    prefix = [e for e in json.loads(reference) if e[0] <= 300.0]
    assert json.loads(other) != prefix


# bench.replay: the core's view of a lockstep run at given times (diagnosing a jam)


def test_replay_prints_every_vehicle_at_every_time_asked():
    out = io.StringIO()
    replay_and_dump("smoke", [30.0, 10.0], out)
    text = out.getvalue()
    vehicles = load_scenario("smoke").vehicles
    assert text.count("===== t=") == 2 and "===== t=10 " in text and "===== t=30 " in text
    assert sum(line.startswith("igv-") for line in text.splitlines()) == 2 * vehicles
    assert text.count("jobs done:") == 2


def test_replay_refuses_bad_input_in_one_line(capsys):
    assert replay_main(["no_such_scenario", "--at", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no_such_scenario" in err and "\n" not in err
    with pytest.raises(SystemExit) as exc:
        replay_main(["smoke", "--at", "ten"])
    assert exc.value.code == 2
    assert "--at takes simulated seconds" in capsys.readouterr().err

