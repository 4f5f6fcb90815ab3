"""The simulated terminal: export and import flows, crane/scanner/lab/inspection queues,
customs declarations, road trucks, the feed events it sends, determinism for a seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from maps.errors import InputError
from sim.customs_model import CustomsConfig
from sim.demand import ContainerArrival, Demand, DemandConfig
from sim.equipment import ArmgCrane, Server, crane_moves_per_h, crane_roles
from sim.service import ServiceRequest
from sim.terminal import Terminal, TerminalConfig, split_event, yard_capacity_per_day

RELEASE_ALL = CustomsConfig(scan_share=0.0, lab_share=0.0, hold_share=0.0, tamper_share=0.0)


@dataclass
class Feed:
    """Collects what the terminal sends; ``refuse`` lists commands answered False."""

    events: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if self.refuse.get(event["cmd"], 0) > 0:
            self.refuse[event["cmd"]] -= 1
            return False
        return {"ok": True}

    def of(self, cmd: str, container: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["cmd"] == cmd and (container is None or e["container"] == container)]


def box(container: str, direction: str, t_s: float, perishable: bool = False) -> ContainerArrival:
    return ContainerArrival(container, direction, t_s, 40, False, perishable, None)


def request(action: str, station: str, container: str | None, now_s: float, kind: str | None = None) -> ServiceRequest:
    return ServiceRequest(vehicle="igv-001", action_type=action, action_id=f"a-{action}-{now_s}", container=container,
                          station=station, station_kind=kind, x_m=0.0, y_m=0.0, now_s=now_s)


def logged_at(terminal: Terminal, cmd: str, container: str) -> list[float]:
    return [t for t, e in terminal.log if e["cmd"] == cmd and e.get("container") == container]


def test_export_is_stacked_then_announced_at_a_transfer_station_with_seal_and_declaration(default_map):
    feed = Feed()
    t = Terminal(default_map, [box("BLAU0000010", "export", 100.0)], feed, seed=1)
    t.advance(7200.0)
    arrival = feed.of("container_arrival")[0]
    export_blocks = {z.id for z in default_map.zones_of_kind("yard_block") if z.properties["yard"] == "export"}
    station = default_map.station(arrival["station"])
    assert station.kind == "crane_transfer" and station.zone_id in export_blocks
    assert arrival["direction"] == "export" and arrival["size_ft"] == 40 and arrival["deadline_s"] is None
    [t_arrival] = logged_at(t, "container_arrival", "BLAU0000010")
    assert t_arrival >= 100.0 + 60.0 + 120.0 + 90.0  # gate, drive to the block, a crane move
    assert [e["cmd"] for e in feed.events[:3]] == ["container_arrival", "eseal_event", "customs_declaration"]
    assert feed.events[1]["event"] == "sealed"
    [t_decl] = logged_at(t, "customs_declaration", "BLAU0000010")
    assert 300.0 <= t_decl - t_arrival <= 1800.0
    assert len({e["event_id"] for e in feed.events}) == len(feed.events)


def test_igv_pick_books_the_waterside_crane_and_a_handover_drop_completes_the_crossing(default_map):
    feed = Feed()
    t = Terminal(default_map, [box("BLAU0000010", "export", 0.0)], feed, seed=2)
    t.advance(3600.0)
    station = feed.of("container_arrival")[0]["station"]
    first = t.service(request("pick", station, "BLAU0000010", 3600.0, "crane_transfer"))
    assert first.failure is None and 90.0 <= first.duration_s <= 150.0 + 40 * 6.1 / 4.0
    t.advance(3600.0 + first.duration_s)
    assert t.boxes["BLAU0000010"].where == "igv"
    drop = t.service(request("drop", "HO-07", "BLAU0000010", 4000.0, "handover"))
    assert 60.0 <= drop.duration_s <= 120.0
    t.advance(4200.0)
    assert t.boxes["BLAU0000010"].where == "gone" and t.counts["export_crossed"] == 1
    assert t.ledger() == {"export:gone": 1}


def test_crane_queue_makes_later_requests_wait(default_map):
    t = Terminal(default_map, [], Feed(), seed=3)
    durations = [t.service(request("drop", "I1-T1", None, 10.0, "crane_transfer")).duration_s for _ in range(4)]
    assert durations == sorted(durations)
    assert durations[1] - durations[0] >= 90.0
    assert t.queues()["crane:I1"] == 3


@pytest.mark.parametrize("share_picks,low,high", [(0.5, 20.0, 25.0), (1.0, 19.0, 21.0), (0.0, 19.0, 21.0)])
def test_busy_crane_makes_about_twenty_to_twenty_five_moves_an_hour(share_picks, low, high):
    import numpy as np

    rng = np.random.default_rng(0)
    crane = ArmgCrane("B", 0, "waterside", bays=40)
    end = 0.0
    for _ in range(1000):
        bay = int(rng.integers(1, 41))
        pick = rng.random() < share_picks
        _, end = crane.move(0.0, bay if pick else crane.igv_bay, crane.igv_bay if pick else bay, float(rng.uniform(90, 150)))
    assert low <= 1000 / (end / 3600.0) <= high
    assert crane.moves == 1000 and crane.busy_s == pytest.approx(end)


def test_scanner_bay_serves_twenty_to_forty_an_hour_and_queues(default_map):
    t = Terminal(default_map, [], Feed(), seed=4)
    first = t.service(request("scan", "SCN-1", None, 0.0))
    second = t.service(request("scan", "SCN-1", None, 0.0))
    other = t.service(request("scan", "SCN-2", None, 0.0))
    assert 90.0 <= first.duration_s <= 180.0 and 90.0 <= other.duration_s <= 180.0
    assert second.duration_s >= first.duration_s + 90.0
    assert t.service(request("scan", "E1-T1", None, 0.0)).failure is not None


def test_lab_sampling_delays_the_pick_and_the_result_comes_hours_later(default_map):
    feed = Feed()
    cfg = TerminalConfig(customs=CustomsConfig(scan_share=0.0, hold_share=0.0, lab_share=1.0, tamper_share=0.0,
                                               lab_fail_share=0.0), perishable_share=1.0)
    t = Terminal(default_map, [box("BLAU0000020", "export", 0.0, perishable=True)], feed, config=cfg, seed=5)
    t.advance(4000.0)
    assert feed.of("customs_declaration", "BLAU0000020")[0]["status"] == "lab"
    station = feed.of("container_arrival")[0]["station"]
    t.advance(t.now_s + t.service(request("pick", station, "BLAU0000020", 4000.0, "crane_transfer")).duration_s)
    drop = t.service(request("drop", "LAB-1", "BLAU0000020", 5000.0, "lab_bay"))
    placed = 5000.0 + drop.duration_s
    pick = t.service(request("pick", "LAB-1", "BLAU0000020", placed + 60.0, "lab_bay"))
    assert placed + 60.0 + pick.duration_s >= placed + 900.0  # waits for the sampling (15-25 min)
    t.advance(30000.0)
    result = feed.of("customs_declaration", "BLAU0000020")[-1]
    assert result["status"] == "released"
    [t_result] = logged_at(t, "customs_declaration", "BLAU0000020")[-1:]
    assert placed + 900.0 + 7200.0 <= t_result <= placed + 1500.0 + 14400.0 + 1e-6
    assert t.counts["lab_samples"] == 1


def test_import_flow_handover_to_yard_to_road_truck(default_map):
    feed = Feed()
    cfg = TerminalConfig(customs=RELEASE_ALL)
    t = Terminal(default_map, [box(f"DXAU00000{k}0", "import", 10.0 * k) for k in range(1, 4)], feed, config=cfg, seed=6)
    t.advance(100.0)
    arrivals = feed.of("container_arrival")
    stations = [a["station"] for a in arrivals]
    assert len(set(stations)) == 3 and all(default_map.station(s).kind == "handover" for s in stations)
    assert all(default_map.station_side(s) == "import" for s in stations)  # the import aisle only
    c, station = arrivals[0]["container"], stations[0]
    pick = t.service(request("pick", station, c, 200.0, "handover"))
    assert 60.0 <= pick.duration_s <= 120.0
    drop = t.service(request("drop", "I2-T3", c, 600.0, "crane_transfer"))
    assert drop.duration_s > 0.0
    t.advance(2000.0)
    record = t.boxes[c]
    assert record.where == "yard" and record.block == "I2" and record.customs == "released"
    t.advance(20000.0)
    [departed] = logged_at(t, "container_departure", c)
    assert 600.0 + 1800.0 <= departed <= 2000.0 + 10800.0 + 400.0
    assert record.where == "gone" and t.ledger()["import:handover"] == 2


def test_refused_departure_is_retried(default_map):
    feed = Feed(refuse={"container_departure": 2})
    t = Terminal(default_map, [box("DXAU0000010", "import", 0.0)], feed, config=TerminalConfig(customs=RELEASE_ALL), seed=7)
    t.advance(10.0)
    station = feed.of("container_arrival")[0]["station"]
    t.service(request("pick", station, "DXAU0000010", 20.0, "handover"))
    t.service(request("drop", "I1-T1", "DXAU0000010", 300.0, "crane_transfer"))
    t.advance(30000.0)
    assert len(feed.of("container_departure")) == 3 and t.counts["departures_refused"] == 2
    assert t.boxes["DXAU0000010"].where == "gone"


def test_a_departure_refused_later_is_retried_like_one_refused_at_once(default_map):
    feed = Feed()
    t = Terminal(default_map, [box("DXAU0000010", "import", 0.0)], feed, config=TerminalConfig(customs=RELEASE_ALL), seed=7)
    t.advance(10.0)
    station = feed.of("container_arrival")[0]["station"]
    t.service(request("pick", station, "DXAU0000010", 20.0, "handover"))
    t.service(request("drop", "I1-T1", "DXAU0000010", 300.0, "crane_transfer"))
    while not feed.of("container_departure"):
        t.advance(t.now_s + 60.0)
    [first] = feed.of("container_departure")
    assert t.boxes["DXAU0000010"].where == "gone"
    t.refused(first)  # the answer of the core's next tick
    assert t.boxes["DXAU0000010"].where == "truck" and t.counts["departures_refused"] == 1
    t.advance(t.now_s + TerminalConfig().retry_s + 1.0)
    assert len(feed.of("container_departure")) == 2 and t.boxes["DXAU0000010"].where == "gone"


def test_feed_events_split_into_control_calls_without_nulls():
    op, args = split_event({"cmd": "container_arrival", "event_id": "sim-0000001", "container": "DXAU0000010",
                            "deadline_s": None, "perishable": False})
    assert op == "container_arrival"
    assert args == {"event_id": "sim-0000001", "container": "DXAU0000010", "perishable": False}


def test_handover_backlog_waits_for_a_free_station(default_map):
    feed = Feed()
    cfg = TerminalConfig(customs=RELEASE_ALL, import_handover_stations=("HO-01",))
    t = Terminal(default_map, [box("DXAU0000010", "import", 0.0), box("DXAU0000020", "import", 5.0)], feed, config=cfg, seed=8)
    t.advance(60.0)
    assert [a["container"] for a in feed.of("container_arrival")] == ["DXAU0000010"]
    assert t.queues()["handover_backlog"] == 1
    pick = t.service(request("pick", "HO-01", "DXAU0000010", 100.0, "handover"))
    t.advance(100.0 + pick.duration_s)
    later = feed.of("container_arrival")
    assert [a["container"] for a in later] == ["DXAU0000010", "DXAU0000020"] and later[1]["station"] == "HO-01"


def test_tamper_puts_the_box_on_hold_until_inspected(default_map):
    feed = Feed()
    customs = CustomsConfig(scan_share=0.0, lab_share=0.0, hold_share=0.0, tamper_share=1.0)
    t = Terminal(default_map, [box("BLAU0000030", "export", 0.0)], feed, config=TerminalConfig(customs=customs), seed=9)
    t.advance(4 * 3600.0)
    tamper = [e for e in feed.of("eseal_event", "BLAU0000030") if e["event"] == "tamper"]
    assert len(tamper) == 1 and t.boxes["BLAU0000030"].customs == "hold"
    station = feed.of("container_arrival")[0]["station"]
    t.advance(t.now_s + t.service(request("pick", station, "BLAU0000030", t.now_s, "crane_transfer")).duration_s)
    t.service(request("drop", "INS-2", "BLAU0000030", t.now_s, "inspection_bay"))
    t.advance(t.now_s + 3 * 3600.0)
    assert feed.of("customs_declaration", "BLAU0000030")[-1]["status"] == "released"
    assert t.counts["inspections"] == 1


def run_day_part(seed: int) -> Terminal:
    """Six busy hours of scaled default demand with a scripted fleet that carries every
    container straight across (export: yard -> handover; import: handover -> import
    yard), so that the run exercises every subsystem."""
    feed = Feed()
    t = Terminal(default_map_cache(), Demand(DemandConfig(start_hour=8).scaled(0.15), seed=seed), feed, seed=seed)
    served, drops = 0, []
    for minute in range(1, 6 * 60):
        now = minute * 60.0
        t.advance(now)
        for event in feed.events[served:]:
            if event["cmd"] == "container_arrival":
                pick = t.service(request("pick", event["station"], event["container"], now))
                target = "HO-50" if event["direction"] == "export" else "I3-T2"
                drops.append((now + pick.duration_s + 300.0, target, event["container"]))
        served = len(feed.events)
        for when, target, container in [d for d in drops if d[0] <= now]:
            t.service(request("drop", target, container, now))
        drops = [d for d in drops if d[0] > now]
    return t


_MAP: list[Any] = []


def default_map_cache():
    if not _MAP:
        from maps import load_track_map

        _MAP.append(load_track_map("bac_luan_2"))
    return _MAP[0]


def test_same_seed_gives_the_same_event_log_and_other_seeds_differ():
    a, b, c = run_day_part(21), run_day_part(21), run_day_part(22)
    assert a.log == b.log and a.stats() == b.stats()
    assert a.log != c.log
    assert len(a.log) > 300
    kinds = {e["cmd"] for _, e in a.log}
    assert kinds == {"container_arrival", "eseal_event", "customs_declaration", "container_departure"}
    assert a.counts["export_crossed"] > 20 and "scans" not in a.counts  # the script never scans
    assert sum(a.ledger().values()) == len(a.boxes)  # every container is somewhere
    assert a.stats()["crane_moves"] > 0


def test_bad_input_is_refused(default_map, loop_map):
    t = Terminal(default_map, [], Feed())
    t.advance(100.0)
    with pytest.raises(InputError, match="cannot go back"):
        t.advance(50.0)
    with pytest.raises(InputError, match="no yard blocks"):
        Terminal(loop_map, [], Feed())
    with pytest.raises(InputError, match="not a handover station"):
        Terminal(default_map, [], Feed(), config=TerminalConfig(import_handover_stations=("E1-T1",)))
    with pytest.raises(InputError, match="arrives twice"):
        Terminal(default_map, [box("X", "export", 0.0), box("X", "export", 1.0)], Feed())


def test_server_books_first_come_first_served():
    server = Server("s", channels=2)
    assert server.book(0.0, 10.0) == (0.0, 10.0)
    assert server.book(0.0, 10.0) == (0.0, 10.0)
    assert server.book(1.0, 5.0) == (10.0, 15.0)
    assert server.queue_length(5.0) == 1 and server.jobs == 3
    with pytest.raises(InputError):
        Server("bad", channels=0)


def test_crane_roles_one_two_or_three_a_block():
    assert crane_roles(1) == ["both"]
    assert crane_roles(2) == ["waterside", "landside"]
    assert crane_roles(3) == ["waterside", "landside", "both"]
    for bad in (0, 4):
        with pytest.raises(InputError, match="1 to 3 cranes"):
            crane_roles(bad)


def test_a_passing_third_crane_takes_waterside_work_when_the_waterside_crane_is_busy(default_map):
    t = Terminal(default_map, [], Feed(), config=TerminalConfig(cranes_per_block=3))
    first = t.service(request("drop", "I1-T1", None, 10.0, "crane_transfer"))
    second = t.service(request("drop", "I1-T2", None, 10.0, "crane_transfer"))
    assert second.duration_s < first.duration_s + 60.0  # not queued behind the first
    busy = {c.role: c.moves for c in t._blocks["I1"].cranes}
    assert busy == {"waterside": 1, "landside": 0, "both": 1}


def test_yard_capacity_is_half_the_cranes_moves_a_day(default_map):
    rate = crane_moves_per_h(40, 6.1, 4.0, (90.0, 150.0))
    assert 19.0 < rate < 21.0  # site.md: 20-25 moves an hour including the gantry runs
    two = yard_capacity_per_day(default_map)
    assert two == pytest.approx({"export": 3 * 24 * rate, "import": 3 * 24 * rate})
    three = yard_capacity_per_day(default_map, TerminalConfig(cranes_per_block=3))
    assert three["export"] == pytest.approx(1.5 * two["export"])
