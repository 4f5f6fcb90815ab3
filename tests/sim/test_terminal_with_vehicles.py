"""Vehicles and the terminal together, in lockstep: one export crosses, one import
arrives in the yard and leaves by road, the station durations come from the terminal."""

from __future__ import annotations

from typing import Any

from fleet.messages import ActionStatus
from sim.customs_model import CustomsConfig
from sim.demand import ContainerArrival
from sim.spawn import build_fleet
from sim.terminal import Terminal, TerminalConfig
from tests.sim.kit import action, map_order, shortest_cells


def run_leg(tm, vehicle, terminal, t: float, goal_station: str, act: str, container: str, leg: int) -> float:
    """Drive ``vehicle`` to ``goal_station`` and do ``act`` there; return the time it is done."""
    start = int(vehicle.state(t).last_node_id[1:])
    goal = int(tm.station_cell[tm.station_index[goal_station]])
    cells = shortest_cells(tm, start, goal)
    aid = f"a{leg}"
    vehicle.handle(map_order(tm, cells, order_id=f"o{leg}", actions={len(cells) - 1: (action(act, aid, container),)}), t)
    while True:
        t = round(t + 0.1, 6)
        terminal.advance(t)
        vehicle.step(t, 0.1)
        states = {a.action_id: a.action_status for a in vehicle.state(t).action_states}
        if states.get(aid) in (ActionStatus.FINISHED, ActionStatus.FAILED):
            assert states[aid] is ActionStatus.FINISHED, vehicle.errors
            return t
        assert t < 20000.0


def test_an_export_crosses_and_an_import_leaves_by_road(default_map):
    tm = default_map
    sent: list[dict[str, Any]] = []
    arrivals = [ContainerArrival("BLAU0000010", "export", 0.0, 40, True, True, 6 * 3600.0),
                ContainerArrival("DXAU0000010", "import", 0.0, 20, False, False, None)]
    terminal = Terminal(tm, arrivals, sent.append, config=TerminalConfig(customs=CustomsConfig(
        scan_share=0.0, lab_share=0.0, hold_share=0.0, tamper_share=0.0)), seed=1)
    [vehicle] = build_fleet(tm, 1, seed=2, service=terminal.service)
    battery_at_start = vehicle.battery_pct
    t = 0.0
    while not any(e["cmd"] == "container_arrival" and e["direction"] == "export" for e in sent):
        t += 1.0
        terminal.advance(t)
        vehicle.step(t, 1.0)
    export_station = next(e["station"] for e in sent if e["cmd"] == "container_arrival" and e["direction"] == "export")
    import_station = next(e["station"] for e in sent if e["cmd"] == "container_arrival" and e["direction"] == "import")
    t = run_leg(tm, vehicle, terminal, t, export_station, "pick", "BLAU0000010", 1)
    assert vehicle.laden and terminal.boxes["BLAU0000010"].where == "igv"
    t = run_leg(tm, vehicle, terminal, t, "HO-30", "drop", "BLAU0000010", 2)
    terminal.advance(t)
    assert not vehicle.laden and terminal.boxes["BLAU0000010"].where == "gone"
    t = run_leg(tm, vehicle, terminal, t, import_station, "pick", "DXAU0000010", 3)
    t = run_leg(tm, vehicle, terminal, t, "I2-T1", "drop", "DXAU0000010", 4)
    for _ in range(4 * 3600):
        t += 1.0
        terminal.advance(t)
    assert [e["container"] for e in sent if e["cmd"] == "container_departure"] == ["DXAU0000010"]
    assert terminal.ledger() == {"export:gone": 1, "import:gone": 1}
    assert terminal.counts["service_pick"] == 2 and terminal.counts["service_drop"] == 2
    assert vehicle.odometer_m > 1000.0
    laden_km = unladen_km = vehicle.odometer_m / 1000.0  # bounds: all laden / all unladen
    used_pct = battery_at_start - vehicle.battery_pct
    assert 1.5 * unladen_km / 2.8 < used_pct < (2.5 * laden_km + 2.0 * t / 3600.0) / 2.8
