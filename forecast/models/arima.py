"""ARIMA from statsmodels: differencing by unit-root test, order by AICc, paths by simulation.

* d: KPSS (level stationarity, 5%) on the series, then on its differences, at most 2; on series too
  short for the test (< 8 points) d = 1, the random-walk default for balances and ratios.
* order: every (p, q) with p, q <= 2 whose parameter count leaves at least 3 residual degrees of
  freedom; with d = 0 a constant, with d = 1 with and without drift; the smallest AICc wins.
* paths: `simulate(anchor="end")` of the chosen state-space model under `PARAM_DRAWS` parameter
  vectors drawn from the estimates' asymptotic normal distribution, so the band carries parameter
  uncertainty (above all the drift's) as well as the innovations, and sigma2 takes the n - k
  degrees-of-freedom correction. Measured over 200 replications with AICc order selection: AR(1)
  n=40, 80% bands cover 73-80% and 95% bands 91-94%; random walk with drift n=30, 74-78.5% and
  91.5-94.5% (plug-in parameters alone: about 72% and 89%). The backtests calibrate what remains.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import Model

MIN_TEST_POINTS = 8
PARAM_DRAWS = 20


def choose_d(y: np.ndarray) -> int:
    """KPSS-guided differencing; at most one difference below 20 points, where a second one turns
    a few noisy years into a quadratic trend (seen on M3 yearly: exploding paths)."""
    from statsmodels.tsa.stattools import kpss
    if len(y) < MIN_TEST_POINTS:
        return 1
    max_d = 2 if len(y) >= 20 else 1
    x = y
    for d in range(max_d + 1):
        if len(x) < MIN_TEST_POINTS or np.ptp(x) < 1e-12:
            return d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = kpss(x, regression="c", nlags="auto")[1]
        if p_value > 0.05:
            return d
        if d == max_d:
            return d
        x = np.diff(x)
    return max_d


def aicc(result) -> float:
    k = len(result.params)
    n = result.nobs
    return float(result.aic + (2 * k * (k + 1)) / max(n - k - 1, 1e-9))


class ARIMA(Model):
    name = "arima"

    def __init__(self, season_length: int = 1, max_p: int = 2, max_q: int = 2):
        super().__init__(season_length)
        self.max_p, self.max_q = max_p, max_q

    def _candidates(self, n: int, d: int):
        trends = {0: ["c"], 1: ["t", "n"], 2: ["n"]}[d]
        for p in range(self.max_p + 1):
            for q in range(self.max_q + 1):
                for trend in trends:
                    k = p + q + (trend != "n") + 1  # + sigma2
                    if n - d - k >= 3:
                        yield (p, d, q), trend

    def _fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
        self.d_ = choose_d(y)
        best, warned, tried = None, 0, 0
        candidates = list(self._candidates(len(y), self.d_)) or [((0, self.d_, 0), "n")]
        for order, trend in candidates:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    # The search skips the parameter covariance (two thirds of the fit time);
                    # only the chosen model is refitted with it, for the parameter draws.
                    res = SMARIMA(y, order=order, trend=trend).fit(cov_type="none", low_memory=True)
                except (ValueError, np.linalg.LinAlgError):
                    continue
            tried += 1
            score = aicc(res)
            if not np.isfinite(score):
                continue
            if best is None or score < best[0]:
                best = (score, order, trend, res, any("converge" in str(w.message).lower() for w in caught))
            warned += any("converge" in str(w.message).lower() for w in caught)
        if best is None:
            raise RuntimeError(f"arima: no candidate order could be fitted among {len(candidates)}")
        self.aicc_, self.order_, self.trend_, _, self.converged_warning_ = best
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = SMARIMA(y, order=self.order_, trend=self.trend_).fit()
        self.n_candidates_, self.n_convergence_warnings_ = tried, warned

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        res = self.result_
        theta = np.array(res.params, dtype=float)
        # Degrees-of-freedom correction: the MLE of sigma2 divides by n, not n - k.
        k, n = len(theta), int(res.nobs)
        theta[-1] *= n / max(n - k, 1)
        try:
            cov = np.asarray(res.cov_params(), dtype=float)
            usable = np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh((cov + cov.T) / 2) > -1e-12)
        except (ValueError, np.linalg.LinAlgError):
            usable = False
        draws = min(PARAM_DRAWS, n_paths)
        sizes = np.full(draws, n_paths // draws)
        sizes[: n_paths - sizes.sum()] += 1
        parts = []
        for size in sizes:
            params = theta  # the point estimates (with the corrected sigma2)
            if usable:
                # Truncated draws: retry until sigma2 > 0 and the AR/MA parts are stationary and
                # invertible; after ten misses keep the point estimates for this block.
                for _ in range(10):
                    candidate = rng.multivariate_normal(theta, cov, method="eigh", check_valid="ignore")
                    if candidate[-1] > 0 and self._stationary(candidate):
                        params = candidate
                        break
            parts.append(self._simulate(params, h, int(size), rng))
        return np.vstack(parts)

    def _stationary(self, params: np.ndarray) -> bool:
        """A drawn vector is usable only if its AR part is stationary and its MA part invertible:
        near-unidentified MA terms (|theta| ~ 1) have huge standard errors and would explode."""
        names = self.result_.model.param_names
        ar = np.array([params[i] for i, n in enumerate(names) if n.startswith("ar.L")])
        ma = np.array([params[i] for i, n in enumerate(names) if n.startswith("ma.L")])
        for poly in (np.r_[1.0, -ar] if ar.size else None, np.r_[1.0, ma] if ma.size else None):
            if poly is not None and np.any(np.abs(np.roots(poly[::-1])) <= 1.0 + 1e-6):
                return False
        return True

    def _simulate(self, params: np.ndarray, h: int, size: int, rng) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = self.result_.model.smooth(params)
                sim = np.asarray(res.simulate(nsimulations=h, repetitions=size, anchor="end", rng=rng)).reshape(h, size).T
                if np.all(np.isfinite(sim)):
                    return sim
            except (ValueError, np.linalg.LinAlgError):
                pass
            # A drawn vector the filter cannot use (explosive, singular): fall back to the estimates.
            return np.asarray(self.result_.simulate(nsimulations=h, repetitions=size, anchor="end", rng=rng)).reshape(h, size).T

    def _describe(self) -> dict:
        return {"order": list(self.order_), "trend": {"c": "constant", "t": "drift", "n": "none"}[self.trend_],
                "aicc": round(self.aicc_, 4), "sigma2": float(self.result_.params[-1]),
                "candidates_fitted": self.n_candidates_, "convergence_warnings": self.n_convergence_warnings_,
                "chosen_had_convergence_warning": bool(self.converged_warning_)}
