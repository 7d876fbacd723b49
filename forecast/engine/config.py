"""The settings that change a forecast's numbers besides its data: members, paths, seed, the
backtest a series' own evidence comes from, and for runs the years, the grades fitted and the
provincial method's thresholds. A run's id hashes them (`to_dict`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from smfcast.defaults import BACKTEST, MEMBERS, N_PATHS, SEED
from smfcast.engine.provincial import MIN_DIRECT_POINTS
from smfcast.registry.series import UNFIT_QUALITIES

PRIOR_SIGMA = {"log": 0.05, "logit": 0.10, "none": 0.05}  # per sqrt(year); see provincial.py


@dataclass(frozen=True)
class EngineConfig:
    """Everything besides the data that changes the numbers (it goes into the run id)."""

    seed: int = SEED
    n_paths: int = N_PATHS
    until_year: int = 2030
    models: tuple[str, ...] = MEMBERS
    exclude_qualities: tuple[str, ...] = UNFIT_QUALITIES
    min_direct_points: int = MIN_DIRECT_POINTS
    prior_sigma: dict = field(default_factory=lambda: dict(PRIOR_SIGMA))
    # The backtest every run makes of the series it fits, for member weights and band calibration
    # (the same defaults as `smfcast backtest`); backtest_windows = 0 keeps equal, raw ensembles.
    backtest_h: int = BACKTEST["h"]
    backtest_windows: int = BACKTEST["n_windows"]
    backtest_paths: int = BACKTEST["n_paths"]

    def to_dict(self) -> dict:
        return {"seed": self.seed, "n_paths": self.n_paths, "until_year": self.until_year, "models": list(self.models),
                "exclude_qualities": list(self.exclude_qualities), "min_direct_points": self.min_direct_points,
                "prior_sigma": dict(sorted(self.prior_sigma.items())), "backtest_h": self.backtest_h,
                "backtest_windows": self.backtest_windows, "backtest_paths": self.backtest_paths}

    @classmethod
    def from_dict(cls, d: dict) -> "EngineConfig":
        defaults = cls()  # runs stored before the backtest settings existed read back with today's defaults
        return cls(seed=int(d["seed"]), n_paths=int(d["n_paths"]), until_year=int(d["until_year"]), models=tuple(d["models"]),
                   exclude_qualities=tuple(d["exclude_qualities"]), min_direct_points=int(d["min_direct_points"]),
                   prior_sigma=dict(d["prior_sigma"]), backtest_h=int(d.get("backtest_h", defaults.backtest_h)),
                   backtest_windows=int(d.get("backtest_windows", defaults.backtest_windows)),
                   backtest_paths=int(d.get("backtest_paths", defaults.backtest_paths)))
