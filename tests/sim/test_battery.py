"""Battery: drain per km (laden more), idle draw, charging with a taper (site.md)."""

from __future__ import annotations

import pytest

from maps.errors import InputError
from sim.battery import (
    BatteryConfig,
    charge_power_kw,
    charge_step_pct,
    drive_energy_kwh,
    idle_energy_kwh,
    reach_m,
    time_to_charge_s,
)

CFG = BatteryConfig()


def test_site_figures_are_the_defaults():
    assert (CFG.capacity_kwh, CFG.laden_kwh_per_km, CFG.unladen_kwh_per_km, CFG.charge_kw) == (280.0, 2.5, 1.5, 150.0)


def test_drive_energy_per_km_laden_and_unladen():
    assert drive_energy_kwh(1000.0, True, CFG) == pytest.approx(2.5)
    assert drive_energy_kwh(1000.0, False, CFG) == pytest.approx(1.5)
    assert drive_energy_kwh(0.0, True, CFG) == 0.0


def test_idle_draw_accumulates_with_time():
    assert idle_energy_kwh(3600.0, CFG) == pytest.approx(CFG.idle_kw)
    assert idle_energy_kwh(1800.0, CFG) == pytest.approx(CFG.idle_kw / 2)


def test_charge_power_is_flat_then_tapers_to_zero_at_full():
    flat = CFG.charge_kw * CFG.charge_efficiency
    assert charge_power_kw(20.0, CFG) == pytest.approx(flat)
    assert charge_power_kw(80.0, CFG) == pytest.approx(flat)
    assert charge_power_kw(90.0, CFG) < flat
    assert charge_power_kw(99.0, CFG) < charge_power_kw(90.0, CFG)
    assert charge_power_kw(100.0, CFG) == 0.0


def test_twenty_to_ninety_percent_takes_one_and_a_half_to_two_hours():
    hours = time_to_charge_s(20.0, 90.0, CFG) / 3600.0
    assert 1.5 <= hours <= 2.0


def test_charging_never_overshoots_full():
    soc = 99.9
    for _ in range(100):
        soc = charge_step_pct(soc, 60.0, CFG)
    assert soc <= 100.0
    assert soc > 99.9


def test_reach_is_remaining_energy_over_rate():
    assert reach_m(50.0, False, CFG) == pytest.approx(140.0 / 1.5 * 1000.0)
    assert reach_m(50.0, True, CFG) < reach_m(50.0, False, CFG)
    assert reach_m(-1.0, True, CFG) == 0.0


@pytest.mark.parametrize("kwargs", [dict(capacity_kwh=0), dict(idle_kw=-1), dict(taper_above_pct=100),
                                    dict(charge_efficiency=1.5), dict(low_pct=100)])
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(InputError):
        BatteryConfig(**kwargs)


def test_bad_charge_window_is_rejected():
    with pytest.raises(InputError, match="charge window"):
        time_to_charge_s(90.0, 20.0, CFG)
