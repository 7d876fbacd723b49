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
