"""The simulator: virtual IGVs on the wire protocol, the terminal around them, demand,
faults and clocks (``docs/simulator.md``).

Modules: :mod:`sim.clock` (lockstep and scaled real-time clocks), :mod:`sim.kinematics`
and :mod:`sim.battery` (the vehicle's physics), :mod:`sim.order_rules` and
:mod:`sim.vehicle` (the VDA 5050 vehicle state machine), :mod:`sim.faults`,
:mod:`sim.service` (what a vehicle asks of a station), :mod:`sim.equipment`,
:mod:`sim.customs_model` and :mod:`sim.terminal` (cranes, scanner, lab, trucks, customs),
:mod:`sim.demand`, :mod:`sim.spawn` (a fleet on a map) and :mod:`sim.firmware` (the
fleet on the real wire, ``igv sim``).
"""
