"""Seasonal ARIMA from statsmodels: a fast stepwise order search, one exact likelihood fit, and
sample paths that carry the uncertainty of every parameter.

* Differencing. D (seasonal data only): one seasonal difference when the seasonal strength of an
  STL decomposition exceeds 0.64 (Wang, Smith & Hyndman 2006; statsforecast's default test).
  d: KPSS level-stationarity test at 5% with the short lag truncation trunc(3 sqrt(n) / 13) of
  R's auto.arima, applied after the seasonal difference; at most one by default (`max_d`): a second
  difference extrapolates a trend in the growth rate, which on M3 cost 0.3 sMAPE on yearly and
  0.1 on quarterly data (docs/anchors.md), and with logs it made paths explode. `max_d=2` is
  honoured only from `MIN_POINTS_D2` points.
* Orders. p, q <= 2 and P, Q <= 1, with a mean (no differencing) or a drift (one difference) or
  without, chosen stepwise by AICc (Hyndman & Khandakar 2008): start from four orders, move to the
  best neighbour while AICc improves. Candidates are ranked on conditional-sum-of-squares
  estimates (a linear filter and a small least-squares problem: about a millisecond each);
  orders whose AR or MA roots come within 1% of the unit circle are refused, as R does.
* Estimation. The winner is fitted once by exact maximum likelihood (statsmodels' state-space
  ARIMA, started from its CSS estimates); if that fit lands on the unit circle (an MA root at 1:
  over-differencing) the next-best order is tried.
* Paths. Every path draws its own parameter vector from the estimates' asymptotic normal
  distribution (truncated to the stationary and invertible region) and its own innovation
  variance (scaled inverse chi-square on n - k degrees of freedom), rebuilds its residuals with
  those parameters, and runs the model forward from the end of the sample; the differencing is
  then undone. Vectorised over paths: no per-path Python loop and no Kalman filter per draw.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

from .base import Model

MIN_TEST_POINTS = 8
MIN_POINTS_D2 = 20
SEASONAL_STRENGTH = 0.64
ROOT_MARGIN = 1.01  # AR and MA roots must lie outside the circle of this radius
MAX_ML_TRIES = 3


# --- differencing ----------------------------------------------------------------------------

def kpss_short_lags(n: int) -> int:
    return int(3 * np.sqrt(n) / 13)


def choose_d(y: np.ndarray, max_d: int = 2) -> int:
    """Regular differences by KPSS (5%); one difference on series too short to test."""
    from statsmodels.tsa.stattools import kpss
    if len(y) < MIN_TEST_POINTS:
        return 1
    max_d = min(max_d, 2 if len(y) >= MIN_POINTS_D2 else 1)
    x = y
    for d in range(max_d + 1):
        if len(x) < MIN_TEST_POINTS or np.ptp(x) < 1e-12 or d == max_d:
            return d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = kpss(x, regression="c", nlags=kpss_short_lags(len(x)))[1]
        if p_value > 0.05:
            return d
        x = np.diff(x)
    return max_d


def seasonal_strength(y: np.ndarray, m: int) -> float:
    """1 - var(remainder) / var(seasonal + remainder) of an STL decomposition, in [0, 1]."""
    from statsmodels.tsa.seasonal import STL
    res = STL(y, period=m, robust=False).fit()
    detrended = res.seasonal + res.resid
    var = np.var(detrended)
    return float(np.clip(1 - np.var(res.resid) / var, 0, 1)) if var > 0 else 0.0


def choose_seasonal_d(y: np.ndarray, m: int) -> int:
    if m <= 1 or len(y) < 2 * m + 2 or np.ptp(y) < 1e-12:
        return 0
    return int(seasonal_strength(y, m) > SEASONAL_STRENGTH)


def difference(y: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    w = np.asarray(y, dtype=float)
    for _ in range(D):
        w = w[m:] - w[:-m]
    for _ in range(d):
        w = np.diff(w)
    return w


def differencing_polynomial(d: int, D: int, m: int) -> np.ndarray:
    """Coefficients c of (1 - B)^d (1 - B^m)^D, c[0] = 1."""
    poly = np.array([1.0])
    for _ in range(d):
        poly = np.convolve(poly, [1.0, -1.0])
    for _ in range(D):
        seasonal = np.zeros(m + 1)
        seasonal[0], seasonal[m] = 1.0, -1.0
        poly = np.convolve(poly, seasonal)
    return poly


# --- the ARMA part: polynomials, roots, conditional sum of squares ----------------------------

@dataclass(frozen=True)
class Spec:
    """An ARMA order on the differenced series, with or without a mean (drift, once differenced)."""

    p: int
    q: int
    P: int
    Q: int
    mean: bool

    @property
    def n_arma(self) -> int:
        return self.p + self.q + self.P + self.Q

    @property
    def k(self) -> int:
        """Estimated coefficients (excluding the innovation variance)."""
        return self.n_arma + int(self.mean)


def expand(nonseasonal: np.ndarray, seasonal: np.ndarray, m: int, sign: float) -> np.ndarray:
    """Lag coefficients of (1 + sign*a(B)) (1 + sign*A(B^m)), batched over leading axes.

    `nonseasonal` (..., p) and `seasonal` (..., P); returns (..., 1 + p + P m) with [..., 0] = 1.
    AR polynomials use sign = -1 (1 - phi B), MA polynomials sign = +1 (1 + theta B)."""
    nonseasonal = np.asarray(nonseasonal, dtype=float)
    seasonal = np.asarray(seasonal, dtype=float)
    lead = np.broadcast_shapes(nonseasonal.shape[:-1], seasonal.shape[:-1])
    p, P = nonseasonal.shape[-1], seasonal.shape[-1]
    small = np.zeros(lead + (p + 1,))
    small[..., 0] = 1.0
    small[..., 1:] = sign * nonseasonal
    out = np.zeros(lead + (1 + p + P * m,))
    out[..., : p + 1] = small
    for j in range(P):
        shift = (j + 1) * m
        out[..., shift: shift + p + 1] += sign * seasonal[..., j: j + 1] * small
    return out


def _split(theta: np.ndarray, spec: Spec):
    """(mean, ar, ma, sar, sma) from a parameter vector ordered like statsmodels' (trend first)."""
    i = int(spec.mean)
    mean = theta[..., 0] if spec.mean else np.zeros(theta.shape[:-1])
    ar = theta[..., i: i + spec.p]
    ma = theta[..., i + spec.p: i + spec.p + spec.q]
    sar = theta[..., i + spec.p + spec.q: i + spec.p + spec.q + spec.P]
    sma = theta[..., i + spec.p + spec.q + spec.P: i + spec.n_arma]
    return mean, ar, ma, sar, sma


