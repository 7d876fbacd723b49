"""Combine members by mixing their sample paths.

A mixture keeps each member's own spread and adds the spread between members, which is exactly
the uncertainty about which model is right. Weights come from backtest accuracy once available;
until then (or when history is too short to rank models) every member that fitted gets an equal
share.
"""

from __future__ import annotations

import numpy as np


def normalize_weights(members: list[str], weights: dict[str, float] | None) -> dict[str, float]:
    """Weights for the members present, summing to one; equal when none are given."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    if not weights:
        return {m: 1.0 / len(members) for m in members}
    raw = {m: max(float(weights.get(m, 0.0)), 0.0) for m in members}
    total = sum(raw.values())
    if total <= 0:
        return {m: 1.0 / len(members) for m in members}
    return {m: w / total for m, w in raw.items()}


def allocate(n_paths: int, weights: dict[str, float]) -> dict[str, int]:
    """Paths per member by largest remainder, so counts sum to n_paths exactly and deterministically."""
    names = sorted(weights)
    exact = np.array([weights[m] * n_paths for m in names])
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    for i in order[: n_paths - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist()))


def mix(member_paths: dict[str, np.ndarray], weights: dict[str, float] | None, rng: np.random.Generator) -> np.ndarray:
    """A mixture of member paths with the given weights, shaped like one member's paths."""
    shapes = {p.shape for p in member_paths.values()}
    if len(shapes) != 1:
        raise ValueError(f"member paths differ in shape: {sorted(shapes)}")
    n_paths = shapes.pop()[0]
    counts = allocate(n_paths, normalize_weights(list(member_paths), weights))
    parts = []
    for name in sorted(member_paths):
        k = counts[name]
        if k:
            parts.append(member_paths[name][rng.choice(n_paths, size=k, replace=False)])
    return np.concatenate(parts, axis=0)[rng.permutation(n_paths)]
