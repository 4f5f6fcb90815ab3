from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.cli import main
from fleet.security import Role, load_allow_list, load_client_security, load_server_security


def test_generate_writes_pairs_and_allow_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_dir = tmp_path / "keys"
    code = main(["keys", "generate", str(key_dir), "--vehicle", "igv-001", "igv-002", "--operator", "desk",
                 "--viewer", "wall"])
    assert code == 0
    out = capsys.readouterr().out
    assert "2 vehicle(s), 2 control client(s)" in out
    for name in ("core", "igv-001", "igv-002", "desk", "wall"):
        assert (key_dir / f"{name}.key").is_file()
        assert (key_dir / f"{name}.key_secret").stat().st_mode & 0o777 == 0o600
    server = load_server_security(key_dir)
    assert sorted(server.allow.vehicles.values()) == ["igv-001", "igv-002"]
    assert server.allow.role_of("desk") is Role.OPERATOR and server.allow.role_of("wall") is Role.VIEWER
    vehicle = load_client_security(key_dir, "igv-001")
    assert vehicle.server_public == server.keys.public
    # A second run adds to the allow-list and keeps the core key.
    assert main(["keys", "generate", str(key_dir), "--vehicle", "igv-003"]) == 0
    assert load_server_security(key_dir).keys == server.keys
    assert sorted(json.loads((key_dir / "allow.json").read_text())["vehicles"]) == ["igv-001", "igv-002", "igv-003"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vehicle", "igv-001"], "igv-001.key: exists (pass --force to replace it)"),
        (["--vehicle", "igv-009", "igv/bad"], "key name 'igv/bad' must match"),
        (["--vehicle", "igv-009", "--viewer", "igv-009"], "name given twice: igv-009"),
        (["--operator", "core"], "'core' is the core's own key name"),
    ],
)
def test_bad_requests_are_one_line_errors_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["keys", "generate", str(tmp_path), "--vehicle", "igv-001"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["keys", "generate", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("igv keys: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_force_replaces_a_key(tmp_path: Path) -> None:
    assert main(["keys", "generate", str(tmp_path), "--vehicle", "igv-001"]) == 0
    old = load_allow_list(tmp_path / "allow.json").vehicles
    assert main(["keys", "generate", str(tmp_path), "--vehicle", "igv-001", "--force"]) == 0
    new = load_allow_list(tmp_path / "allow.json").vehicles
    assert list(old.values()) == list(new.values()) == ["igv-001"] and old.keys() != new.keys()


def test_action_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["keys"])
    assert info.value.code == 2
    assert "required: ACTION" in capsys.readouterr().err
