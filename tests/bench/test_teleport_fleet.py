"""bench.teleport_fleet: the lockstep fleet's vehicles speak as real ones would."""

from bench.teleport_fleet import LockstepFleet


def test_a_vehicle_reporting_every_heartbeat_interval_sends_no_heartbeats_regression_bench_core_doubled_ingest():
    # The vehicle ran its link timers before sending its state: the state of the step
    # before was exactly one heartbeat interval (0.5 s) old, so every step also sent a
    # heartbeat, twice the messages a real fleet sends (bench.core's ingest at 200 vehicles).
    f = LockstepFleet(n_vehicles=2)
    try:
        for _ in range(10):
            f.step()
        sent = {v.serial: v.client.endpoint.link.tx_count for v in f.vehicles}
        steps = 40
        for _ in range(steps):
            f.step()
        for v in f.vehicles:
            assert v.client.endpoint.link.tx_count - sent[v.serial] == steps  # one state a step, nothing else
    finally:
        f.close()
