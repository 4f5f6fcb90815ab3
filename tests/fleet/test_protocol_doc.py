"""docs/protocol.md is the firmware teams' contract: its examples and constants must be the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fleet import examples, link
from fleet.codec import MESSAGE_CLASSES, Header, decode, encode_header, encode_payload
from fleet.validation import to_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("msg_type", sorted(MESSAGE_CLASSES))
def test_every_message_has_its_worked_example(text: str, msg_type: str) -> None:
    match = re.search(rf"<!-- example: {re.escape(msg_type)} -->\n```json\n(.*?)\n```", text, re.S)
    assert match, f"no worked example for {msg_type}"
    shown = json.loads(match.group(1))
    expected = to_json(examples.ALL[msg_type]())
    assert shown == expected, f"docs/protocol.md example of {msg_type} differs from fleet/examples.py"


def test_timing_table_matches_the_code(text: str) -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([0-9.]+)(?: s)? \|", text, re.M)
    assert len(rows) == 8
    for name, value in rows:
        assert float(value) == getattr(link, name), name


def test_byte_examples_are_exact(text: str) -> None:
    heartbeat = encode_header(Header("heartbeat", 2216157713, 18, 0, 5)).hex(" ")
    assert heartbeat in text
    assert encode_payload(examples.ack()).hex(" ") in text


def test_header_examples_decode(text: str) -> None:
    headers = re.findall(r'Header: `\["igv/1", ([^`]*)\]`', text)
    assert len(headers) == len(MESSAGE_CLASSES)
    for items in headers:
        msg_type, *numbers = [part.strip().strip('"') for part in items.split(",")]
        header = Header(msg_type, *map(int, numbers))
        decoded, message = decode([encode_header(header), encode_payload(examples.ALL[msg_type]())])
        assert decoded == header and message == examples.ALL[msg_type]()
