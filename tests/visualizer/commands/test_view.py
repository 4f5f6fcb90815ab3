"""``igv view``: arguments, one-line errors, and short headless runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fleet.cli import main
from visualizer.commands.view import control_endpoint_for
from visualizer.source import RecordedSource


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("igv view: error: ")
    return err


def test_one_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["view"])
    assert exc.value.code == 2
    assert "one of the arguments --connect --replay --demo is required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--demo", "5", "--size", "12x"], "--size must look like 1280x800, got '12x'"),
        (["--demo", "5", "--size", "800x600"], "needs at least 1000x640"),
        (["--demo", "0"], "--demo takes 1 to 2000 vehicles"),
        (["--connect", "ipc:///tmp/igv-telemetry"], "give --control ENDPOINT"),
        (["--connect", "tcp://127.0.0.1:5561", "--keys", "/nonexistent/keys"], "not a directory"),
        (["--replay", "/nonexistent/run.jsonl"], "No such file or directory"),
        (["--demo", "5", "--map", "atlantis"], "no map 'atlantis'"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert message in one_line_error(capsys, ["view", *argv])


def test_control_endpoint_defaults_to_the_next_port() -> None:
    assert control_endpoint_for("tcp://127.0.0.1:5561") == "tcp://127.0.0.1:5562"
    assert control_endpoint_for("tcp://[::1]:7000") == "tcp://[::1]:7001"


def test_a_recording_that_is_not_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "changes": {}}\n')
    assert f"{bad}:1: a recording starts with a snapshot line" in one_line_error(capsys, ["view", "--replay", str(bad)])


def test_demo_runs_headless_and_records_what_it_shows(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    assert main(["view", "--demo", "12", "--max-frames", "40", "--record", str(out)]) == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) == {"seq", "state"} and len(first["state"]["vehicles"]) == 12
    source = RecordedSource(out)  # what was recorded can be replayed
    source.close()
    assert main(["view", "--replay", str(out), "--max-frames", "5"]) == 0


def test_connect_without_a_core_waits_instead_of_failing() -> None:
    port = free_port()
    assert main(["view", "--connect", f"tcp://127.0.0.1:{port}", "--max-frames", "3"]) == 0


def test_keys_pick_the_desk_key_or_ask_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    assert main(["keys", "generate", str(keys), "--operator", "desk-1"]) == 0
    capsys.readouterr()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    assert main(["view", "--connect", endpoint, "--keys", str(keys), "--max-frames", "2"]) == 0
    assert main(["keys", "generate", str(keys), "--viewer", "wall-2"]) == 0
    capsys.readouterr()
    err = one_line_error(capsys, ["view", "--connect", endpoint, "--keys", str(keys)])
    assert "2 client keys (desk-1, wall-2); name one with --as NAME" in err
    assert main(["view", "--connect", endpoint, "--keys", str(keys), "--as", "wall-2", "--max-frames", "2"]) == 0
    err = one_line_error(capsys, ["view", "--connect", endpoint, "--keys", str(keys), "--as", "nobody"])
    assert "nobody.key_secret: key file not found" in err
