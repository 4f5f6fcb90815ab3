"""``igv yard relocate FILE [--time-limit-s T]``: output format, optimality, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from fleet.cli import main
from planner.allocation_check import brute_force_relocations, relocation_violations
from planner.commands.yard import parse_relocation_instance
from planner.relocation import BrpMove

LINE = re.compile(r"^(relocate \d+ \d+ \d+|retrieve \d+ \d+)$")


def run(tmp_path: Path, text: str, *extra: str, capsys) -> tuple[int, str, str]:
    path = tmp_path / "instance.txt"
    path.write_text(text)
    code = main(["yard", "relocate", str(path), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def parse_moves(out: str) -> tuple[list[BrpMove], int]:
    lines = out.strip().splitlines()
    assert lines[-1].startswith("relocations=")
    moves = []
    for line in lines[:-1]:
        assert LINE.match(line), line
        words = line.split()
        if words[0] == "relocate":
            moves.append(BrpMove("relocate", int(words[1]), int(words[2]) - 1, int(words[3]) - 1))
        else:
            moves.append(BrpMove("retrieve", int(words[1]), int(words[2]) - 1))
    return moves, int(lines[-1].split("=")[1])


def test_hand_solved_instance_prints_the_optimal_plan(tmp_path, capsys) -> None:
    # Stack 1: 1 under 3; stack 2: 2; stack 3 empty. One relocation: 3 to the empty stack.
    code, out, err = run(tmp_path, "3 3 3\n2 1 3\n1 2\n0\n", capsys=capsys)
    assert code == 0, err
    assert out == "relocate 3 1 3\nretrieve 1 1\nretrieve 2 2\nretrieve 3 3\nrelocations=1\n"


def test_random_instances_are_optimal_and_valid(tmp_path, capsys) -> None:
    rng = np.random.default_rng(5)
    for _ in range(15):
        s, h = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        n = int(rng.integers(1, s * (h - 1) + 1))
        stacks: list[list[int]] = [[] for _ in range(s)]
        for label in rng.permutation(n) + 1:
            stacks[int(rng.choice([i for i in range(s) if len(stacks[i]) < h]))].append(int(label))
        text = f"{s} {h} {n}\n" + "".join(f"{len(st)} {' '.join(map(str, st))}\n" for st in stacks)
        code, out, err = run(tmp_path, text, "--time-limit-s", "5", capsys=capsys)
        inst = parse_relocation_instance(text)
        truth = brute_force_relocations(inst)
        if truth is None:
            assert code == 1 and "infeasible" in err
            continue
        assert code == 0, err
        moves, reported = parse_moves(out)
        assert relocation_violations(inst, moves) == (reported, [])
        assert reported == truth


def test_comments_and_blank_lines_are_ignored(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, "# two stacks\n2 2 2\n\n1 1   # the first\n1 2\n", capsys=capsys)
    assert code == 0
    assert out.endswith("relocations=0\n")


def test_infeasible_instance_exits_1_with_the_reason(tmp_path, capsys) -> None:
    code, out, err = run(tmp_path, "1 3 2\n2 1 2\n", capsys=capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("igv yard relocate: infeasible:") and err.count("\n") == 1


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "empty file"),
        ("2 2\n1 1\n1 2\n", ":1: first line must be 'S H N'"),
        ("2 2 2\n1 1\n", "2 stacks announced but 1"),
        ("2 2 2\n2 1\n1 2\n", ":2: stack 1 announces 2 containers but lists 1"),
        ("2 2 2\n1 1\n1 1\n", ":3: container 1 appears twice"),
        ("2 2 3\n3 1 2 3\n0\n", ":2: stack 1 holds 3 containers, above H=2"),
        ("2 2 2\n1 1\n1 x\n", ":3: expected integers"),
        ("2 2 3\n1 1\n1 2\n", "container 3 missing"),
        ("2 2 2\n1 1\n1 5\n", ":3: container 5 outside 1..N=2"),
        ("0 2 0\n", "need S >= 1"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line(tmp_path, capsys, text, fragment) -> None:
    code, out, err = run(tmp_path, text, capsys=capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("igv yard: error: ")
    assert fragment in err
    assert "instance.txt" in err


def test_missing_file_and_bad_time_limit(tmp_path, capsys) -> None:
    assert main(["yard", "relocate", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt" in capsys.readouterr().err
    code, _, err = run(tmp_path, "1 1 1\n1 1\n", "--time-limit-s", "0", capsys=capsys)
    assert code == 2 and "--time-limit-s must be positive" in err
    with pytest.raises(SystemExit) as exc:
        main(["yard", "relocate", str(tmp_path / "instance.txt"), "--time-limit-s", "soon"])
    assert exc.value.code == 2
