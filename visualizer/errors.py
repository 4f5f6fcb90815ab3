"""Errors of the visualizer package (rooted at :class:`maps.errors.IgvError`)."""

from __future__ import annotations

from maps.errors import IgvError, InputError


class VisualizerError(IgvError):
    """The control room cannot do what was asked."""


class TelemetryError(InputError):
    """A snapshot, patch or recording breaks docs/telemetry.md."""
