"""Independent checkers for the allocation planners (used by randomized tests).

Each checker rebuilds what it needs from plain data with straightforward loops and
never calls the planner's own feasibility code, so a bug in a planner cannot hide
behind the same bug in its check. Each returns a list of one-line problems (empty when
all rules hold).
"""

from __future__ import annotations

import functools
import math
from typing import Iterable, Sequence

# ---------------------------------------------------------------------------------------
# yard


def yard_violations(geometry, rules, placed: Iterable[tuple[object, object]]) -> list[str]:
    """Every stacking rule of :mod:`planner.yard` over ``(ContainerInfo, Slot)`` pairs."""
    problems: list[str] = []
    grid: dict[tuple[int, int, int], object] = {}
    reefer_rows = set(geometry.reefer_rows)
    for c, slot in placed:
        cells = [(slot.bay, slot.row, slot.tier)]
        if c.size_ft == 40:
            if slot.bay % 2 != 0:
                problems.append(f"{c.id}: 40 ft container at odd bay {slot.bay}")
            cells.append((slot.bay + 1, slot.row, slot.tier))
        for b, r, t in cells:
            if not (0 <= b < geometry.bays and 0 <= r < geometry.rows and 0 <= t < geometry.tiers):
                problems.append(f"{c.id}: slot ({b}, {r}, {t}) outside the block or above the tier limit")
                continue
            if (b, r, t) in grid:
                problems.append(f"{c.id}: slot ({b}, {r}, {t}) already holds {grid[(b, r, t)].id}")
            grid[(b, r, t)] = c
        if c.reefer and slot.row not in reefer_rows:
            problems.append(f"{c.id}: reefer container in row {slot.row} without plugs")
    for (b, r, t), c in grid.items():
        if t == 0:
            continue
        below = grid.get((b, r, t - 1))
        if below is None:
            problems.append(f"{c.id}: floats over an empty slot at ({b}, {r}, {t - 1})")
            continue
        if c.size_ft == 20 and below.size_ft == 40:
            problems.append(f"{c.id}: 20 ft container on 40 ft {below.id}")
        if c.size_ft == 40 and below.size_ft != 40:
            problems.append(f"{c.id}: 40 ft container on 20 ft {below.id}")
        if c.weight_t > below.weight_t + rules.weight_tolerance_t + 1e-9:
            problems.append(f"{c.id}: {c.weight_t} t on lighter {below.id} ({below.weight_t} t)")
        if c.category != below.category:
            problems.append(f"{c.id}: {c.category.name} on {below.category.name} {below.id} in one stack")
    return sorted(set(problems))


def state_violations(state) -> list[str]:
    """Rules plus consistency of a :class:`~planner.yard.BlockState`'s arrays."""
    placed = [(state.containers[i], slot) for i, slot in state.position.items()]
    problems = yard_violations(state.geometry, state.rules, placed)
    g = state.geometry
    for b in range(g.bays):
        for r in range(g.rows):
            col = [int(x) for x in state.slot_container[b, r]]
            h = sum(1 for x in col if x >= 0)
            if int(state.height[b, r]) != h:
                problems.append(f"stack ({b}, {r}): height {int(state.height[b, r])} but {h} containers")
    if len(state.index) != len(state.position):
        problems.append("index and position disagree")
    return problems


def yard_moves_violations(state, order: Sequence[str], moves) -> tuple[int, list[str]]:
    """Replay retrieval-plan moves on a copy of the placements; check slots, the
    restricted rule (only containers above the next target move), every stacking rule
    after each move, and that ``order`` is retrieved in order.

    Returns
    -------
    (relocations, problems)
    """
    placed = {state.containers[i].id: (state.containers[i], slot) for i, slot in state.position.items()}
    problems: list[str] = []
    pending = list(order)
    relocations = 0
    for n, m in enumerate(moves):
        if m.container_id not in placed:
            problems.append(f"move {n}: {m.container_id} is not in the block")
            break
        c, slot = placed[m.container_id]
        if slot != m.from_slot:
            problems.append(f"move {n}: {m.container_id} is at {slot}, not {m.from_slot}")
        covered = _covers(c, slot)
        for other_id, (o, oslot) in placed.items():
            if other_id != c.id and oslot.tier > slot.tier and _covers(o, oslot) & covered:
                problems.append(f"move {n}: {c.id} is under {other_id}")
        if not pending:
            problems.append(f"move {n}: moves after the last retrieval")
            break
        target = pending[0]
        if m.kind == "retrieve":
            if m.container_id != target:
                problems.append(f"move {n}: retrieves {m.container_id} but {target} is next")
            del placed[m.container_id]
            pending.pop(0)
            continue
        relocations += 1
        t, tslot = placed[target]
        if not (_covers(t, tslot) & covered and slot.tier > tslot.tier):
            problems.append(f"move {n}: relocates {c.id}, which is not above the next target {target}")
        if m.to_slot is None or (m.to_slot.bay, m.to_slot.row) == (slot.bay, slot.row):
            problems.append(f"move {n}: relocation of {c.id} has no other destination")
            continue
        placed[c.id] = (c, m.to_slot)
        for p in yard_violations(state.geometry, state.rules, placed.values()):
            problems.append(f"move {n}: {p}")
    if pending:
        problems.append(f"not retrieved: {', '.join(pending)}")
    return relocations, problems


