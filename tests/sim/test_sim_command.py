"""``igv sim``: bad input gives one line and exit 2; a short run talks to a core."""

from __future__ import annotations

import threading
import time

import pytest

from fleet.cli import main
from fleet.messages import State
from fleet.transport import CoreTransport, TransportConfig

LOOPBACK = "tcp://127.0.0.1:*"


@pytest.mark.parametrize("argv,needle", [
    (["--vehicles", "0"], "--vehicles must be at least 1"),
    (["--speed", "0"], "--speed must be positive"),
    (["--duration-s", "-3"], "--duration-s must be positive"),
    (["--map", "atlantis"], "no map 'atlantis'"),
    (["--vehicles", "500"], "fewer than 500 vehicles"),
])
def test_bad_arguments_are_one_line_errors(capsys, argv, needle):
    assert main(["sim", *argv, "--duration-s", "0.1"] if "--duration-s" not in argv else ["sim", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and err.startswith("igv sim: error:")


def test_bad_fault_files_are_one_line_errors(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["sim", "--faults", str(missing), "--duration-s", "0.1"]) == 2
    assert "nope.toml" in capsys.readouterr().err
    bad = tmp_path / "faults.toml"
    bad.write_text('[[faults]]\nkind = "stall"\nvehicle = "igv-077"\nstart_s = 5\n', encoding="utf-8")
    assert main(["sim", "--vehicles", "2", "--faults", str(bad), "--duration-s", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "faults[0].vehicle: unknown vehicle 'igv-077'" in err and err.count("\n") == 1
    broken = tmp_path / "faults.json"
    broken.write_text("[{", encoding="utf-8")
    assert main(["sim", "--faults", str(broken), "--duration-s", "0.1"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_a_short_run_reports_to_a_core(capsys, tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text('[[faults]]\nkind = "slow"\nvehicle = "igv-002"\nstart_s = 0\nspeed_factor = 0.5\n', encoding="utf-8")
    core = CoreTransport(TransportConfig(vehicle_endpoint=LOOPBACK, telemetry_endpoint=LOOPBACK, control_endpoint=LOOPBACK))
    endpoint = core.endpoints.vehicles
    states: dict[str, list[State]] = {}
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for inbound in core.poll(5).inbound:
                if isinstance(inbound.message, State):
                    states.setdefault(inbound.serial, []).append(inbound.message)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        code = main(["sim", "--connect", endpoint, "--vehicles", "3", "--duration-s", "1.0", "--speed", "2",
                     "--faults", str(faults), "--seed", "4"])
        assert code == 0 and time.monotonic() - started < 5.0
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join(2.0)
        core.close()
    out = capsys.readouterr().out
    assert "igv sim: 3 vehicles on bac_luan_2" in out and "3/3 vehicles heard the core" in out
    assert sorted(states) == ["igv-001", "igv-002", "igv-003"]
    assert any(e.error_type == "reducedSpeed" for e in states["igv-002"][-1].errors)
