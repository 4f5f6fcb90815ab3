"""Load + build time and memory of the default map and of a synthetic map 10x its size.

Run: ``python -m bench.maps``. Each map is loaded in a fresh subprocess so that the peak
resident memory is its own. Targets (issue 3): default map ready in <= 2 s; the 10x map in
<= 30 s and <= 2 GiB. The scaling line compares the two in the same run: build time should
grow about in proportion to the number of cells.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import maps.build, maps.geojson, shapely, scipy.sparse.csgraph  # imports are not the map's cost
base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
from maps import load_track_map
tm = load_track_map(sys.argv[1])
seconds = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kb / 1024, "delta_rss_mib": (peak_kb - base_kb) / 1024, **tm.summary()}))
"""


def measure(map_ref: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, map_ref], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from maps.synthetic import synthetic_terminal

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "synthetic_10x.geojson"
        big.write_text(json.dumps(synthetic_terminal(n_roads=22, name="synthetic_10x").geojson()))
        rows = [("bac_luan_2", measure("bac_luan_2"), 2.0), ("synthetic 10x", measure(str(big)), 30.0)]
    print(f"{'map':<15} {'cells':>7} {'stations':>8} {'lane km':>8} {'conflict pairs':>14} {'load+build s':>12} {'target s':>8} {'peak RSS MiB':>12} {'map RSS MiB':>11}")
    for name, r, target in rows:
        print(f"{name:<15} {r['cells']:>7} {r['stations']:>8} {r['lane_km']:>8.1f} {r['conflict_pairs']:>14} {r['seconds']:>12.2f} {target:>8.0f} {r['peak_rss_mib']:>12.0f} {r['delta_rss_mib']:>11.0f}")
    (_, small, _), (_, large, _) = rows
    size_ratio = large["cells"] / small["cells"]
    time_ratio = large["seconds"] / small["seconds"]
    print(f"scaling: {size_ratio:.1f}x the cells took {time_ratio:.1f}x the time (ratio {time_ratio / size_ratio:.2f}; 1.0 = linear)")
    ok = small["seconds"] <= 2.0 and large["seconds"] <= 30.0 and large["peak_rss_mib"] <= 2048
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
