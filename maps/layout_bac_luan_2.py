"""Parametric layout of the default map ``bac_luan_2`` (regenerate: ``python -m maps.layout_bac_luan_2``).

The GeoJSON this writes (``maps/data/bac_luan_2.geojson``) is what ships and loads; this
script is how an engineer changes it. Figures come from ``shared/site.md``; those marked
*estimate* there are estimates here too.

Local frame: metres of the projected CRS (EPSG:3405), origin at the south (Vietnamese) end
of the Bac Luan II bridge, x east, y north. The bridge (618 m x 27.7 m) runs north over the
Ka Long / Beilun river; its midpoint is placed at the site position of site.md
(21.5290 N, 107.9930 E). South of it, the Vietnamese site (about 900 m x 500 m):

* top band: two one-way main roads (R1 west, R2 east) joining the bridge lanes;
* R3, the waterside transfer road (4 m/s): each yard block has 4 IGV transfer bays under
  its crane at the block's north end; export yard west (E1-E3), import yard east (I1-I3),
  blocks 250 m x 30 m (40 bays x 10 rows x 5 tiers, 2 reefer rows), two ARMGs each;
* the centre: 4 drive-through scanner bays between R3 and R4, the customs inspection hold
  and the quality-testing lab off R4, parking aisles R5 and R6 (bays both sides),
  charging bays south of R6;
* landside: R7 (west) behind the blocks' truck ends, R8 (east) with the e-Gate truck
  exchange bays; the administration building and the 7,000 m² warehouse (no vehicles);
* outer verticals x = +-440 and inner verticals x = +-240 close the one-way loops.

North of the river, the Dongxing handover yard (300 m x 200 m): a one-way ring with two
aisles of handover bays, HA where IGVs put exports down and HB where the Dongxing yard
puts imports down (zones ``handover-export`` and ``handover-import``, property ``yard``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maps.builder import MapBuilder
from maps.projection import DEFAULT_CRS, to_projected, to_wgs84
from maps.roadnet import Bay, Road, RoadNetwork
from maps.trackmap import VehicleSpec

BRIDGE_MIDPOINT_LONLAT = (107.9930, 21.5290)  # site.md, estimate +-500 m
BRIDGE_LENGTH_M = 618.0  # site.md (Vietnamplus 2019)
BRIDGE_WIDTH_M = 27.7
MAIN_SPEED_MPS = 8.3  # unladen top speed (site.md)
YARD_SPEED_MPS = 4.0  # yards and transfer points (site.md)
BAY_SPEED_MPS = 2.0  # creeping into a dead-end bay (estimate)
LANE_WIDTH_M = 3.75
BAY_PITCH_M = 8.0
BLOCK_LENGTH_M = 250.0
BLOCK_WIDTH_M = 30.0
EXPORT_BLOCKS_X = (-380.0, -335.0, -290.0)
IMPORT_BLOCKS_X = (290.0, 335.0, 380.0)
TRANSFER_OFFSETS_M = (-12.0, -4.0, 4.0, 12.0)  # transfer bays across a block's end
SCANNER_BAYS_X = (-150.0, -135.0, -120.0, -105.0)

OUT_PATH = Path(__file__).with_name("data") / "bac_luan_2.geojson"


def _origin_lonlat() -> tuple[float, float]:
    mx, my = to_projected(*BRIDGE_MIDPOINT_LONLAT, DEFAULT_CRS)
    lon, lat = to_wgs84(float(mx), float(my) - BRIDGE_LENGTH_M / 2.0, DEFAULT_CRS)
    return float(lon), float(lat)


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def network() -> RoadNetwork:
    """The roads and bays of the default map."""
    net = RoadNetwork(turn_radius_m=15.0, turn_speed_mps=YARD_SPEED_MPS)
    road = net.add_road
    # Vietnamese side: horizontal roads (y) and verticals (x); +1 = east / north.
    road(Road("R1", "h", -50.0, -440.0, 440.0, -1, MAIN_SPEED_MPS))
    road(Road("R2", "h", -80.0, -440.0, 440.0, +1, MAIN_SPEED_MPS))
    road(Road("R3", "h", -125.0, -440.0, 440.0, +1, YARD_SPEED_MPS))
    road(Road("R4", "h", -230.0, -240.0, 240.0, +1, YARD_SPEED_MPS))
    road(Road("R5", "h", -305.0, -240.0, 240.0, -1, YARD_SPEED_MPS))
    road(Road("R6", "h", -385.0, -240.0, 240.0, +1, YARD_SPEED_MPS))
    road(Road("R7", "h", -445.0, -440.0, 440.0, -1, MAIN_SPEED_MPS))
    road(Road("R8", "h", -475.0, -440.0, 440.0, +1, MAIN_SPEED_MPS))
    road(Road("VW", "v", -440.0, -475.0, -50.0, -1, MAIN_SPEED_MPS))
    road(Road("VCW", "v", -240.0, -475.0, -50.0, +1, MAIN_SPEED_MPS))
    road(Road("VCE", "v", 240.0, -475.0, -50.0, -1, MAIN_SPEED_MPS))
    road(Road("VE", "v", 440.0, -475.0, -50.0, +1, MAIN_SPEED_MPS))
    for k, x in enumerate(SCANNER_BAYS_X, start=1):
        road(Road(f"SCN{k}", "v", x, -230.0, -125.0, -1, YARD_SPEED_MPS, stops=((f"SCN-{k}", "scanner_bay", -177.5),)))
    # The bridge: one dedicated IGV lane each way, 10 m apart on the 27.7 m deck.
    road(Road("BN", "v", 5.0, -80.0, 670.0, +1, MAIN_SPEED_MPS))
    road(Road("BS", "v", -5.0, -80.0, 670.0, -1, MAIN_SPEED_MPS))
    # Dongxing handover yard: a counter-clockwise ring and two aisles.
    road(Road("C1", "h", 670.0, -140.0, 140.0, +1, MAIN_SPEED_MPS))
    road(Road("C2", "h", 820.0, -140.0, 140.0, -1, MAIN_SPEED_MPS))
    road(Road("C3", "v", 140.0, 670.0, 820.0, +1, MAIN_SPEED_MPS))
    road(Road("C4", "v", -140.0, 670.0, 820.0, -1, MAIN_SPEED_MPS))
    road(Road("HA", "h", 720.0, -140.0, 140.0, -1, YARD_SPEED_MPS))
    road(Road("HB", "h", 770.0, -140.0, 140.0, +1, YARD_SPEED_MPS))

    bay = net.add_bay
    for prefix, xs in (("E", EXPORT_BLOCKS_X), ("I", IMPORT_BLOCKS_X)):
        for b, xb in enumerate(xs, start=1):
            for t, dx in enumerate(TRANSFER_OFFSETS_M, start=1):
                # R3 runs east; a right turn (south) ends 15 m further east, under the crane.
                bay(Bay(f"{prefix}{b}-T{t}", "crane_transfer", "R3", xb + dx - 15.0, -1, zone=f"{prefix}{b}"))
    for k in range(8):
        bay(Bay(f"INS-{k + 1}", "inspection_bay", "R4", -60.0 + BAY_PITCH_M * k, -1, zone="inspection"))
    for k in range(3):
        bay(Bay(f"LAB-{k + 1}", "lab_bay", "R4", 40.0 + BAY_PITCH_M * k, -1, zone="lab"))
    parking = 0
    for road_id in ("R5", "R6"):
        sides = (+1, -1) if road_id == "R5" else (+1,)
        for side in sides:
            for at in np.arange(-200.0, 200.0 + 1e-9, BAY_PITCH_M):
                parking += 1
                bay(Bay(f"P-{parking:03d}", "parking", road_id, float(at), side, zone="parking"))
    for k in range(24):
        bay(Bay(f"CHG-{k + 1:02d}", "charger", "R6", -96.0 + BAY_PITCH_M * k, -1, zone="charging"))
    for k in range(12):
        bay(Bay(f"GATE-{k + 1:02d}", "truck_exchange", "R8", -60.0 + BAY_PITCH_M * k, -1, zone="gate"))
    handover = 0
    for road_id, side, zone in (("HA", +1, "handover-export"), ("HB", +1, "handover-import")):
        # HA runs west: left is south; HB runs east: left is north. Both face the ring.
        for at in np.arange(-104.0, 104.0 + 1e-9, BAY_PITCH_M):
            handover += 1
            bay(Bay(f"HO-{handover:02d}", "handover", road_id, float(at), side, zone=zone))
    return net


def zones(builder: MapBuilder) -> None:
    z = builder.zone
    half = BRIDGE_WIDTH_M / 2.0
    z("bridge", "bridge", _rect(-half, 0.0, half, BRIDGE_LENGTH_M), name="Bac Luan II bridge")
    z("river-w", "no_go", _rect(-450.0, 0.0, -half, BRIDGE_LENGTH_M), name="Ka Long river (west)")
    z("river-e", "no_go", _rect(half, 0.0, 450.0, BRIDGE_LENGTH_M), name="Ka Long river (east)")
    y1 = -165.0
    for prefix, xs, label in (("E", EXPORT_BLOCKS_X, "export"), ("I", IMPORT_BLOCKS_X, "import")):
        for b, xb in enumerate(xs, start=1):
            z(f"{prefix}{b}", "yard_block", _rect(xb - BLOCK_WIDTH_M / 2, y1 - BLOCK_LENGTH_M, xb + BLOCK_WIDTH_M / 2, y1),
              name=f"{label.capitalize()} block {prefix}{b}", yard=label, bays=40, rows=10, tiers=5, reefer_rows=2, cranes=2)
    z("scanner", "scanner", _rect(-160.0, -215.0, -95.0, -140.0), name="Container scanner (4 drive-through bays)")
    z("inspection", "inspection", _rect(-52.0, -268.0, 16.0, -238.0), name="Customs inspection hold")
    z("lab", "lab", _rect(48.0, -268.0, 80.0, -238.0), name="Quality-testing laboratory")
    z("parking", "parking", _rect(-222.0, -370.0, 222.0, -270.0), name="IGV parking")
    z("charging", "charging", _rect(-88.0, -420.0, 104.0, -395.0), name="Charging area")
    z("gate", "gate", _rect(-52.0, -512.0, 40.0, -480.0), name="e-Gate truck exchange")
    z("admin", "building", _rect(150.0, -545.0, 250.0, -495.0), name="Administration building")
    z("warehouse", "building", _rect(-250.0, -565.0, -150.0, -495.0), name="Warehouse (7,000 m²)")
    # One aisle each way: exports put down on HA (the first reached from the bridge),
    # imports put down by the Dongxing yard on HB. Shared bays filled with imports the
    # core could not clear fast enough and exports starved (day_2026, bench/README.md).
    z("handover-export", "handover", _rect(-150.0, 640.0, 150.0, 745.0),
      name="Dongxing handover yard, export aisle", yard="export")
    z("handover-import", "handover", _rect(-150.0, 745.0, 150.0, 840.0),
      name="Dongxing handover yard, import aisle", yard="import")


def build_geojson() -> dict:
    builder = MapBuilder(
        name="bac_luan_2",
        crs=DEFAULT_CRS,
        origin_lonlat=_origin_lonlat(),
        cell_length_m=8.0,
        vehicle=VehicleSpec(),
        header={
            "description": "Bac Luan II smart border gate, Mong Cai (VN) - Dongxing (CN): IGV track, yards, "
            "scanner, lab, customs hold, charging, parking, e-Gate, bridge and Dongxing handover yard",
            "bridge_midpoint_lonlat": list(BRIDGE_MIDPOINT_LONLAT),
            "bridge_length_m": BRIDGE_LENGTH_M,
            "generator": "python -m maps.layout_bac_luan_2",
            "sources": "shared/site.md (VNA/Vietnamplus 2019, Xinhua 2019; layout is an estimate)",
        },
    )
    zones(builder)
    network().emit(builder)
    return builder.geojson()


def main() -> None:
    data = build_geojson()
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT_PATH} ({len(data['features'])} features)")


if __name__ == "__main__":
    main()
