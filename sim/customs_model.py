"""The customs authority as the simulated single window sees it: what it decides, when.

Each container gets a first declaration some minutes after it enters: ``hold`` (sent to
the inspection hold), ``scan`` (risk-flagged: through a scanner bay; a clean scan
releases it, decided by the core), ``lab`` (agricultural sample; only perishables) or
``released``. A lab sample's result comes 2-4 h after sampling (``site.md``: sampling
about 20 min, rapid results in 2-4 h) as ``released`` or, rarely, ``hold``. An inspection
ends with ``released``. A few e-seals report a tamper while the container is in the
system (the core then sends it to the hold).

Shares default to those of the bench scenarios (estimates): scan 10 %, lab 5 % of all
containers (drawn among perishables), hold 1 %, tamper 0.5 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maps.errors import InputError


@dataclass(frozen=True)
class CustomsConfig:
    """Decision shares and delays (seconds; ranges are uniform ``(low, high)``)."""

    scan_share: float = 0.10
    lab_share: float = 0.05
    hold_share: float = 0.01
    tamper_share: float = 0.005
    decision_delay_s: tuple[float, float] = (300.0, 1800.0)
    lab_sampling_s: tuple[float, float] = (900.0, 1500.0)
    lab_result_delay_s: tuple[float, float] = (7200.0, 14400.0)
    lab_fail_share: float = 0.02
    inspection_s: tuple[float, float] = (1800.0, 5400.0)
    tamper_after_s: tuple[float, float] = (1800.0, 10800.0)

    def __post_init__(self) -> None:
        shares = (self.scan_share, self.lab_share, self.hold_share, self.tamper_share, self.lab_fail_share)
        if not all(0 <= s <= 1 for s in shares) or self.scan_share + self.hold_share > 1:
            raise InputError("customs shares must be in [0, 1] and scan + hold must not exceed 1")
        for name in ("decision_delay_s", "lab_sampling_s", "lab_result_delay_s", "inspection_s", "tamper_after_s"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise InputError(f"customs {name} must be a range 0 <= low <= high, got {(low, high)}")


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A draw from ``[low, high]`` (``low`` when the range is empty)."""
    low, high = bounds
    return low if high <= low else float(rng.uniform(low, high))


def first_declaration(perishable: bool, perishable_share: float, cfg: CustomsConfig, rng: np.random.Generator) -> str:
    """The single window's first decision on a container.

    ``lab`` applies to perishables only, with probability ``lab_share / perishable_share``
    so that ``lab_share`` of all containers go to the lab.
    """
    u = float(rng.random())
    if u < cfg.hold_share:
        return "hold"
    if u < cfg.hold_share + cfg.scan_share:
        return "scan"
    if perishable and perishable_share > 0:
        if float(rng.random()) < min(1.0, cfg.lab_share / perishable_share):
            return "lab"
    return "released"


def lab_result(cfg: CustomsConfig, rng: np.random.Generator) -> str:
    return "hold" if float(rng.random()) < cfg.lab_fail_share else "released"
