"""The one error hierarchy of the project.

It lives in ``maps`` because ``maps`` is the root of the import graph: every other
package may import it, and it imports none of them. Each package subclasses
:class:`IgvError` for its own failures, so a boundary (CLI, socket, file loader)
can catch one type and turn it into a one-line message.
"""

from __future__ import annotations


class IgvError(Exception):
    """Root of every error this project raises on purpose.

    The message must be one line naming what is wrong and where.
    """


class InputError(IgvError):
    """Bad input at a boundary: a file, an argument, a message."""


class MapError(InputError):
    """A track map cannot be read or built."""


class MapValidationError(MapError):
    """A track map was read but breaks one or more rules.

    Attributes
    ----------
    problems : tuple of str
        One line per problem, each naming the feature id and the rule.
    """

    def __init__(self, source: str, problems: list[str] | tuple[str, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else "no details"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


class ScenarioError(InputError):
    """A MovingAI scenario or a bench scenario file cannot be read."""
