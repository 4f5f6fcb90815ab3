"""Random delays and a vehicle lost mid-route: no collision, no deadlock, all other work done."""

from __future__ import annotations

import numpy as np

from fleet.core.config import CoreConfig
from fleet.core.model import JobStatus, Location
from planner.collision import find_collisions
from bench.teleport_fleet import LockstepFleet
from tests.fleet.core.test_manager import arrive


def _lonely_mover(f: LockstepFleet):
    """A vehicle driving to a pick-up that nobody is queued behind.

    A vehicle that dies in a one-way lane blocks the vehicles queued right behind it until
    it is recovered (no planner can pass it), and one dead on the bridge closes that
    direction; everywhere else the others must be routed around it.
    """
    traffic = f.core.traffic
    traffic.release_limit(f.vehicles[0].serial)  # make sure the dependency graph is built
    graph = traffic._graph
    for v in f.vehicles:
        rt = f.core.vehicles.get(v.serial)
        if rt is None or rt.leg is None or rt.leg.progress < 3 or not rt.record.job:
            continue
        job = f.core.jobs[rt.record.job]
        if job.status is not JobStatus.ASSIGNED or f.map.station(job.from_station).kind != "crane_transfer":
            continue
        ahead = rt.leg.cells[rt.leg.progress : rt.leg.progress + 14]
        if any(f.map.lane_ids[int(f.map.cell_lane[c])].startswith(("BN/", "BS/")) for c in ahead if f.map.cell_lane[c] >= 0):
            continue  # the bridge has one lane each way: a vehicle dead on it blocks that direction
        i = traffic.index[v.serial]
        waited_on = any(
            dv == i
            for w in range(len(traffic.ids)) if w != i
            for step in range(int(traffic.done[w]) + 1, min(int(graph.n_steps[w]), int(traffic.done[w]) + 15) + 1)
            for dv, _ in graph.dependencies(w, step)
        )
        if not waited_on:
            return v
    return None


def test_delays_and_one_vehicle_offline_mid_route():
    f = LockstepFleet(n_vehicles=6, config=CoreConfig(offline_timeout_s=20.0, plan_in_worker=False))
    rng = np.random.default_rng(7)
    try:
        f.step()
        exports = [("X1", "E1-T1"), ("X2", "E2-T2"), ("X3", "E3-T3"), ("X4", "I1-T1")]
        for cid, st in exports:
            arrive(f, cid, "export" if st[0] == "E" else "import", st)
        arrive(f, "M1", "import", "HO-10", None)
        arrive(f, "M2", "import", "HO-20", None)
        lost = None
        lost_job = None
        c = f.core.containers
        for step in range(5000):
            for v in f.vehicles:
                if lost is not None and v is not lost and rng.random() < 0.08:
                    v.stalled = not v.stalled  # slowed and stopped at random
            if lost is None and step > 20:
                lost = _lonely_mover(f)
                if lost is not None:
                    lost.client.drop()  # radio gone: no more state, no orders received
                    lost.stalled = True
            f.step()
            if lost is not None:
                for v in f.vehicles:
                    if v is not lost:
                        v.stalled = v.stalled and rng.random() < 0.5
            if lost is not None:
                lost_job = lost_job or next((j.id for j in f.core.jobs.values() if j.vehicle == lost.serial), None)
                others = [j for j in f.core.jobs.values() if j.id != lost_job]
                if len(others) == 4 and all(j.status is JobStatus.DONE for j in others):
                    break
        else:
            raise AssertionError("jobs did not complete: " + str({j.id: (j.container, j.status.value, j.vehicle) for j in f.core.jobs.values()}))
        # The lost vehicle's own job went back to the pool and was given to another vehicle
        # (it completes too unless the dead vehicle itself stands on the only road to it).
        assert f.core.jobs[lost_job].vehicle != lost.serial
        assert lost is not None
        assert any(e for e in f.core.alerts if e["kind"] == "comm_loss" and e["subject"] == lost.serial)
        assert f.cell_conflicts() == []
        collisions = find_collisions(f.trajectories(), (f.map.vehicle.length_m, f.map.vehicle.width_m), step_s=0.1)
        assert collisions == ()
    finally:
        f.close()


def _step_until_vehicle(f: LockstepFleet, wanted, max_steps: int):
    """Step until a vehicle with a leg meets ``wanted(runtime, released_step)``; that vehicle, or None."""
    traffic = f.core.traffic
    for _ in range(max_steps):
        f.step()
        for v in f.vehicles:
            rt = f.core.vehicles.get(v.serial)
            if rt is not None and rt.leg is not None and wanted(rt, int(traffic.released[traffic.index[v.serial]])):
                return v
    return None