def _outside_unit_circle(coefs: np.ndarray, sign: float) -> np.ndarray:
    """Whether every root of 1 + sign*(c1 z + c2 z^2 + ...) lies outside radius `ROOT_MARGIN`,
    batched over the leading axis of `coefs` (n, order); via companion-matrix eigenvalues."""
    coefs = np.atleast_2d(coefs)
    n, order = coefs.shape
    if order == 0:
        return np.ones(n, dtype=bool)
    # Roots z of 1 + s*sum c_i z^i lie outside radius r  <=>  eigenvalues of the companion matrix of
    # x^order + s*c1 x^(order-1) + ... + s*c_order lie inside 1/r.
    companion = np.zeros((n, order, order))
    companion[:, 0, :] = -sign * coefs
    if order > 1:
        companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    eig = np.linalg.eigvals(companion)
    return np.all(np.abs(eig) < 1.0 / ROOT_MARGIN, axis=1)


def admissible(theta: np.ndarray, spec: Spec) -> np.ndarray:
    """Stationary AR and invertible MA factors (each checked on its own), batched over rows."""
    theta = np.atleast_2d(theta)
    _, ar, ma, sar, sma = _split(theta, spec)
    ok = _outside_unit_circle(ar, -1.0) & _outside_unit_circle(ma, 1.0)
    return ok & _outside_unit_circle(sar, -1.0) & _outside_unit_circle(sma, 1.0)