def _covers(c, slot) -> set[tuple[int, int]]:
    cells = {(slot.bay, slot.row)}
    if c.size_ft == 40:
        cells.add((slot.bay + 1, slot.row))
    return cells


# ---------------------------------------------------------------------------------------
# block relocation


def relocation_violations(inst, moves) -> tuple[int, list[str]]:
    """Replay a BRP plan: restricted rule, height limit, destination tables, order.

    Returns
    -------
    (relocations, problems)
    """
    stacks = [list(s) for s in inst.stacks]
    k = inst.n_containers if inst.n_retrieve is None else inst.n_retrieve
    nxt = 1
    relocations = 0
    problems: list[str] = []
    for n, m in enumerate(moves):
        if nxt > k:
            problems.append(f"move {n}: after the last retrieval")
            break
        if not 0 <= m.from_stack < len(stacks) or not stacks[m.from_stack] or stacks[m.from_stack][-1] != m.container:
            problems.append(f"move {n}: container {m.container} is not on top of stack {m.from_stack}")
            break
        if m.kind == "retrieve":
            if m.container != nxt:
                problems.append(f"move {n}: retrieves {m.container} but {nxt} is next")
            stacks[m.from_stack].pop()
            nxt += 1
            continue
        relocations += 1
        if nxt not in stacks[m.from_stack]:
            problems.append(f"move {n}: relocates {m.container}, not above the next target {nxt}")
        d = m.to_stack
        if d is None or not 0 <= d < len(stacks) or d == m.from_stack:
            problems.append(f"move {n}: bad destination {d}")
            break
        if len(stacks[d]) >= inst.max_height:
            problems.append(f"move {n}: stack {d} is full")
        if inst.stack_ok is not None and not inst.stack_ok[m.container - 1, d]:
            problems.append(f"move {n}: container {m.container} may not stand in stack {d}")
        if inst.on_ok is not None and stacks[d] and not inst.on_ok[m.container - 1, stacks[d][-1] - 1]:
            problems.append(f"move {n}: container {m.container} may not stand on {stacks[d][-1]}")
        stacks[m.from_stack].pop()
        stacks[d].append(m.container)
    else:
        if nxt <= k:
            problems.append(f"containers {nxt}..{k} not retrieved")
    return relocations, problems


def brute_force_relocations(inst) -> int | None:
    """Fewest relocations by exhaustive search (tiny instances only); None if no plan.

    The restricted rule makes every relocation take the target one step closer to the
    top, so the state graph is acyclic and a memoised recursion over all choices is exact.
    """
    k = inst.n_containers if inst.n_retrieve is None else inst.n_retrieve
    h = inst.max_height

    @functools.lru_cache(maxsize=None)
    def best(stacks: tuple[tuple[int, ...], ...], nxt: int) -> float:
        st = [list(s) for s in stacks]
        while nxt <= k:
            s = next(i for i, x in enumerate(st) if nxt in x)
            if st[s][-1] != nxt:
                break
            st[s].pop()
            nxt += 1
        if nxt > k:
            return 0
        s = next(i for i, x in enumerate(st) if nxt in x)
        c = st[s][-1]
        out = math.inf
        for d in range(len(st)):
            if d == s or len(st[d]) >= h:
                continue
            if inst.stack_ok is not None and not inst.stack_ok[c - 1, d]:
                continue
            if inst.on_ok is not None and st[d] and not inst.on_ok[c - 1, st[d][-1] - 1]:
                continue
            nst = [list(x) for x in st]
            nst[s].pop()
            nst[d].append(c)
            out = min(out, 1 + best(tuple(map(tuple, nst)), nxt))
        return out

    result = best(tuple(inst.stacks), 1)
    return None if math.isinf(result) else int(result)



