"""The contract every forecasting model meets.

Models see a 1-D array of the *transformed* series (log or logit), know nothing of pandas, files
or Flask, and answer with simulated future paths shaped (n_paths, h). Public methods validate;
private `_fit` / `_sample` compute. Fitted state lives in attributes ending in `_`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

MIN_POINTS = 3


class NotFittedError(RuntimeError):
    pass


class Model(ABC):
    """Base class: subclasses implement `_fit(y)`, `_sample(h, n_paths, rng)`, `_point(h)` and `_describe()`."""

    name = "model"

    def __init__(self, season_length: int = 1, transformed: bool = False):
        if int(season_length) < 1:
            raise ValueError(f"{self.name}: season_length must be >= 1, got {season_length}")
        self.season_length = int(season_length)
        # the series it sees is on a log or Box-Cox scale: a seasonal pattern there is additive
        self.transformed = bool(transformed)
        self.y_ = None

    def fit(self, y) -> "Model":
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"{self.name}: expected a 1-D series, got shape {y.shape}")
        if len(y) < MIN_POINTS:
            raise ValueError(f"{self.name}: the series has {len(y)} points; at least {MIN_POINTS} are needed")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: the series contains non-finite values (NaN or inf)")
        self.y_ = y
        self.constant_ = bool(np.ptp(y) < 1e-12)
        if not self.constant_:
            self._fit(y)
        return self

    def sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        if self.y_ is None:
            raise NotFittedError(f"{self.name}: call fit() before sample()")
        if int(h) < 1 or int(n_paths) < 1:
            raise ValueError(f"{self.name}: h and n_paths must be positive, got h={h}, n_paths={n_paths}")
        if self.constant_:
            # No variation was ever observed: the only honest model is the constant itself.
            return np.full((int(n_paths), int(h)), self.y_[-1])
        paths = np.asarray(self._sample(int(h), int(n_paths), rng), dtype=float)
        if paths.shape != (n_paths, h):
            raise RuntimeError(f"{self.name}: produced paths of shape {paths.shape}, expected {(n_paths, h)}")
        return paths

    def point_forecast(self, h: int) -> np.ndarray:
        """The wrapped library's own point forecast for steps 1..h (its `predict`/`get_forecast`):
        what the paths' median must track, checked for every member in the tests."""
        if self.y_ is None:
            raise NotFittedError(f"{self.name}: call fit() before point_forecast()")
        if self.constant_:
            return np.full(int(h), self.y_[-1])
        return np.asarray(self._point(int(h)), dtype=float)

    def describe(self) -> dict:
        if self.y_ is None:
            raise NotFittedError(f"{self.name}: call fit() before describe()")
        base = {"model": self.name, "n_obs": int(len(self.y_)), "season_length": self.season_length}
        if self.constant_:
            return {**base, "note": "constant series: paths repeat the constant"}
        return {**base, **self._describe()}

    @abstractmethod
    def _fit(self, y: np.ndarray) -> None:
        """Fit on a validated, non-constant 1-D series; keep state in attributes ending in `_`."""

    @abstractmethod
    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """Return paths shaped (n_paths, h)."""

    @abstractmethod
    def _point(self, h: int) -> np.ndarray:
        """The library's point forecast for steps 1..h."""

    def _describe(self) -> dict:
        return {}


def seed_from(rng: np.random.Generator) -> int:
    """An integer seed for libraries that take one, drawn from our generator."""
    return int(rng.integers(0, 2**31 - 1))
