"""What many series teach each other: the ensemble learned from held-back forecasts pooled
across series (cross-learning), for forecasts of many series at once.

Every series is forecast from its data minus its last h points ("inner") and, where at least 6
points remain, minus its last 2h ("inner2"); those forecasts are scored against the held-back
points. Pooled over the series they decide, in this order:

* the pool: members whose relative MAE is more than `POOL_TOLERANCE` above the typical member's
  are left out (`ensemble.pool`, one case per series);
* the weights: 1 / mean scaled CRPS per member, shrunk towards equal by the number of series;
* the point rule: the weighted median of member points, or their mean where its scaled MAE is
  lower by more than a standard error;
* the combination: path mixture or quantile average, by the lower mean scaled interval score;
* per-horizon conformal factors of the chosen ensemble, from both held-back origins (more scores
  for a tail quantile; measured against one origin in docs/anchors.md); unlike a run's own
  factors they may narrow a band as well as widen it, because they are quantiles of many series'
  scores, not of a handful of windows.

A series' evidence is a dict made by `forecaster.member_evidence`: `id`, `inner` (member ->
natural-unit paths), `inner_truth`, `inner_scale` (the naive MAE of the inner training part),
and `inner2`, `inner2_truth` where that origin exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smfcast.engine import calibration, metrics
from smfcast.engine.ensemble import (
    COMBINATIONS,
    DEFAULT_COMBINATION,
    POOL_TOLERANCE,
    choose_point_rule,
    combine,
    pool,
    pooled,
    relative_errors,
    shrunk_weights,
)
from smfcast.registry.transforms import Transform
from smfcast.seeds import rng_for

INNER_ORIGINS = ("inner", "inner2")


@dataclass(frozen=True)
class PooledLearning:
    """What the pooled held-back forecasts decided, for every series of the call."""

    series: int  # series whose inner holdout every member fitted (the evidence)
    pool: list[str]
    relative_errors: dict[str, float]
    weights: dict[str, float]
    shrinkage: float
    point_rule: str
    point_rule_scores: dict[str, float]
    combination: str
    combination_msis: dict[str, float]
    calibration: list[dict] = field(default_factory=list)  # per horizon: h, scores, infinite, factor, rule

    @property
    def factors(self) -> list:
        return [hz["factor"] for hz in self.calibration]

    @property
    def weighting(self) -> str:
        if self.shrinkage >= 1:
            return "equal: fewer than two members scored on held-back points"
        return f"held-back points of {self.series} series: 1 / CRPS, shrunk towards equal (lambda {self.shrinkage:.2f})"

    @property
    def status(self) -> str:
        return calibration.status_of(self.calibration)

    def to_dict(self) -> dict:
        def clean(d):
            return {k: (round(float(v), 6) if v is not None and np.isfinite(v) else None) for k, v in d.items()}
        return {"series": self.series, "pool": list(self.pool), "relative_errors": clean(self.relative_errors),
                "weights": clean(self.weights), "shrinkage": round(self.shrinkage, 6), "point_rule": self.point_rule,
                "point_rule_scores": clean(self.point_rule_scores), "combination": self.combination,
                "combination_msis": clean(self.combination_msis), "status": self.status,
                "calibration": [{**hz, "factor": round(hz["factor"], 6) if hz["factor"] is not None else None}
                                for hz in self.calibration]}


def _inner_complete(results: list[dict], models: tuple[str, ...]) -> list[dict]:
    """The series whose inner holdout every member fitted and which has a naive scale."""
    return [r for r in results if r["inner"] is not None and all(m in r["inner"] for m in models)
            and np.isfinite(r.get("inner_scale", np.nan))]


def pooled_weights(results: list[dict], models: tuple[str, ...]) -> tuple[dict[str, float] | None, float]:
    """(weights, lambda): 1 / mean scaled CRPS of each member on the inner holdouts of the series
    where every member fitted, shrunk towards equal by the number of series."""
    complete = _inner_complete(results, models)
    if not complete:
        return None, 1.0
    scores = {m: float(np.mean([metrics.crps_from_paths(r["inner_truth"], r["inner"][m]) / r["inner_scale"] for r in complete]))
              for m in models}
    return shrunk_weights(scores, len(complete))


def pooled_pool(results: list[dict], models: tuple[str, ...]) -> tuple[list[str], dict[str, float]]:
    """(members kept, relative errors): forecast pooling (`ensemble.pool`) on the inner holdouts,
    one case per series."""
    complete = _inner_complete(results, models)
    errors = {m: [float(np.mean(np.abs(np.mean(r["inner"][m], axis=0) - r["inner_truth"]))) for r in complete] for m in models}
    return pool(relative_errors(errors), len(complete))


def pooled_point_rule(results: list[dict], weights: dict[str, float], models: tuple[str, ...]) -> tuple[str, dict[str, float]]:
    """The point rule (weighted median or mean of member points) with the lower mean scaled MAE on
    the inner holdouts."""
    names = sorted(m for m in models if weights[m] > 0)
    cases = []
    for r in _inner_complete(results, models):
        points = np.array([np.mean(r["inner"][m], axis=0) for m in names])
        cases.append((points, np.array([weights[m] for m in names]), r["inner_truth"], r["inner_scale"]))
    return choose_point_rule(cases)


def inner_ensembles(results: list[dict], weights, seed: int, point_rule: str, spaces: dict[str, Transform], key: str = "inner",
                    combinations: tuple[str, ...] = COMBINATIONS) -> dict[str, dict[str, tuple]]:
    """{combination: {series id: (model space, ensemble paths)}} on every series' held-back origin
    `key`, made once for choosing the combination and calibrating it."""
    out = {how: {} for how in combinations}
    for r in results:
        if r.get(key) is None:
            continue
        space = spaces[r["id"]]
        for how in combinations:
            out[how][r["id"]] = (space, combine(r[key], weights, rng_for(seed, r["id"], "ensemble:" + key), how, space,
                                                point_rule)[1])
    return out


def pooled_combination(results: list[dict], ensembles: dict[str, dict[str, tuple]]) -> tuple[str, dict[str, float]]:
    """The combination with the lower mean scaled interval score (MSIS) of the raw ensemble on the
    inner holdouts, pooled over series; and both scores."""
    msis = {}
    for how in COMBINATIONS:
        scores = []
        for r in results:
            if r["id"] not in ensembles[how] or not np.isfinite(r.get("inner_scale", np.nan)):
                continue
            space, ens = ensembles[how][r["id"]]
            lo, hi = metrics.quantile_band(space.inverse(ens), 95)
            scores.append(metrics.winkler_score(r["inner_truth"], lo, hi, 95) / r["inner_scale"])
        msis[how] = float(np.mean(scores)) if scores else np.inf
    return min(COMBINATIONS, key=lambda k: (msis[k], k != DEFAULT_COMBINATION)), msis


def pooled_factors(results: list[dict], ensembles: dict[str, dict[str, tuple]], h: int) -> list[dict]:
    """Per-horizon conformal factors of the chosen ensemble from every series' held-back origins
    (`ensembles`: origin key -> series id -> (model space, paths))."""
    scores = [[] for _ in range(h)]
    for key, by_id in ensembles.items():
        for r in results:
            if r["id"] not in by_id:
                continue
            space, ens = by_id[r["id"]]
            truth = space.forward_inside(r[key + "_truth"])
            for k in range(min(h, ens.shape[1])):
                scores[k].append(calibration.required_scale(truth[k], ens[:, k]))
    out = []
    for k, sc in enumerate(scores):
        factor, rule = calibration.quantile_factor(sc)
        out.append({"h": k + 1, "scores": len(sc), "infinite": int(np.sum(~np.isfinite(sc))), "factor": factor, "rule": rule})
    return out


def learn_pooled(results: list[dict], models: tuple[str, ...], seed: int, h: int, spaces: dict[str, Transform]) -> PooledLearning:
    """Pool, weights, point rule, combination and calibration from every series' held-back
    forecasts (the module docstring), for `models` (those that fit this kind of data)."""
    kept, relative = pooled_pool(results, models)
    weights, lam = pooled_weights(results, tuple(kept))
    weights = pooled(weights, list(models), kept)
    point_rule, point_scores = pooled_point_rule(results, weights, models)
    ensembles = inner_ensembles(results, weights, seed, point_rule, spaces)
    how, msis = pooled_combination(results, ensembles)
    later = {key: inner_ensembles(results, weights, seed, point_rule, spaces, key, (how,))[how] for key in INNER_ORIGINS[1:]}
    horizons = pooled_factors(results, {"inner": ensembles[how], **later}, h)
    return PooledLearning(len(_inner_complete(results, models)), kept, relative, weights, lam, point_rule, point_scores, how, msis, horizons)


__all__ = ["INNER_ORIGINS", "POOL_TOLERANCE", "PooledLearning", "learn_pooled", "pooled_combination", "pooled_factors",
           "pooled_point_rule", "pooled_pool", "pooled_weights"]
