"""Errors of the fleet package (all rooted at :class:`maps.errors.IgvError`)."""

from __future__ import annotations

from maps.errors import IgvError, InputError


class FleetError(IgvError):
    """The core cannot do what was asked."""


class ProtocolError(InputError):
    """A wire message is malformed or breaks the protocol."""


class SecurityError(FleetError):
    """Keys are missing or wrong, or an endpoint would be exposed insecurely."""
