"""Refit and backtest requests: the one check of their parameters, shared by the CLI and the API.

Each takes the raw values by name (a JSON body, or a command's arguments under the same names),
refuses an unknown field, a wrong type, a value out of range or a repeated model with a message
naming the field, and returns what the engine needs plus the plain values to record with the job.
The ranges are the service's limits: a run stores n_paths x years x models x scenarios floats, so
`n_paths` stops at `MAX_N_PATHS`, and every seed is a 32-bit unsigned integer.
"""

from __future__ import annotations

from dataclasses import dataclass

from smfcast.defaults import BACKTEST, MAX_N_PATHS, MEMBERS, SEED
from smfcast.engine.backtest import BacktestSpec
from smfcast.engine.headline import EngineConfig
from smfcast.errors import InvalidInput, NotFound
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.store.publications import MAX_REASON

SEED_RANGE = (0, 2**32 - 1)
REFIT_LIMITS = {"seed": SEED_RANGE, "n_paths": (100, MAX_N_PATHS), "backtest_h": (1, 12), "backtest_windows": (0, 20),
                "backtest_paths": (100, 5000)}
BACKTEST_LIMITS = {"seed": SEED_RANGE, "h": (1, 12), "n_windows": (1, 20), "step_size": (1, 4), "n_paths": (100, 2000)}
BACKTEST_DEFAULTS = {"seed": SEED, **BACKTEST}


def _name(field: str, labels: dict | None) -> str:
    return (labels or {}).get(field, field)


def _integer(body: dict, field: str, bounds: tuple[int, int], default: int, labels: dict | None) -> int:
    value = body.get(field, default)
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{_name(field, labels)} must be an integer in [{lo}, {hi}], got {value!r}", field)
    return value


def _models(body: dict, labels: dict | None) -> tuple[str, ...]:
    models = body.get("models", list(MEMBERS))
    if not isinstance(models, (list, tuple)) or not models or any(not isinstance(m, str) or m not in MEMBERS for m in models):
        raise InvalidInput(f"{_name('models', labels)} must be a non-empty list drawn from {', '.join(MEMBERS)}, got {models!r}", "models")
    for m in models:
        if models.count(m) > 1:
            raise InvalidInput(f"{_name('models', labels)} lists {m!r} twice; name each model once", "models")
    return tuple(models)


def refuse_unknown(body: dict, allowed, what: str) -> None:
    """Refuse the first field of `body` that is not `allowed`, saying what (`what`) takes which."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; {what} takes {', '.join(allowed)}", unknown[0])


def _unknown(body: dict, allowed: list[str], what: str) -> None:
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object such as {{\"seed\": 1}}, not {type(body).__name__}", "body")
    refuse_unknown(body, allowed, what)


@dataclass(frozen=True)
class RefitRequest:
    config: EngineConfig
    publish: bool = False
    reason: str = ""

    def params(self) -> dict:
        """The request as plain values (what the job records and `refit_request` reads back)."""
        c = self.config
        return {"seed": c.seed, "n_paths": c.n_paths, "models": list(c.models), "backtest_h": c.backtest_h,
                "backtest_windows": c.backtest_windows, "backtest_paths": c.backtest_paths, "publish": self.publish, "reason": self.reason}


def refit_request(body: dict, labels: dict | None = None) -> RefitRequest:
    """A checked refit: engine settings (seed, n_paths, models, backtest_*), and whether to publish
    the run once it is stored (with a reason for the publication history). `labels` names the
    fields as the caller's user wrote them (e.g. {"n_paths": "--paths"})."""
    _unknown(body, list(REFIT_LIMITS) + ["models", "publish", "reason"], "a refit")
    defaults = EngineConfig()
    values = {f: _integer(body, f, bounds, getattr(defaults, f), labels) for f, bounds in REFIT_LIMITS.items()}
    publish = body.get("publish", False)
    if not isinstance(publish, bool):
        raise InvalidInput(f"{_name('publish', labels)} must be true or false, got {publish!r}", "publish")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f"{_name('reason', labels)} must be text of at most {MAX_REASON} characters", "reason")
    return RefitRequest(EngineConfig(models=_models(body, labels), **values), publish, reason)


@dataclass(frozen=True)
class BacktestRequest:
    spec: BacktestSpec
    models: tuple[str, ...]
    n_paths: int
    seed: int
    metric: str | None = None

    @property
    def metrics(self) -> list[str] | None:
        return [self.metric] if self.metric else None

    def params(self) -> dict:
        return {"h": self.spec.h, "n_windows": self.spec.n_windows, "step_size": self.spec.step_size, "n_paths": self.n_paths,
                "seed": self.seed, "metric": self.metric, "models": list(self.models)}


def backtest_request(body: dict, labels: dict | None = None) -> BacktestRequest:
    """A checked backtest rerun: h, n_windows, step_size, n_paths, seed, models and an optional metric."""
    _unknown(body, list(BACKTEST_LIMITS) + ["metric", "models"], "a backtest")
    values = {f: _integer(body, f, bounds, BACKTEST_DEFAULTS[f], labels) for f, bounds in BACKTEST_LIMITS.items()}
    metric = body.get("metric")
    if metric is not None and metric not in HEADLINE_METRICS:
        raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    spec = BacktestSpec(values["h"], values["n_windows"], values["step_size"])
    return BacktestRequest(spec, _models(body, labels), values["n_paths"], values["seed"], metric)


