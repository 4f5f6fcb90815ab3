"""Errors of the planner package (all rooted at :class:`maps.errors.IgvError`)."""

from __future__ import annotations

from maps.errors import IgvError, InputError


class PlanError(IgvError):
    """A planning request cannot be served as asked."""


class ProblemError(InputError):
    """A planning problem is malformed: unknown station, start in a no-go zone, two
    vehicles on one start, and the like."""


class InvalidPlanError(IgvError):
    """The independent validator found a plan breaking a rule (names vehicle, time, rule)."""


class PlanFileError(InputError):
    """A plan file (design section 7 JSON) cannot be read."""