# ---------------------------------------------------------------------------------------
# cranes


def crane_schedule_violations(block, requests, states, options, schedule) -> list[str]:
    """Replay a crane schedule: positions of every request, gantry travel and hoist
    times, releases, precedence, served times, the objective, and the two cranes never
    closer than ``min_separation_m`` (checked at every breakpoint of the piecewise-linear
    gantry positions, where their distance is smallest)."""
    problems: list[str] = []
    v, h, sep = block.gantry_speed_mps, block.hoist_cycle_s, block.min_separation_m
    eps = 1e-6
    water, land = 0.0, (block.bays + 1) * block.bay_length_m
    slot = {r.id: (r.bay + 1) * block.bay_length_m for r in requests}
    by_id = {r.id: r for r in requests}
    ends: dict[str, float] = {}
    starts: dict[str, float] = {}
    served: dict[str, float] = {}
    tracks = []
    for k, moves in enumerate(schedule.moves):
        pos, free = states[k].position_m, states[k].free_s
        points = [(-1e18, pos)]
        for n, m in enumerate(moves):
            tag = f"crane {k} move {n}"
            if abs(m.from_m - pos) > eps:
                problems.append(f"{tag}: starts at {m.from_m} m but the crane is at {pos} m")
            if m.depart_s < free - eps:
                problems.append(f"{tag}: departs at {m.depart_s} before the previous move ends ({free})")
            arrive = m.depart_s + abs(m.from_m - m.pick_m) / v
            if m.pick_start_s < arrive - eps:
                problems.append(f"{tag}: picks at {m.pick_start_s} before arriving ({arrive})")
            if not (-eps <= m.pick_m <= land + eps and -eps <= m.drop_m <= land + eps):
                problems.append(f"{tag}: off the rails")
            points += [(m.depart_s, m.from_m), (arrive, m.pick_m)]
            if m.request_id is None:
                if abs(m.pick_m - m.drop_m) > eps or abs(m.end_s - arrive) > eps:
                    problems.append(f"{tag}: a repositioning move must end on arrival")
                pos, free = m.drop_m, m.end_s
                continue
            r = by_id.get(m.request_id)
            if r is None or m.request_id in ends:
                problems.append(f"{tag}: unknown or repeated request {m.request_id}")
                continue
            kind = r.kind.value
            want = {
                "igv_delivery": (water, slot[r.id]),
                "igv_pickup": (slot[r.id], water),
                "truck_delivery": (land, slot[r.id]),
                "truck_pickup": (slot[r.id], land),
                "relocation": (slot[r.id], None if r.to_bay is None else (r.to_bay + 1) * block.bay_length_m),
            }[kind]
            if abs(m.pick_m - want[0]) > eps or want[1] is None or abs(m.drop_m - want[1]) > eps:
                problems.append(f"{tag}: request {r.id} picks/drops at the wrong place")
            lifted = m.pick_start_s + h
            at_drop = lifted + abs(m.pick_m - m.drop_m) / v
            if m.drop_start_s < at_drop - eps:
                problems.append(f"{tag}: drops at {m.drop_start_s} before arriving ({at_drop})")
            if abs(m.end_s - (m.drop_start_s + h)) > eps:
                problems.append(f"{tag}: end is not drop start plus a hoist cycle")
            if kind in ("igv_delivery", "truck_delivery", "relocation") and m.pick_start_s < r.release_s - eps:
                problems.append(f"{tag}: picks {r.id} before its release")
            if kind in ("igv_pickup", "truck_pickup") and m.drop_start_s < r.release_s - eps:
                problems.append(f"{tag}: sets {r.id} down before the vehicle arrives")
            points += [(m.pick_start_s, m.pick_m), (lifted, m.pick_m), (at_drop, m.drop_m), (m.end_s, m.drop_m)]
            starts[r.id], ends[r.id] = m.depart_s, m.end_s
            served[r.id] = lifted if kind in ("igv_delivery", "truck_delivery") else m.end_s
            pos, free = m.drop_m, m.end_s
        points.append((1e18, pos))
        tracks.append(points)
    for r in requests:
        if r.id not in ends:
            problems.append(f"request {r.id} is never served")
            continue
        for a in r.after:
            if a in ends and starts[r.id] < ends[a] - eps:
                problems.append(f"request {r.id} starts before its predecessor {a} ends")
        if abs(schedule.served_s.get(r.id, math.nan) - served[r.id]) > 1e-6:
            problems.append(f"request {r.id}: served time {schedule.served_s.get(r.id)} but the moves say {served[r.id]}")
    if len(tracks) == 2:
        times = sorted({t for track in tracks for t, _ in track if abs(t) < 1e17})
        for t in times:
            x0, x1 = _position_at(tracks[0], t), _position_at(tracks[1], t)
            if x1 - x0 < sep - 1e-6:
                problems.append(f"cranes {x1 - x0:.2f} m apart at t={t:.2f} s (minimum {sep})")
                break
    return problems