# Ad-hoc forecasts of users' series (`POST /v1/forecast`, the forecast jobs). A request this small
# is answered at once, in the HTTP worker, anonymously: about 3 s a series on one core. Larger ones
# need the write token and run as a queued job, up to the limits.
FORECAST_FIELDS = ("data", "h", "level", "freq", "models", "n_paths", "seed", "evidence", "members", "bounds")
FORECAST_LIMITS = {"h": (1, 120), "n_paths": (100, 5000), "seed": SEED_RANGE}
SYNC_SERIES, SYNC_POINTS, SYNC_N_PATHS = 3, 600, 2000
MAX_SERIES, MAX_POINTS = 2000, 200_000


@dataclass(frozen=True)
class ForecastRequest:
    """A checked ad-hoc forecast: the long frame and the arguments of `smfcast.forecast`."""

    frame: object  # pandas DataFrame: unique_id, ds, y
    h: int
    levels: tuple
    models: tuple[str, ...] | None
    n_paths: int | None
    seed: int
    evidence: str
    members: bool
    freq: str | None
    bounds: tuple[float, float] | None
    params: dict  # the request as plain values (what a job records and reads back)

    @property
    def n_series(self) -> int:
        return int(self.frame["unique_id"].nunique())

    @property
    def n_points(self) -> int:
        return int(len(self.frame))

    def answer(self, engine: str = "serial", address: str | None = None) -> dict:
        """The request forecast by `smfcast.forecast`: what `POST /v1/forecast` and a forecast job
        answer (rows, columns and the method record)."""
        from smfcast.engine.frames import answer_columns, answer_rows, forecast
        fc = forecast(self.frame, self.h, self.levels, freq=self.freq, models=self.models, n_paths=self.n_paths, seed=self.seed,
                      evidence=self.evidence, members=self.members, bounds=self.bounds, quiet=True, engine=engine, address=address)
        return {"h": self.h, "levels": list(self.levels), "evidence": fc.method.evidence, "columns": answer_columns(self.levels),
                "rows": answer_rows(fc, self.levels), "method": fc.method.to_dict()}

    @property
    def small(self) -> bool:
        """Whether it is answered at once (else it needs the token and runs as a job)."""
        return self.n_series <= SYNC_SERIES and self.n_points <= SYNC_POINTS and (self.n_paths or 0) <= SYNC_N_PATHS


def forecast_request(body: dict) -> ForecastRequest:
    """The one check of an ad-hoc forecast request (a JSON body, or a file's rows in `data` with
    the other fields from the query string): every field by name, the limits on series, points,
    `h` and `n_paths`."""
    from smfcast.engine.forecaster import EVIDENCE
    from smfcast.engine.frames import check_levels, frequency_of, long_frame
    _unknown(body, list(FORECAST_FIELDS), "a forecast")
    if "h" not in body:
        raise InvalidInput("h is required: the number of periods to forecast", "h")
    h = _integer(body, "h", FORECAST_LIMITS["h"], 0, None)
    seed = _integer(body, "seed", FORECAST_LIMITS["seed"], SEED, None)
    n_paths = None if body.get("n_paths") is None else _integer(body, "n_paths", FORECAST_LIMITS["n_paths"], 0, None)
    level = body.get("level")
    levels = check_levels(level.split(",") if isinstance(level, str) else level)
    models = body.get("models")
    if models is not None:
        models = _models(body, None)
    evidence = body.get("evidence", "auto")
    if evidence not in EVIDENCE:
        raise InvalidInput(f"evidence must be one of {', '.join(EVIDENCE)}, got {evidence!r}", "evidence")
    members = body.get("members", False)
    if not isinstance(members, bool):
        raise InvalidInput(f"members must be true or false, got {members!r}", "members")
    freq = body.get("freq")
    if freq is not None:
        if not isinstance(freq, str):
            raise InvalidInput(f"freq must be a string such as \"Q\", got {freq!r}", "freq")
        frequency_of(freq)
    bounds = body.get("bounds")
    if bounds is not None:
        if (not isinstance(bounds, list) or len(bounds) != 2 or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)
                or not bounds[0] < bounds[1]):
            raise InvalidInput(f"bounds must be [lower, upper] numbers with lower < upper, got {bounds!r}", "bounds")
        bounds = (float(bounds[0]), float(bounds[1]))
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidInput('data must be a list of rows such as {"unique_id": "a", "ds": "2015-03-31", "y": 1.2}', "data")
    if len(data) > MAX_POINTS:
        raise InvalidInput(f"data has {len(data):,} points; a forecast takes at most {MAX_POINTS:,}", "data")
    frame = long_frame(data, "data")
    n_series = int(frame["unique_id"].nunique())
    if n_series > MAX_SERIES:
        raise InvalidInput(f"data holds {n_series:,} series; a forecast takes at most {MAX_SERIES:,}", "data")
    params = {"data": data, "h": h, "level": list(levels), "freq": freq, "models": list(models) if models else None,
              "n_paths": n_paths, "seed": seed, "evidence": evidence, "members": members,
              "bounds": list(bounds) if bounds else None}
    return ForecastRequest(frame, h, levels, models, n_paths, seed, evidence, members, freq, bounds, params)
