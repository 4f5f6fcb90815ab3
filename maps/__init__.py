"""Track maps: loading, validating, projecting; the immutable TrackMap; MovingAI grids.

Entry points: :func:`load_track_map` (a built-in name, a GeoJSON file or a MovingAI
``.map``), :class:`~maps.builder.MapBuilder` for maps made in code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from maps.errors import MapError
from maps.trackmap import TrackMap

DEFAULT_MAP = "bac_luan_2"


def builtin_map_names() -> tuple[str, ...]:
    data = resources.files("maps") / "data"
    return tuple(sorted(p.name[: -len(".geojson")] for p in data.iterdir() if p.name.endswith(".geojson")))


def resolve_map_path(name_or_path: str | Path) -> Path:
    """The file behind a built-in map name or a path; one-line MapError if neither."""
    text = str(name_or_path)
    if text in builtin_map_names():
        return Path(str(resources.files("maps") / "data" / f"{text}.geojson"))
    path = Path(text)
    if path.is_file():
        return path
    raise MapError(f"no map {text!r}: not a built-in map ({', '.join(builtin_map_names())}) and no such file")


def load_track_map(name_or_path: str | Path = DEFAULT_MAP, *, check: bool = True) -> TrackMap:
    """Load and build a track map: a built-in name, a GeoJSON file or a MovingAI ``.map``.

    Built maps are immutable, so repeated loads of an unchanged file share one object.
    """
    path = resolve_map_path(name_or_path)
    stat = path.stat()
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, check)


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int, _size: int, check: bool) -> TrackMap:
    if path.endswith(".map"):
        from maps.movingai import load_map

        return load_map(path)
    from maps.build import build_track_map
    from maps.geojson import parse_geojson, read_geojson_file

    return build_track_map(parse_geojson(read_geojson_file(path), source=path), check=check)


__all__ = ["DEFAULT_MAP", "TrackMap", "load_track_map", "resolve_map_path", "builtin_map_names"]