def _position_at(track: list[tuple[float, float]], t: float) -> float:
    """Gantry position on a track of (time, position) breakpoints, linear between them
    (several points may share a time: the crane is at the last one after that time)."""
    before = [p for p in track if p[0] <= t]
    after = [p for p in track if p[0] > t]
    t0, x0 = before[-1]
    if not after:
        return x0
    t1, x1 = after[0]
    return x0 + (x1 - x0) * (t - t0) / (t1 - t0) if t1 > t0 else x0


# ---------------------------------------------------------------------------------------
# jobs to vehicles


def assignment_violations(problem, options, result) -> list[str]:
    """Every job and vehicle used at most once, times and empty travel recomputed from the
    table, battery feasibility (job plus the drive to the nearest charger, reserve kept),
    no low vehicle given a job, charge orders to distinct free chargers, and unassigned
    reasons consistent with the instance."""
    problems: list[str] = []
    o, e = options, options.energy
    tt = problem.travel_time_s
    vehicles = {v.id: v for v in problem.vehicles}
    jobs = {j.id: j for j in problem.jobs}
    seen_jobs: set[str] = set()
    seen_vehicles: set[str] = set()
    for a in result.assignments:
        if a.job_id not in jobs or a.vehicle_id not in vehicles:
            problems.append(f"assignment {a.job_id}->{a.vehicle_id}: unknown job or vehicle")
            continue
        if a.job_id in seen_jobs or a.vehicle_id in seen_vehicles:
            problems.append(f"assignment {a.job_id}->{a.vehicle_id}: job or vehicle used twice")
        seen_jobs.add(a.job_id)
        seen_vehicles.add(a.vehicle_id)
        j, v = jobs[a.job_id], vehicles[a.vehicle_id]
        if v.soc < o.charge_below_soc:
            problems.append(f"vehicle {v.id} is below the charging threshold but got job {j.id}")
        if v.available_s > problem.now_s + o.horizon_s:
            problems.append(f"vehicle {v.id} is busy beyond the horizon but got job {j.id}")
        empty = float(tt[v.station][j.from_station])
        factor = o.laden_time_factor if j.laden else 1.0
        job_s = float(tt[j.from_station][j.to_station]) * factor
        back = min(float(tt[j.to_station][c]) for c in problem.chargers)
        rate = e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s
        need = (empty + back) * e.unladen_kwh_per_s + job_s * rate
        if not math.isfinite(need) or need > (v.soc - e.reserve_soc) * e.capacity_kwh + 1e-6:
            problems.append(f"vehicle {v.id} lacks the charge for job {j.id} and a charger after it")
        depart = max(v.available_s, problem.now_s)
        pickup = max(depart + empty, j.earliest_s)
        delivery = pickup + o.handling_s + job_s
        for name, got, want in (("empty travel", a.empty_travel_s, empty), ("pickup", a.pickup_s, pickup), ("delivery", a.delivery_s, delivery)):
            if abs(got - want) > 1e-6:
                problems.append(f"job {j.id}: {name} {got} but the table gives {want}")
        if abs(a.lateness_s - max(0.0, delivery - j.deadline_s)) > 1e-6:
            problems.append(f"job {j.id}: lateness {a.lateness_s} is wrong")
    chargers_used: set[int] = set()
    for c in result.charging:
        v = vehicles.get(c.vehicle_id)
        if v is None or v.soc >= o.charge_below_soc:
            problems.append(f"charge order for {c.vehicle_id}, which is not below the threshold")
        if c.vehicle_id in seen_vehicles:
            problems.append(f"vehicle {c.vehicle_id} both charges and takes a job")
        if c.charger not in problem.chargers or c.charger in problem.busy_chargers or c.charger in chargers_used:
            problems.append(f"charge order for {c.vehicle_id} to a charger that is not free: {c.charger}")
        chargers_used.add(c.charger)
    listed = seen_jobs | {jid for jid, _ in result.unassigned}
    if listed != set(jobs) or len(result.unassigned) + len(result.assignments) != len(jobs):
        problems.append("every job must be either assigned or listed unassigned, once")
    return problems


