from __future__ import annotations

from fleet.cli import main
from tests.conftest import loop_builder


def test_validate_default_map_prints_summary(capsys):
    assert main(["map", "validate", "bac_luan_2"]) == 0
    out = capsys.readouterr().out
    for word in ("nodes", "lanes", "lane km", "cells", "conflict pairs", "stations by kind", "zones by kind"):
        assert word in out


def test_validate_broken_map_lists_problems(tmp_path, capsys):
    import json

    data = loop_builder().geojson()
    for f in data["features"]:
        if f["id"] == "cd":
            f["properties"]["speed_limit_mps"] = -1
        if f["id"] == "s-c":
            f["properties"]["node"] = "zz"
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(data))
    assert main(["map", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "feature cd: speed_limit_mps must be positive" in err
    assert "feature s-c: station is linked to 'zz'" in err
    assert "Traceback" not in err


def test_unknown_map_is_one_line(capsys):
    assert main(["map", "validate", "no_such_map"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no_such_map" in err


def test_wrong_argument_is_one_line(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["map", "show", "bac_luan_2"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--png" in err


def test_show_writes_png(tmp_path, capsys):
    out = tmp_path / "m.png"
    assert main(["map", "show", "bac_luan_2", "--png", str(out), "--dpi", "60"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
