"""Fixtures of the bench tests: synthetic records on the default map, a quiet console."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench.synthetic import SyntheticOptions, synthetic_record


@pytest.fixture
def console() -> Console:
    """A console writing to a buffer, wide enough that tables never wrap."""
    return Console(file=io.StringIO(), width=200, force_terminal=False)


@pytest.fixture(scope="session")
def clean_record(default_map):
    return synthetic_record(default_map, SyntheticOptions(seed=1, n_vehicles=4, duration_s=240.0))