def brute_force_assignment_cost(cost: list[list[float]], unassigned: list[float]) -> float:
    """Least total cost of matching rows (jobs) to columns (vehicles) or leaving a row
    unmatched, by trying every option (tiny instances); ``inf`` marks forbidden pairs."""
    n_rows, n_cols = len(cost), len(cost[0]) if cost else 0

    @functools.lru_cache(maxsize=None)
    def best(row: int, used: int) -> float:
        if row == n_rows:
            return 0.0
        out = unassigned[row] + best(row + 1, used)
        for col in range(n_cols):
            if not used >> col & 1 and math.isfinite(cost[row][col]):
                out = min(out, cost[row][col] + best(row + 1, used | 1 << col))
        return out

    return best(0, 0)


def chain_violations(problem, options, result, max_jobs: int) -> list[str]:
    """Look-ahead chains: each job at most once, each vehicle one chain of at most
    ``max_jobs`` jobs, no low or far-busy vehicle used, steps back to back with times
    from the table, the battery covering the chain and the drive to a charger after it."""
    problems: list[str] = []
    o, e = options, options.energy
    tt = problem.travel_time_s
    vehicles = {v.id: v for v in problem.vehicles}
    jobs = {j.id: j for j in problem.jobs}
    seen: set[str] = set()
    used_vehicles: set[str] = set()
    for chain in result.chains:
        v = vehicles.get(chain.vehicle_id)
        if v is None or chain.vehicle_id in used_vehicles:
            problems.append(f"chain of unknown or repeated vehicle {chain.vehicle_id}")
            continue
        used_vehicles.add(v.id)
        if v.soc < o.charge_below_soc or v.available_s > problem.now_s + o.horizon_s:
            problems.append(f"vehicle {v.id} may not take jobs (low or busy beyond the horizon)")
        if not 1 <= len(chain.steps) <= max_jobs:
            problems.append(f"vehicle {v.id}: {len(chain.steps)} jobs, limit {max_jobs}")
        t, pos, kwh = max(v.available_s, problem.now_s), v.station, 0.0
        for step in chain.steps:
            j = jobs.get(step.job_id)
            if j is None or step.job_id in seen:
                problems.append(f"vehicle {v.id}: unknown or repeated job {step.job_id}")
                break
            seen.add(j.id)
            empty = float(tt[pos][j.from_station])
            job_s = float(tt[j.from_station][j.to_station]) * (o.laden_time_factor if j.laden else 1.0)
            pickup = max(t + empty, j.earliest_s)
            delivery = pickup + o.handling_s + job_s
            for name, got, want in (("depart", step.depart_s, t), ("pickup", step.pickup_s, pickup), ("delivery", step.delivery_s, delivery)):
                if abs(got - want) > 1e-6:
                    problems.append(f"vehicle {v.id}, job {j.id}: {name} {got}, the table gives {want}")
            kwh += empty * e.unladen_kwh_per_s + job_s * (e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s)
            t, pos = delivery, j.to_station
        back = min(float(tt[pos][c]) for c in problem.chargers)
        if not math.isfinite(kwh + back) or kwh + back * e.unladen_kwh_per_s > (v.soc - e.reserve_soc) * e.capacity_kwh + 0.01:
            problems.append(f"vehicle {v.id}: the chain and the drive to a charger need more than its charge")
    listed = seen | {jid for jid, _ in result.unassigned}
    if listed != set(jobs) or len(seen) + len(result.unassigned) != len(jobs):
        problems.append("every job must be either in a chain or listed unassigned, once")
    return problems
