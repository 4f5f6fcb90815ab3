"""The IGV traction battery: drain per km (laden more), idle draw, charging with a taper.

Figures from ``site.md`` (estimates from published container-IGV classes): 280 kWh,
2.5 kWh/km laden, 1.5 kWh/km unladen, plus idle draw; charging at about 150 kW, roughly
1.5-2 h from 20 % to 90 %. Choices made here where ``site.md`` gives no number are marked
"estimate": the idle draw, the taper above 80 % and the charger efficiency (with them,
20 % -> 90 % takes about 1.5 h, inside the site's range; ``tests/sim/test_battery.py``
checks it).

All functions are pure; the vehicle keeps the state of charge.
"""

from __future__ import annotations

from dataclasses import dataclass

from maps.errors import InputError


@dataclass(frozen=True)
class BatteryConfig:
    """Battery and charger parameters.

    Attributes
    ----------
    capacity_kwh : float
        Usable energy at 100 %.
    laden_kwh_per_km, unladen_kwh_per_km : float
        Traction energy per km driven.
    idle_kw : float
        Constant draw of controls, sensors, radio and cooling (estimate: 2 kW).
    charge_kw : float
        Charger power up to ``taper_above_pct``.
    taper_above_pct : float
        Above this the power falls linearly to ``taper_end_kw`` at 100 % (estimate: 80 %).
    taper_end_kw : float
        Charging power at 100 % (estimate: 15 kW).
    charge_efficiency : float
        Share of the charger's power that reaches the cells (estimate: 0.90).
    low_pct : float
        Below this the vehicle reports a ``batteryLow`` warning.
    """

    capacity_kwh: float = 280.0
    laden_kwh_per_km: float = 2.5
    unladen_kwh_per_km: float = 1.5
    idle_kw: float = 2.0
    charge_kw: float = 150.0
    taper_above_pct: float = 80.0
    taper_end_kw: float = 15.0
    charge_efficiency: float = 0.90
    low_pct: float = 10.0

    def __post_init__(self) -> None:
        if self.capacity_kwh <= 0 or self.charge_kw <= 0 or self.taper_end_kw <= 0:
            raise InputError("battery capacity and charging powers must be positive")
        if min(self.laden_kwh_per_km, self.unladen_kwh_per_km, self.idle_kw) < 0:
            raise InputError("battery consumption figures must not be negative")
        if not 0 < self.taper_above_pct < 100 or not 0 < self.charge_efficiency <= 1:
            raise InputError("battery taper must start inside (0, 100) % and efficiency be in (0, 1]")
        if not 0 <= self.low_pct < 100:
            raise InputError(f"battery low threshold must be in [0, 100) %, got {self.low_pct}")


def drive_energy_kwh(distance_m: float, laden: bool, cfg: BatteryConfig) -> float:
    """Traction energy for ``distance_m`` metres."""
    per_km = cfg.laden_kwh_per_km if laden else cfg.unladen_kwh_per_km
    return distance_m * 0.001 * per_km


def idle_energy_kwh(dt_s: float, cfg: BatteryConfig) -> float:
    """Idle draw over ``dt_s`` seconds."""
    return cfg.idle_kw * dt_s / 3600.0


def charge_power_kw(soc_pct: float, cfg: BatteryConfig) -> float:
    """Power reaching the cells at state of charge ``soc_pct`` (0 when full)."""
    if soc_pct >= 100.0:
        return 0.0
    if soc_pct <= cfg.taper_above_pct:
        power_kw = cfg.charge_kw
    else:
        share = (soc_pct - cfg.taper_above_pct) / (100.0 - cfg.taper_above_pct)
        power_kw = cfg.charge_kw + share * (cfg.taper_end_kw - cfg.charge_kw)
    return power_kw * cfg.charge_efficiency


def charge_step_pct(soc_pct: float, dt_s: float, cfg: BatteryConfig) -> float:
    """State of charge after charging ``dt_s`` seconds from ``soc_pct`` (midpoint rule)."""
    pct_per_kwh = 100.0 / cfg.capacity_kwh
    half = soc_pct + charge_power_kw(soc_pct, cfg) * dt_s / 7200.0 * pct_per_kwh
    return min(100.0, soc_pct + charge_power_kw(half, cfg) * dt_s / 3600.0 * pct_per_kwh)


def reach_m(soc_pct: float, laden: bool, cfg: BatteryConfig) -> float:
    """Distance the remaining charge allows at the traction rate (idle draw ignored)."""
    per_km = cfg.laden_kwh_per_km if laden else cfg.unladen_kwh_per_km
    if per_km <= 0:
        return float("inf")
    return max(0.0, soc_pct) * 0.01 * cfg.capacity_kwh / per_km * 1000.0


def time_to_charge_s(from_pct: float, to_pct: float, cfg: BatteryConfig, *, step_s: float = 10.0) -> float:
    """Seconds of charging from ``from_pct`` to ``to_pct`` (idle draw ignored)."""
    if not 0 <= from_pct <= to_pct < 100:
        raise InputError(f"charge window must satisfy 0 <= from <= to < 100, got {from_pct} -> {to_pct}")
    soc, t_s = from_pct, 0.0
    while soc < to_pct:
        soc = charge_step_pct(soc, step_s, cfg)
        t_s += step_s
    return t_s