def css_residuals(theta: np.ndarray, w: np.ndarray, spec: Spec, m: int, n_cond: int) -> np.ndarray:
    """Innovations e_t for t >= n_cond given the first n_cond values (R's conditional sum of
    squares): the AR filter on the centred series, then the inverse MA filter from zero start."""
    mean, ar, ma, sar, sma = _split(theta, spec)
    phi = expand(ar, sar, m, -1.0)
    psi = expand(ma, sma, m, 1.0)
    u = w - mean
    a = np.convolve(u, phi)[n_cond: len(u)]
    return lfilter([1.0], psi, a)


@dataclass
class CSSFit:
    spec: Spec
    theta: np.ndarray
    sigma2: float
    n_eff: int
    aicc: float


def _pacf_to_coefficients(x: np.ndarray) -> np.ndarray:
    """Monahan's (1984) map from unconstrained reals to the coefficients of a stationary AR
    polynomial (1 - phi_1 B - ...): partial autocorrelations x / sqrt(1 + x^2), then the
    Durbin-Levinson recursion. Optimising over x keeps every candidate stationary/invertible."""
    r = x / np.sqrt(1 + x * x)
    phi = np.zeros(0)
    for k, rk in enumerate(r):
        phi = np.r_[phi - rk * phi[::-1], rk] if k else np.array([rk])
    return phi


def _constrain(x: np.ndarray, spec: Spec) -> np.ndarray:
    """Our parameter vector (mean, ar, ma, sar, sma) from unconstrained optimiser coordinates."""
    theta = np.array(x, dtype=float, copy=True)
    i = int(spec.mean)
    for size, sign in ((spec.p, 1.0), (spec.q, -1.0), (spec.P, 1.0), (spec.Q, -1.0)):
        if size:
            theta[i: i + size] = sign * _pacf_to_coefficients(x[i: i + size])
        i += size
    return theta


def fit_css(w: np.ndarray, spec: Spec, m: int, n_cond: int) -> CSSFit | None:
    """Conditional-sum-of-squares estimates (over the stationary and invertible region) and their
    AICc; None when the optimum sits on the unit circle or leaves too few degrees of freedom."""
    n_eff = len(w) - n_cond
    n_par = spec.k + 1  # + sigma2
    if n_eff - n_par - 1 < 1:
        return None
    start = np.zeros(spec.k)
    if spec.mean:
        start[0] = float(np.mean(w))
    if spec.n_arma == 0:
        theta = start
        resid = css_residuals(theta, w, spec, m, n_cond)
    else:
        def residuals(x):
            return css_residuals(_constrain(x, spec), w, spec, m, n_cond)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = least_squares(residuals, start, method="lm" if n_eff >= spec.k else "trf", xtol=1e-6, ftol=1e-6,
                                max_nfev=50 * (spec.k + 1))
        theta, resid = _constrain(sol.x, spec), sol.fun
        if not admissible(theta, spec)[0]:
            return None
    sse = float(np.sum(resid ** 2))
    if not np.isfinite(sse) or sse <= 0:
        return None
    sigma2 = sse / n_eff
    aic = n_eff * (np.log(2 * np.pi * sigma2) + 1) + 2 * n_par
    return CSSFit(spec, theta, sigma2, n_eff, float(aic + 2 * n_par * (n_par + 1) / (n_eff - n_par - 1)))


# --- the model -------------------------------------------------------------------------------

