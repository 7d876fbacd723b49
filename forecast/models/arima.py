"""ARIMA from statsmodels: differencing by unit-root test, order by AICc, paths by simulation.

* d: KPSS (level stationarity, 5%) on the series, then on its differences, at most 2; on series too
  short for the test (< 8 points) d = 1, the random-walk default for balances and ratios.
* order: (p, q) with p, q <= 2 whose parameter count leaves at least 3 residual degrees of
  freedom; with d = 0 a constant, with d = 1 with and without drift; the smallest AICc wins.
  The default search is stepwise (Hyndman & Khandakar 2008, as in R's auto.arima): start from
  (2,2), (0,0), (1,0), (0,1) and move to the best neighbour (p or q +-1, both +-1, drift on/off)
  while AICc improves. Measured on 120 M3 yearly series: 7.6 fits instead of 16.2, the grid's choice on
  91% of them, sMAPE 18.88 against 18.79, half the time; `search="grid"` fits every candidate.
* paths: for each of `PARAM_DRAWS` parameter vectors drawn from the estimates' asymptotic normal
  distribution, the forecast mean plus state-space noise from the filtered end state (what
  `simulate(anchor="end")` draws, vectorised), so the band carries parameter uncertainty (above
  all the drift's) as well as the innovations; sigma2 takes the n - k degrees-of-freedom
  correction. Measured over 200 replications (tests/test_model_contract.py, 2026-11-27): AR(1)
  n=40, 80% bands cover 75.5-79.5% and 95% bands 90-94.5%; random walk with drift n=30, 69-72.5%
  and 90-93% (another seed: 73-80% and 89.5-92.5%). The backtests calibrate what remains.
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

    def __init__(self, season_length: int = 1, max_p: int = 2, max_q: int = 2, search: str = "stepwise"):
        super().__init__(season_length)
        if search not in ("stepwise", "grid"):
            raise ValueError(f"arima: search must be 'stepwise' or 'grid', got {search!r}")
        self.max_p, self.max_q, self.search = max_p, max_q, search

    def _candidates(self, n: int, d: int) -> list[tuple[int, int, str]]:
        """Every admissible (p, q, trend) for a series of n points differenced d times."""
        out = []
        for p in range(self.max_p + 1):
            for q in range(self.max_q + 1):
                for trend in {0: ["c"], 1: ["t", "n"], 2: ["n"]}[d]:
                    k = p + q + (trend != "n") + 1  # + sigma2
                    if n - d - k >= 3:
                        out.append((p, q, trend))
        return out

    def _score(self, y: np.ndarray, p: int, q: int, trend: str):
        """(AICc, had a convergence warning), or None when the candidate cannot be fitted."""
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # The search skips the parameter covariance (two thirds of the fit time);
                # only the chosen model is refitted with it, for the parameter draws.
                res = SMARIMA(y, order=(p, self.d_, q), trend=trend).fit(cov_type="none", low_memory=True)
            except (ValueError, np.linalg.LinAlgError):
                return None
        score = aicc(res)
        return (score if np.isfinite(score) else np.inf), any("converge" in str(w.message).lower() for w in caught)

    def _fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
        self.d_ = choose_d(y)
        admissible = self._candidates(len(y), self.d_) or [(0, 0, "n")]
        scores: dict[tuple[int, int, str], tuple[float, bool] | None] = {}

        def visit(cands) -> None:
            for c in cands:
                if c in admissible and c not in scores:
                    scores[c] = self._score(y, *c)

        def best():
            fitted = [(v[0], c) for c, v in scores.items() if v is not None and np.isfinite(v[0])]
            return min(fitted)[1] if fitted else None

        if self.search == "grid":
            visit(admissible)
        else:
            default_trend = admissible[0][2] if self.d_ != 1 else "t"
            visit([(2, 2, default_trend), (0, 0, default_trend), (1, 0, default_trend), (0, 1, default_trend)])
            if best() is None:
                visit(admissible)
            while (current := best()) is not None:
                p, q, trend = current
                moves = [(dp, dq) for dp in (-1, 0, 1) for dq in (-1, 0, 1) if (dp, dq) != (0, 0)]
                neighbours = [(p + dp, q + dq, trend) for dp, dq in moves] + [(p, q, t) for t in ("c", "t", "n") if t != trend]
                visit(neighbours)
                if best() == current:
                    break
        chosen = best()
        if chosen is None:
            raise RuntimeError(f"arima: no candidate order could be fitted among {len(scores)} tried")
        p, q, self.trend_ = chosen
        self.order_ = (p, self.d_, q)
        self.aicc_, self.converged_warning_ = scores[chosen]
        tried = [v for v in scores.values() if v is not None]
        warned = sum(1 for v in tried if v[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = SMARIMA(y, order=self.order_, trend=self.trend_).fit()
        self.n_candidates_, self.n_convergence_warnings_ = len(tried), warned

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
        """`size` paths under one parameter vector: the forecast mean plus state-space noise
        propagated for all paths at once (statsmodels' `simulate` loops over repetitions in
        Python, 40x slower). The noise starts from the filtered end-state uncertainty, so it is
        the same distribution `simulate(anchor="end")` draws from."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for candidate in (params, np.asarray(self.result_.params, dtype=float)):
                try:
                    res = self.result_.model.filter(candidate)
                    sim = np.asarray(res.get_forecast(h).predicted_mean, dtype=float) + _state_noise(res, h, size, rng)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.all(np.isfinite(sim)):
                    return sim
            # Neither the draw nor the estimates give finite paths: fail loudly, the engine falls back.
            raise FloatingPointError("arima: simulated paths are not finite under the estimated parameters")

    def _describe(self) -> dict:
        return {"order": list(self.order_), "trend": {"c": "constant", "t": "drift", "n": "none"}[self.trend_],
                "aicc": round(self.aicc_, 4), "sigma2": float(self.result_.params[-1]),
                "candidates_fitted": self.n_candidates_, "convergence_warnings": self.n_convergence_warnings_,
                "chosen_had_convergence_warning": bool(self.converged_warning_)}


def _matrix(ssm, name: str) -> np.ndarray:
    m = np.asarray(ssm[name], dtype=float)
    return m[..., -1] if m.ndim == 3 else m


def _state_noise(res, h: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean deviations of the next h observations, shaped (size, h): the state error at the
    end of the sample (mean 0, the filter's predicted covariance) carried forward by the transition
    matrix, plus fresh state and observation disturbances at every step."""
    ssm = res.model.ssm
    design, transition = _matrix(ssm, "design"), _matrix(ssm, "transition")
    selection, state_cov, obs_cov = _matrix(ssm, "selection"), _matrix(ssm, "state_cov"), _matrix(ssm, "obs_cov")
    p0 = np.asarray(res.predicted_state_cov[:, :, -1], dtype=float)
    k = transition.shape[0]
    dev = rng.multivariate_normal(np.zeros(k), (p0 + p0.T) / 2, size=size, method="eigh", check_valid="ignore")
    chol_q = np.linalg.cholesky(state_cov + 1e-300 * np.eye(len(state_cov))) if np.any(state_cov) else np.zeros_like(state_cov)
    obs_sd = float(np.sqrt(max(obs_cov[0, 0], 0.0)))
    out = np.empty((size, h))
    for j in range(h):
        out[:, j] = dev @ design[0]
        if obs_sd > 0:
            out[:, j] += obs_sd * rng.standard_normal(size)
        eta = rng.standard_normal((size, state_cov.shape[0])) @ chol_q.T
        dev = dev @ transition.T + eta @ selection.T
    return out
