"""``igv bench`` through the real CLI dispatcher, with a fake runner module."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from bench.synthetic import synthetic_run
from fleet.cli import main


@pytest.fixture
def fake_runner(monkeypatch):
    module = types.ModuleType("bench.runner")
    module.run_scenario = synthetic_run
    monkeypatch.setitem(sys.modules, "bench.runner", module)
    return module


def _one_line_error(capsys, argv, expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("igv bench: error: ") and expected in err, err


def test_runner_missing_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench.runner", None)  # import fails like a missing module
    _one_line_error(capsys, ["bench", "smoke"], "the simulation runner is not available")


def test_bench_runs_a_scenario(fake_runner, tmp_path, capsys):
    assert main(["bench", "smoke", "--duration-s", "45", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "smoke" / "report.json").read_text())
    assert report["sim_duration_s"] == 45.0 and (tmp_path / "smoke" / "record.npz").is_file()
    assert "bench summary" in capsys.readouterr().out


def test_bench_start_hour_shifts_the_demand_and_names_the_folder(monkeypatch, tmp_path):
    seen = []

    def run(scenario, progress):
        seen.append(scenario)
        return synthetic_run(scenario, progress)

    monkeypatch.setitem(sys.modules, "bench.runner", types.SimpleNamespace(run_scenario=run))
    assert main(["bench", "smoke", "--start-hour", "7", "--duration-s", "30", "--out", str(tmp_path), "--no-record"]) == 0
    (scenario,) = seen
    assert scenario.demand.start_hour == 7 and scenario.duration_s == 30.0
    assert json.loads((tmp_path / "smoke_from_07h" / "report.json").read_text())["sim_duration_s"] == 30.0


def test_bench_exits_1_on_an_unsafe_run(monkeypatch, tmp_path, default_map):
    from bench.synthetic import SyntheticOptions, synthetic_record

    def colliding(scenario, progress):
        return synthetic_record(default_map, SyntheticOptions(scenario=scenario.name, n_vehicles=2, duration_s=30.0, plant_collision=True))

    monkeypatch.setitem(sys.modules, "bench.runner", types.SimpleNamespace(run_scenario=colliding))
    assert main(["bench", "smoke", "--out", str(tmp_path), "--no-record"]) == 1
    assert json.loads((tmp_path / "smoke" / "report.json").read_text())["collisions_independent"] == 1


def test_bench_compare(fake_runner, tmp_path, capsys):
    for seed_dir in ("a", "b"):
        assert main(["bench", "smoke", "--duration-s", "30", "--out", str(tmp_path / seed_dir), "--no-record"]) == 0
    capsys.readouterr()
    assert main(["bench", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "containers_crossed" in capsys.readouterr().out


def test_bench_fleet_size(fake_runner, tmp_path):
    rc = main(["bench", "fleet-size", "smoke", "--vehicles", "2-3", "--duration-s", "30", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "smoke_fleet" / "fleet_size.json").read_text())
    assert rc == (0 if doc["status"] == "found" else 1)
    assert [r["vehicles"] for r in doc["runs"]] == [2, 3] and (tmp_path / "smoke_fleet" / "fleet_size.png").is_file()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["bench", "nope"], "no scenario 'nope'"),
        (["bench", "compare", "a"], "compare needs two result folders"),
        (["bench", "sweep", "smoke"], "sweep needs --seeds"),
        (["bench", "sweep", "smoke", "--seeds", "5-1"], "--seeds: empty range '5-1'"),
        (["bench", "fleet-size", "smoke", "--vehicles", "ten"], "--vehicles: 'ten' is not an integer"),
        (["bench", "fleet-size", "smoke", "peak_2030", "--vehicles", "2"], "fleet-size needs one scenario"),
        (["bench", "smoke", "--seeds", "1-4"], "--seeds does not apply to 'a scenario run'"),
        (["bench", "compare", "a", "b", "--duration-s", "5"], "--duration-s does not apply to 'compare'"),
        (["bench", "smoke", "--reuse"], "--reuse does not apply to 'a scenario run'"),
        (["bench", "sweep", "smoke", "--seeds", "1-2", "--reuse"], "--reuse does not apply to 'sweep'"),
        (["bench", "smoke", "--duration-s", "-5"], "duration_s: must be a positive number"),
        (["bench", "smoke", "--start-hour", "24"], "start_hour: must be a whole hour 0..23, got 24"),
        (["bench", "compare", "a", "b", "--start-hour", "7"], "--start-hour does not apply to 'compare'"),
    ],
)
def test_bad_arguments_are_one_line(fake_runner, capsys, argv, expected):
    _one_line_error(capsys, argv, expected)


def test_a_start_hour_that_is_no_integer_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "smoke", "--start-hour", "7.5"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "argument --start-hour: invalid int value: '7.5'" in err, err


def test_bad_scenario_file_is_one_line(fake_runner, tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text('map = "bac_luan_2"\nseed = 1\nduration_s = 60\nvehicles = -3\n[demand]\nexport_per_day = 1\nimport_per_day = 1\n')
    _one_line_error(capsys, ["bench", str(path)], f"{path}: vehicles: must be >= 1")


def test_compare_of_missing_folders_is_one_line(capsys, tmp_path):
    _one_line_error(capsys, ["bench", "compare", str(tmp_path / "x"), str(tmp_path / "y")], "no such folder")


def test_mapf_is_delegated(monkeypatch):
    seen = []
    monkeypatch.setitem(sys.modules, "bench.mapf", types.SimpleNamespace(main=lambda argv: seen.append(argv) or 3))
    assert main(["bench", "mapf", "--", "--agents", "10"]) == 3
    assert seen == [["--agents", "10"]]


def test_mapf_missing_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench.mapf", None)
    _one_line_error(capsys, ["bench", "mapf"], "bench.mapf) are not available")


MAPF_DATA = Path(__file__).resolve().parents[3] / "shared" / "mapf-benchmark"


@pytest.mark.skipif(not MAPF_DATA.is_dir(), reason="shared/mapf-benchmark not beside the repo")
def test_mapf_runs_write_a_report_like_the_scenarios(tmp_path):
    out = tmp_path / "mapf" / "mapf.csv"
    argv = ["bench", "mapf", "--", "--maps", "random-32-32-20", "--scenarios", "random-1", "--agents", "20",
            "--time-limit-s", "1", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out.parent / "report.json").read_text())
    assert report["scenario"] == "mapf" and report["runs"] == 1 and report["valid"] == 1
    (group,) = report["by_map_and_agents"]
    assert group["map"] == "random-32-32-20" and group["agents"] == 20 and group["final_over_lb_mean"] >= 1.0
    assert out.is_file() and out.with_suffix(".png").is_file()