class ARIMA(Model):
    """Seasonal ARIMA: stepwise AICc search on CSS estimates, exact ML for the winner (statsmodels)."""

    name = "arima"

    def __init__(self, season_length: int = 1, max_p: int = 2, max_q: int = 2, max_P: int = 1, max_Q: int = 1,
                 max_d: int = 1, search: str = "stepwise", transformed: bool = False):
        super().__init__(season_length, transformed)
        if search not in ("stepwise", "grid"):
            raise ValueError(f"arima: search must be 'stepwise' or 'grid', got {search!r}")
        self.max_p, self.max_q, self.max_P, self.max_Q, self.max_d, self.search = max_p, max_q, max_P, max_Q, max_d, search

    # order search
    def _allowed(self, s: Spec) -> bool:
        seasonal_ok = self.m_ > 1 or (s.P == 0 and s.Q == 0)
        return (0 <= s.p <= self.max_p and 0 <= s.q <= self.max_q and 0 <= s.P <= self.max_P and 0 <= s.Q <= self.max_Q
                and seasonal_ok and (not s.mean or self.d_ + self.D_ <= 1))

    def _search(self, w: np.ndarray) -> list[CSSFit]:
        m = self.m_
        n_cond = self.max_p + (self.max_P * m if m > 1 else 0)
        n_cond = min(n_cond, max(len(w) - 4, 0))
        fits: dict[Spec, CSSFit | None] = {}

        def visit(specs):
            for s in specs:
                if self._allowed(s) and s not in fits:
                    fits[s] = fit_css(w, s, m, n_cond)

        def ranked():
            return sorted((f for f in fits.values() if f is not None), key=lambda f: f.aicc)

        mean = self.d_ + self.D_ <= 1
        seasonal = 1 if m > 1 else 0
        if self.search == "grid":
            visit(Spec(p, q, P, Q, c) for p in range(self.max_p + 1) for q in range(self.max_q + 1)
                  for P in range(seasonal * self.max_P + 1) for Q in range(seasonal * self.max_Q + 1) for c in (True, False))
        else:
            visit([Spec(2, 2, seasonal, seasonal, mean), Spec(0, 0, 0, 0, mean), Spec(1, 0, seasonal, 0, mean),
                   Spec(0, 1, 0, seasonal, mean), Spec(0, 0, 0, 0, False)])
            while ranked():
                best = ranked()[0]
                s = best.spec
                moves = [(dp, dq, 0, 0) for dp in (-1, 0, 1) for dq in (-1, 0, 1) if (dp, dq) != (0, 0)]
                moves += [(0, 0, dP, dQ) for dP in (-1, 0, 1) for dQ in (-1, 0, 1) if (dP, dQ) != (0, 0)]
                visit([Spec(s.p + a, s.q + b, s.P + c, s.Q + e, s.mean) for a, b, c, e in moves] + [Spec(s.p, s.q, s.P, s.Q, not s.mean)])
                if ranked()[0] is best:
                    break
        self.n_candidates_ = sum(1 for f in fits.values() if f is not None)
        return ranked()

    def _fit(self, y: np.ndarray) -> None:
        self.m_ = self.season_length
        self.D_ = choose_seasonal_d(y, self.m_)
        self.d_ = choose_d(difference(y, 0, self.D_, self.m_), self.max_d)
        w = difference(y, self.d_, self.D_, self.m_)
        if len(w) < 3:
            self.d_, self.D_ = min(self.d_, 1), 0
            w = difference(y, self.d_, 0, self.m_)
        ranked = self._search(w) or [CSSFit(Spec(0, 0, 0, 0, False), np.zeros(0), float(np.var(w)) or 1e-12, len(w), np.inf)]
        self.tried_ml_ = []
        for candidate in ranked[:MAX_ML_TRIES]:
            fitted = self._fit_ml(y, candidate)
            self.tried_ml_.append(candidate.spec)
            if fitted is not None:
                self.spec_, self.theta_, self.cov_, self.sigma2_, self.estimator_ = fitted
                self.css_aicc_ = candidate.aicc
                break
        else:
            best = ranked[0]
            self.spec_, self.theta_, self.sigma2_, self.estimator_ = best.spec, best.theta, best.sigma2, "css"
            self.cov_ = _css_covariance(best, w, self.m_)
            self.css_aicc_ = best.aicc
        self.w_ = w
        self.n_eff_ = len(w)

    def _sm_order(self, spec: Spec):
        trend = "n"
        if spec.mean:
            trend = "c" if self.d_ + self.D_ == 0 else "t"
        return (spec.p, self.d_, spec.q), ((spec.P, self.D_, spec.Q, self.m_) if self.m_ > 1 else (0, 0, 0, 0)), trend

    def _fit_ml(self, y: np.ndarray, css: CSSFit):
        """Exact ML (statsmodels) started from the CSS estimates; None when it fails or lands
        on the unit circle. Returns (spec, theta in our parameterisation, cov, sigma2, 'ml')."""
        from statsmodels.tsa.arima.model import ARIMA as SMARIMA
        order, seasonal_order, trend = self._sm_order(css.spec)
        # statsmodels parameterises a drift as the slope per step of y; our mean is that of the differenced series
        per_step = float(self.m_ if self.D_ else 1) if trend == "t" else 1.0
        start = np.r_[css.theta, css.sigma2]
        if css.spec.mean:
            start[0] /= per_step
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = SMARIMA(y, order=order, seasonal_order=seasonal_order, trend=trend).fit(start_params=start)
                cov = np.asarray(res.cov_params(), dtype=float)
        except (ValueError, np.linalg.LinAlgError):
            return None
        params = np.asarray(res.params, dtype=float)
        if not np.all(np.isfinite(params)) or params[-1] <= 0:
            return None
        theta = params[:-1].copy()
        if css.spec.mean:
            theta[0] *= per_step
        if not admissible(theta, css.spec)[0]:
            return None
        k = len(theta)
        cov = cov[:k, :k]
        if css.spec.mean:
            cov[0, :] *= per_step
            cov[:, 0] *= per_step
        if not np.all(np.isfinite(cov)) or np.any(np.linalg.eigvalsh((cov + cov.T) / 2) < -1e-10):
            cov = _css_covariance(CSSFit(css.spec, theta, float(params[-1]), css.n_eff, css.aicc), self._differenced(y), self.m_)
        self.result_ = res
        return css.spec, theta, cov, float(params[-1]), "ml"

    def _differenced(self, y):
        return difference(y, self.d_, self.D_, self.m_)

    # paths
    def draws(self, n_paths: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per-path (theta, sigma2): truncated normal parameter draws and scaled inverse chi-square
        variances on n - k degrees of freedom."""
        k = len(self.theta_)
        theta = np.tile(self.theta_, (n_paths, 1))
        self.kept_estimates_ = 0
        if k:
            cov = (self.cov_ + self.cov_.T) / 2
            pending = np.arange(n_paths)
            for _ in range(20):
                cand = rng.multivariate_normal(self.theta_, cov, size=len(pending), method="eigh", check_valid="ignore")
                ok = admissible(cand, self.spec_) & np.all(np.isfinite(cand), axis=1)
                theta[pending[ok]] = cand[ok]
                pending = pending[~ok]
                if not len(pending):
                    break
            self.kept_estimates_ = int(len(pending))  # draws left at the estimates after 20 rounds
        dof = max(self.n_eff_ - k, 1)
        sigma2 = self.sigma2_ * self.n_eff_ / rng.chisquare(dof, size=n_paths)
        return theta, sigma2

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        theta, sigma2 = self.draws(n_paths, rng)
        shocks = rng.standard_normal((n_paths, h)) * np.sqrt(sigma2)[:, None]
        # The residual recursion starts from zero pre-sample values, which the exact (Kalman) filter
        # does not need; near a unit MA root the start-up lingers. The same start-up sits in every
        # path, so it is removed by centring the paths on statsmodels' own forecast: each path keeps
        # its deviation from the zero-shock recursion under the estimates.
        offset = self.point_forecast(h) - self.simulate(self.theta_[None, :], np.zeros((1, h)))[0]
        return self.simulate(theta, shocks) + offset[None, :]

    def simulate(self, theta: np.ndarray, shocks: np.ndarray) -> np.ndarray:
        """Paths of y for each row of `theta` (n, k) driven by `shocks` (n, h): residuals rebuilt
        under each path's own parameters (CSS recursion), ARMA run forward, differencing undone."""
        spec, m, w = self.spec_, self.m_, self.w_
        n_paths, h = shocks.shape
        mean, ar, ma, sar, sma = _split(theta, spec)
        phi = expand(ar, sar, m, -1.0)  # (n, 1 + p + P m), phi[:, 0] = 1
        psi = expand(ma, sma, m, 1.0)
        n_ar = phi.shape[1] - 1
        u = w[None, :] - mean[:, None]  # (n, T)
        T = u.shape[1]
        ar_lags = np.nonzero(np.any(phi[:, 1:] != 0, axis=0))[0] + 1
        ma_lags = np.nonzero(np.any(psi[:, 1:] != 0, axis=0))[0] + 1
        # a_t = phi(B) u_t, with pre-sample u = 0 for t < n_ar (those residuals are conditioned away)
        a = u.copy()
        for lag in ar_lags:
            a[:, lag:] += phi[:, lag: lag + 1] * u[:, :-lag]
        e = np.zeros((n_paths, T + h))
        start = min(n_ar, T)
        for t in range(start, T):
            acc = a[:, t].copy()
            for lag in ma_lags:
                if t - lag >= start:
                    acc -= psi[:, lag] * e[:, t - lag]
            e[:, t] = acc
        e[:, T:] = shocks
        uu = np.concatenate([u, np.zeros((n_paths, h))], axis=1)
        for t in range(T, T + h):
            acc = e[:, t].copy()
            for lag in ar_lags:
                acc -= phi[:, lag] * uu[:, t - lag]
            for lag in ma_lags:
                acc += psi[:, lag] * e[:, t - lag]
            uu[:, t] = acc
        w_future = uu[:, T:] + mean[:, None]
        return integrate(self.y_, w_future, self.d_, self.D_, m)

    def _point(self, h: int) -> np.ndarray:
        """statsmodels' `get_forecast` mean for the ML fit; the zero-shock recursion when only the
        CSS estimates exist (ML failed for every order tried)."""
        if self.estimator_ == "ml":
            return np.asarray(self.result_.get_forecast(h).predicted_mean, dtype=float)
        return self.simulate(self.theta_[None, :], np.zeros((1, h)))[0]

    def _describe(self) -> dict:
        s = self.spec_
        trend = ("mean" if self.d_ + self.D_ == 0 else "drift") if s.mean else "none"
        return {"order": [s.p, self.d_, s.q], "seasonal_order": [s.P, self.D_, s.Q, self.m_] if self.m_ > 1 else None,
                "trend": trend, "estimator": self.estimator_, "aicc_css": round(float(self.css_aicc_), 4),
                "sigma2": float(self.sigma2_), "candidates_fitted": self.n_candidates_,
                "ml_orders_tried": len(self.tried_ml_)}


def integrate(y: np.ndarray, w_future: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    """Undo (1 - B)^d (1 - B^m)^D: y_t = w_t - sum_{i>=1} c_i y_{t-i}, from the observed history."""
    c = differencing_polynomial(d, D, m)
    if len(c) == 1:
        return w_future
    n_paths, h = w_future.shape
    lags = len(c) - 1
    hist = np.broadcast_to(np.asarray(y, dtype=float)[-lags:], (n_paths, lags))
    out = np.concatenate([hist, np.zeros((n_paths, h))], axis=1)
    nz = np.nonzero(c[1:])[0] + 1
    for t in range(h):
        col = lags + t
        out[:, col] = w_future[:, t] - sum(c[i] * out[:, col - i] for i in nz)
    return out[:, lags:]


def _css_covariance(fit: CSSFit, w: np.ndarray, m: int) -> np.ndarray:
    """sigma2 (J'J)^-1 at the CSS estimates: the least-squares covariance, when ML is unavailable."""
    k = len(fit.theta)
    if k == 0:
        return np.zeros((0, 0))
    n_cond = len(w) - fit.n_eff
    eps = 1e-6
    base = css_residuals(fit.theta, w, fit.spec, m, n_cond)
    jac = np.empty((len(base), k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = eps
        jac[:, i] = (css_residuals(fit.theta + step, w, fit.spec, m, n_cond) - base) / eps
    try:
        return fit.sigma2 * np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.zeros((k, k))
