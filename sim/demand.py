"""Container demand: who arrives when, in both directions, sized from ``site.md``, seeded.

Figures (``site.md``, "Demand and targets"): the design peak for the bench is 3,500
container crossings a day in both directions together, with peak hours at twice the
daily average (about 290 an hour). Goods are fresh agricultural products (perishable,
with deadlines; reefers) and electronics. Defaults here, estimates where ``site.md`` has
no figure: 1,750 a day each way; 45 % perishable, 30 % reefers (reefers are perishable);
30 % of boxes are 20 ft, the rest 40 ft; a perishable container must be cleared within
6 h of entering (the 4-6 h clearance target). These match the bench scenarios
(``bench/scenarios/*.toml``).

Arrivals are a Poisson process whose rate follows a 24-hour profile (weights with mean 1;
the default peaks at 2.0 in the morning and afternoon). Hour ``h`` of the run is drawn
from its own generator seeded by ``(seed, direction, h)``, so any window of time gives the
same containers however the run is chunked, and changing one direction's rate never
changes the other's. Container numbers are valid ISO 6346 codes (owner code, category
``U``, six digits, check digit) that encode the direction and the hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from maps.errors import InputError

HOURS_PER_DAY = 24
SECONDS_PER_HOUR = 3600.0

DEFAULT_PROFILE: tuple[float, ...] = (
    0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.60, 1.00,  # 00-08: night, morning ramp
    1.50, 2.00, 2.00, 1.60, 1.20, 1.40, 2.00, 2.00,  # 08-16: the two peaks
    1.60, 1.30, 1.00, 0.90, 0.80, 0.60, 0.45, 0.25,  # 16-24: evening
)
"""Hourly weights (estimate): mean 1.0, peak hours at 2.0 x the daily average (site.md)."""

DIRECTIONS = ("export", "import")
_OWNER = {"export": "BL", "import": "DX"}
"""First two letters of the ISO 6346 owner code: Bac Luan (export), Dongxing (import)."""


@dataclass(frozen=True)
class DemandConfig:
    """How many containers arrive and what they are (see the module docstring).

    Attributes
    ----------
    export_per_day, import_per_day : float
        Containers per day entering northbound (by road truck at the e-Gate) and
        southbound (handed over in Dongxing).
    perishable_share, reefer_share : float
        Fractions of all containers; reefers are a subset of perishables.
    perishable_deadline_h : float
        A perishable container's deadline after it arrives.
    share_20ft : float
        Fraction of 20 ft boxes (the rest 40 ft).
    peak_profile : tuple of 24 floats
        Hourly weights, normalised to mean 1 internally.
    start_hour : int
        Hour of the day at simulated time 0.
    """

    export_per_day: float = 1750.0
    import_per_day: float = 1750.0
    perishable_share: float = 0.45
    reefer_share: float = 0.30
    perishable_deadline_h: float = 6.0
    share_20ft: float = 0.30
    peak_profile: tuple[float, ...] = DEFAULT_PROFILE
    start_hour: int = 0

    def __post_init__(self) -> None:
        if self.export_per_day < 0 or self.import_per_day < 0:
            raise InputError("containers per day must not be negative")
        for name in ("perishable_share", "reefer_share", "share_20ft"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(f"{name} must be in [0, 1], got {value}")
        if self.reefer_share > self.perishable_share:
            raise InputError(f"reefer_share {self.reefer_share} exceeds perishable_share {self.perishable_share}: reefers are perishable")
        if len(self.peak_profile) != HOURS_PER_DAY or min(self.peak_profile) < 0 or sum(self.peak_profile) <= 0:
            raise InputError("peak_profile needs 24 non-negative hourly weights, not all zero")
        if self.perishable_deadline_h <= 0 or not 0 <= self.start_hour < HOURS_PER_DAY:
            raise InputError("perishable_deadline_h must be positive and start_hour in 0..23")

    def scaled(self, factor: float) -> DemandConfig:
        """The same demand with both daily volumes times ``factor``."""
        from dataclasses import replace

        if factor < 0:
            raise InputError(f"demand scale must not be negative, got {factor}")
        return replace(self, export_per_day=self.export_per_day * factor, import_per_day=self.import_per_day * factor)


@dataclass(frozen=True, slots=True)
class ContainerArrival:
    """One container entering the system.

    ``t_s`` is when an export's road truck reaches the e-Gate, or when an import is
    handed over in Dongxing; ``deadline_s`` is absolute (None for non-perishables).
    """

    container: str
    direction: str
    t_s: float
    size_ft: int
    reefer: bool
    perishable: bool
    deadline_s: float | None


def iso6346(owner: str, serial: int) -> str:
    """The ISO 6346 container number of a 4-letter owner code (ending in ``U``) and a
    6-digit serial, with its check digit."""
    if len(owner) != 4 or not owner.isalpha() or not owner.isupper() or not 0 <= serial < 1_000_000:
        raise InputError(f"bad ISO 6346 owner {owner!r} or serial {serial}")
    code = f"{owner}{serial:06d}"
    values = []
    for ch in code:
        if ch.isdigit():
            values.append(int(ch))
        else:
            v = ord(ch) - ord("A") + 10
            values.append(v + (v - 1) // 10)  # skip multiples of 11
    total = sum(v * (1 << i) for i, v in enumerate(values))
    return f"{code}{total % 11 % 10}"


class Demand:
    """The seeded arrival process (see the module docstring).

    Parameters
    ----------
    config : DemandConfig
    seed : int
    """

    def __init__(self, config: DemandConfig | None = None, seed: int = 0) -> None:
        self.config = config or DemandConfig()
        self.seed = int(seed)
        profile = np.asarray(self.config.peak_profile, dtype=np.float64)
        self._weights = profile / profile.mean()

    def rate_per_h(self, direction: str, hour_index: int) -> float:
        """Expected arrivals of ``direction`` in hour ``hour_index`` of the run."""
        per_day = self.config.export_per_day if direction == "export" else self.config.import_per_day
        weight = float(self._weights[(self.config.start_hour + hour_index) % HOURS_PER_DAY])
        return per_day / HOURS_PER_DAY * weight

    def hour(self, direction: str, hour_index: int) -> list[ContainerArrival]:
        """The arrivals of ``direction`` in hour ``hour_index`` (deterministic)."""
        if direction not in DIRECTIONS:
            raise InputError(f"direction must be export or import, got {direction!r}")
        if hour_index < 0:
            raise InputError(f"hour index must be >= 0, got {hour_index}")
        cfg = self.config
        rng = np.random.default_rng([self.seed, DIRECTIONS.index(direction), hour_index])
        count = int(rng.poisson(self.rate_per_h(direction, hour_index)))
        if count >= 1000:
            raise InputError(f"{count} {direction} arrivals in one hour exceed the numbering (999 an hour)")
        times = np.sort(rng.uniform(0.0, SECONDS_PER_HOUR, count)) + hour_index * SECONDS_PER_HOUR
        perishable = rng.random(count) < cfg.perishable_share
        reefer_given = cfg.reefer_share / cfg.perishable_share if cfg.perishable_share > 0 else 0.0
        reefer = perishable & (rng.random(count) < reefer_given)
        small = rng.random(count) < cfg.share_20ft
        owner = _OWNER[direction] + chr(ord("A") + (hour_index // 1000) % 26) + "U"
        out = []
        for k in range(count):
            t = round(float(times[k]), 3)
            out.append(ContainerArrival(
                container=iso6346(owner, (hour_index % 1000) * 1000 + k),
                direction=direction,
                t_s=t,
                size_ft=20 if small[k] else 40,
                reefer=bool(reefer[k]),
                perishable=bool(perishable[k]),
                deadline_s=t + cfg.perishable_deadline_h * SECONDS_PER_HOUR if perishable[k] else None,
            ))
        return out

    def arrivals(self, t0_s: float, t1_s: float) -> list[ContainerArrival]:
        """All arrivals in ``[t0_s, t1_s)``, both directions, in time order (exports first
        at a tie)."""
        if not (math.isfinite(t0_s) and math.isfinite(t1_s)) or t0_s < 0:
            raise InputError(f"demand window must be finite and start at >= 0, got [{t0_s}, {t1_s})")
        out: list[ContainerArrival] = []
        first = int(t0_s // SECONDS_PER_HOUR)
        last = int(math.ceil(t1_s / SECONDS_PER_HOUR))
        for h in range(first, last):
            for direction in DIRECTIONS:
                out.extend(a for a in self.hour(direction, h) if t0_s <= a.t_s < t1_s)
        out.sort(key=lambda a: (a.t_s, DIRECTIONS.index(a.direction), a.container))
        return out

    def expected(self, t0_s: float, t1_s: float) -> dict[str, float]:
        """Expected arrivals per direction in ``[t0_s, t1_s)``."""
        out = {}
        for direction in DIRECTIONS:
            total, t = 0.0, t0_s
            while t < t1_s:
                h = int(t // SECONDS_PER_HOUR)
                t_next = min((h + 1) * SECONDS_PER_HOUR, t1_s)
                total += self.rate_per_h(direction, h) * (t_next - t) / SECONDS_PER_HOUR
                t = t_next
            out[direction] = total
        return out
