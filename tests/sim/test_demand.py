"""Demand: sized from site.md, seeded, deterministic, chunk-independent, ISO 6346 numbers."""

from __future__ import annotations

import pytest

from maps.errors import InputError
from sim.demand import DEFAULT_PROFILE, Demand, DemandConfig, iso6346


def valid_iso6346(code: str) -> bool:
    return len(code) == 11 and iso6346(code[:4], int(code[4:10])) == code


def test_site_sizing_defaults():
    cfg = DemandConfig()
    assert cfg.export_per_day + cfg.import_per_day == 3500.0
    assert sum(DEFAULT_PROFILE) / 24 == pytest.approx(1.0)
    assert max(DEFAULT_PROFILE) == pytest.approx(2.0)
    demand = Demand(cfg)
    peak = max(demand.rate_per_h("export", h) + demand.rate_per_h("import", h) for h in range(24))
    assert peak == pytest.approx(2 * 3500 / 24)  # about 290 an hour


def test_same_seed_same_arrivals_other_seed_other_arrivals():
    a = Demand(seed=11).arrivals(0.0, 4 * 3600.0)
    b = Demand(seed=11).arrivals(0.0, 4 * 3600.0)
    c = Demand(seed=12).arrivals(0.0, 4 * 3600.0)
    assert a == b and a != c


def test_arrivals_do_not_depend_on_how_time_is_chunked():
    demand = Demand(seed=5)
    whole = demand.arrivals(0.0, 7200.0)
    parts = demand.arrivals(0.0, 1234.5) + demand.arrivals(1234.5, 3600.0) + demand.arrivals(3600.0, 7200.0)
    assert whole == parts
    assert [a.t_s for a in whole] == sorted(a.t_s for a in whole)


def test_one_direction_does_not_change_the_other():
    full = Demand(DemandConfig(import_per_day=1750.0), seed=1).arrivals(0.0, 3 * 3600.0)
    less = Demand(DemandConfig(import_per_day=100.0), seed=1).arrivals(0.0, 3 * 3600.0)
    assert [a for a in full if a.direction == "export"] == [a for a in less if a.direction == "export"]


def test_a_day_has_the_expected_volume_and_shares():
    demand = Demand(seed=2)
    day = demand.arrivals(0.0, 86400.0)
    exports = [a for a in day if a.direction == "export"]
    assert abs(len(exports) - 1750) < 4 * 1750 ** 0.5
    assert abs(len(day) - 3500) < 4 * 3500 ** 0.5
    perishable = sum(a.perishable for a in day) / len(day)
    reefer = sum(a.reefer for a in day) / len(day)
    assert perishable == pytest.approx(0.45, abs=0.03) and reefer == pytest.approx(0.30, abs=0.03)
    assert all(a.perishable for a in day if a.reefer)
    assert sum(a.size_ft == 20 for a in day) / len(day) == pytest.approx(0.30, abs=0.03)
    assert all(a.deadline_s == pytest.approx(a.t_s + 6 * 3600) for a in day if a.perishable)
    assert all(a.deadline_s is None for a in day if not a.perishable)
    assert demand.expected(0.0, 86400.0) == {"export": pytest.approx(1750.0), "import": pytest.approx(1750.0)}


def test_peak_hours_carry_twice_the_average():
    demand = Demand(seed=4)
    night = [len(demand.arrivals(h * 3600.0, (h + 1) * 3600.0)) for h in (0, 1, 2)]
    peak = [len(demand.arrivals(h * 3600.0, (h + 1) * 3600.0)) for h in (9, 10, 14)]
    assert sum(peak) / 3 == pytest.approx(2 * 3500 / 24, rel=0.15)
    assert sum(peak) > 5 * sum(night)


def test_container_numbers_are_valid_iso6346_and_unique():
    assert iso6346("CSQU", 305438) == "CSQU3054383"  # the standard's worked example
    assert iso6346("MSKU", 123456) == "MSKU1234565"  # docs/protocol.md's container
    day = Demand(seed=3).arrivals(0.0, 86400.0)
    ids = [a.container for a in day]
    assert len(set(ids)) == len(ids)
    assert all(valid_iso6346(c) for c in ids)
    assert all(c.startswith("BL") for c, a in zip(ids, day) if a.direction == "export")
    assert all(c.startswith("DX") for c, a in zip(ids, day) if a.direction == "import")


def test_start_hour_shifts_the_profile():
    assert Demand(DemandConfig(start_hour=9)).rate_per_h("export", 0) == Demand().rate_per_h("export", 9)


def test_scaled_demand():
    cfg = DemandConfig().scaled(0.25)
    assert (cfg.export_per_day, cfg.import_per_day) == (437.5, 437.5)


@pytest.mark.parametrize("kwargs", [dict(export_per_day=-1), dict(perishable_share=1.5), dict(reefer_share=0.5, perishable_share=0.2),
                                    dict(peak_profile=(1.0,) * 23), dict(start_hour=24), dict(perishable_deadline_h=0)])
def test_bad_demand_config_is_rejected(kwargs):
    with pytest.raises(InputError):
        DemandConfig(**kwargs)


def test_bad_requests_are_rejected():
    with pytest.raises(InputError, match="direction"):
        Demand().hour("sideways", 0)
    with pytest.raises(InputError, match="ISO 6346"):
        iso6346("AB1U", 1)
    with pytest.raises(InputError, match="window"):
        Demand().arrivals(-5.0, 10.0)
