"""Telemetry patches between two state documents (docs/telemetry.md).

The core builds the whole state document each time it publishes and sends only what
changed: per-entity sections carry the changed entities whole (``None`` removes one),
whole-value sections are sent when they differ, and alerts are appended.
"""

from __future__ import annotations

import copy
from typing import Any

ENTITY_SECTIONS = ("vehicles", "containers", "yard", "queues")
WHOLE_SECTIONS = ("clock", "blocked", "kpi", "map")
ALERTS_KEPT = 200


def diff_state(prev: dict[str, Any] | None, cur: dict[str, Any]) -> dict[str, Any]:
    """The ``changes`` of a patch that turns ``prev`` into ``cur`` (empty when equal)."""
    prev = prev or {}
    changes: dict[str, Any] = {}
    for section in ENTITY_SECTIONS:
        old = prev.get(section, {})
        new = cur.get(section, {})
        delta = {key: value for key, value in new.items() if old.get(key) != value}
        delta.update({key: None for key in old if key not in new})
        if delta:
            changes[section] = delta
    for section in WHOLE_SECTIONS:
        if section in cur and cur[section] != prev.get(section):
            changes[section] = cur[section]
    old_ids = {a["id"] for a in prev.get("alerts", [])}
    added = [a for a in cur.get("alerts", []) if a["id"] not in old_ids]
    if added:
        changes["alerts"] = added
    return changes


def apply_changes(state: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A new state document: ``state`` with ``changes`` applied (``state`` is not modified)."""
    out = copy.deepcopy(state)
    for section in ENTITY_SECTIONS:
        if section in changes:
            target = out.setdefault(section, {})
            for key, value in changes[section].items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = copy.deepcopy(value)
    for section in WHOLE_SECTIONS:
        if section in changes:
            out[section] = copy.deepcopy(changes[section])
    if "alerts" in changes:
        out["alerts"] = (out.get("alerts", []) + copy.deepcopy(changes["alerts"]))[-ALERTS_KEPT:]
    return out