def test_vehicle_back_from_a_long_comm_loss_is_seated_where_it_drove_regression_collision():
    # A vehicle whose radio drops goes on driving the steps it was released. The core froze
    # it (held those steps), and when it came back thawed it at the last cell *heard*: the
    # cells where it really stood were free again and others were routed into it (the
    # disruption bench's collisions), and its next orders, starting where it was not, were
    # refused for ever.
    f = LockstepFleet(n_vehicles=4, config=CoreConfig(offline_timeout_s=10.0, plan_in_worker=False))
    f.core.event_log = []
    try:
        f.step()
        for cid, st in [("Y1", "E1-T1"), ("Y2", "E2-T2"), ("Y3", "E3-T3")]:
            arrive(f, cid, "export", st)
        traffic = f.core.traffic
        lost = _step_until_vehicle(f, lambda rt, released: released >= rt.leg.progress + 4, 400)
        assert lost is not None, "no vehicle with a few released steps ahead"
        heard_cell = f.core.vehicles[lost.serial].cell
        lost.client.drop()  # radio gone; it keeps driving
        # frozen by the core, and at the end of what it had been released
        f.run_until(lambda: traffic.is_frozen(lost.serial) and all(not n[4] for n in lost.nodes[lost.at + 1:]), 200)
        for _ in range(10):
            f.step()
        assert lost.cell != heard_cell  # it drove on while nobody heard it
        lost.client.reconnect()
        lost.client.connect()
        for _ in range(100):
            before = lost.cell  # where it stood when it sent the state the core reads next
            f.step()
            if not traffic.is_frozen(lost.serial):
                break
        else:
            raise AssertionError("never thawed")
        # thawed where it stood (its path, standing or a new leg planned in the same tick, starts there)
        assert int(traffic.paths[traffic.index[lost.serial]].cells[0]) == before
        # frozen and back in the event log: the bench's disturbance windows (bench.deadlock)
        kinds = [(kind, d.get("vehicle")) for _, kind, d in f.core.event_log if kind in ("vehicle_frozen", "vehicle_back")]
        assert kinds == [("vehicle_frozen", lost.serial), ("vehicle_back", lost.serial)]
        c = f.core.containers
        f.run_until(lambda: all(c[k].location_kind is Location.HANDOVER for k in ("Y1", "Y2", "Y3")), 4000)
        assert f.cell_conflicts() == []
        assert sum(1 for e in f.core.alerts if e["kind"] == "comm_loss") >= 1
    finally:
        f.close()


def test_drop_done_while_unheard_is_taken_over_on_return_regression_drop_failed_for_ever():
    # A vehicle whose radio dropped on its way to a drop went on and put the box down. The
    # core thawed it with the drop still on its agenda and sent it again: a real vehicle
    # (no box on board) failed that drop every 30 s for the rest of the day, and the
    # container was counted lost (disruption bench).
    f = LockstepFleet(n_vehicles=2, config=CoreConfig(offline_timeout_s=10.0, plan_in_worker=False))
    try:
        f.step()
        arrive(f, "D1", "export", "E1-T1")
        traffic = f.core.traffic
        lost = _step_until_vehicle(
            f, lambda rt, released: rt.agenda and rt.agenda[0].action == "drop"
            and released >= len(rt.leg.cells) - 1 and rt.leg.progress < len(rt.leg.cells) - 4, 2000)
        assert lost is not None, "no vehicle released to the end of its drop leg"
        job = next(j for j in f.core.jobs.values() if j.container == "D1")
        lost.client.drop()  # radio gone; it drives on and puts the box down
        f.run_until(lambda: traffic.is_frozen(lost.serial) and "D1" in lost.executed_drops, 400)
        assert f.core.containers["D1"].location_kind is Location.IGV  # the core did not hear it
        lost.client.reconnect()
        lost.client.connect()
        f.run_until(lambda: not traffic.is_frozen(lost.serial), 100)
        rt = f.core.vehicles[lost.serial]
        assert job.status is JobStatus.DONE and f.core.containers["D1"].location_kind is Location.HANDOVER
        assert all(t.job != job.id for t in rt.agenda) and not rt.record.laden and rt.record.container is None
        for _ in range(20):
            f.step()
        assert lost.executed_drops == ["D1"] and f.cell_conflicts() == []
    finally:
        f.close()
