"""Stored backtests: their identity, computing then keeping one, and the tables they answer.

A backtest id hashes everything that changes its numbers, as a run id does: the data, the spec,
the models, paths and seed, the package version, the engine source and the library versions. A
stored result is never rewritten, so without the code in the id a rerun after a code change would
keep answering with the old numbers under the new code's name.

Both tables (`SUMMARY_COLUMNS`, `ROW_COLUMNS`) are answered alike by `smfcast backtest` and
`GET /v1/backtests` (`backtest_table`): coverage in percent of the scored points inside the band,
`cutoff` the period of a window's last training point. A backtest stored before that (`schema`
absent) is read with its coverage turned into percent; its cutoffs stay the training lengths it
recorded.
"""

from __future__ import annotations

import hashlib
import json

from smfcast import __version__
from smfcast.engine.headline import backtest_headlines
from smfcast.engine.records import coverage_in_percent
from smfcast.errors import InvalidInput
from smfcast.store.requests import BacktestRequest
from smfcast.store.runs import RunStore, code_digest, library_versions

SCHEMA = 2  # 1 (no `schema` key): coverage as a share, cutoff as a training length
SUMMARY_COLUMNS = ["series_id", "metric", "model", "windows", "points", "mae", "rmse", "mape", "smape", "mase", "coverage-80",
                   "coverage-95", "width-95", "winkler-95", "msis", "crps"]
ROW_COLUMNS = ["series_id", "model", "cutoff", "horizon", "y", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
DETAILS = ("summary", "rows")


def backtest_key(reg, request: BacktestRequest) -> tuple[str, dict]:
    """(backtest id, the spec it hashes)."""
    spec = request.spec
    key = {"data": reg.fingerprint, "h": spec.h, "n_windows": spec.n_windows, "step_size": spec.step_size,
           "models": list(request.models), "paths": request.n_paths, "seed": request.seed, "metrics": request.metrics,
           "version": __version__, "code": code_digest(), "libraries": library_versions()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16], key


def run_backtests(reg, request: BacktestRequest, store: RunStore, executor=None, progress=None) -> tuple[str, list, dict]:
    """Backtest the headline series and keep the result under its id; (id, per-series results, stored result)."""
    backtest_id, key = backtest_key(reg, request)
    results = backtest_headlines(reg, request.spec, request.models, request.n_paths, request.seed, request.metrics,
                                 progress=progress, executor=executor)
    summary = [{"series_id": r.series_id, "metric": r.metric, **s} for r in results for s in r.summary]
    result = {"schema": SCHEMA, "summary": summary, "calibration": {r.series_id: r.calibration for r in results},
              "weights": {r.series_id: r.weights for r in results}, "failures": {r.series_id: r.failures for r in results},
              "notes": {r.series_id: r.note for r in results}, "rows": [row for r in results for row in r.rows]}
    store.save_backtest(backtest_id, key, result)
    return backtest_id, results, result


def stored_backtest(store: RunStore, backtest_id: str | None = None) -> dict:
    """A stored backtest (the newest when no id is given) in today's shape."""
    bt = store.backtest(backtest_id)
    if bt.get("schema", 1) < 2:
        bt = {**bt, "summary": [{k: v * 100 if k.startswith("coverage-") and v is not None else v for k, v in s.items()}
                                for s in bt["summary"]],
              "calibration": {sid: coverage_in_percent(c) for sid, c in bt["calibration"].items()}}
    return bt


def backtest_table(bt: dict, metric: str | None = None, detail: str = "summary") -> tuple[list[dict], list[str], dict]:
    """(rows, columns, meta) of a stored backtest for one metric's series (or all): the summary per
    series and model, or every scored row."""
    if detail not in DETAILS:
        raise InvalidInput(f"detail {detail!r} is not one of {', '.join(DETAILS)}", "detail")
    series = {s["series_id"] for s in bt["summary"] if metric is None or s["metric"] == metric}
    if detail == "summary":
        rows, columns = [s for s in bt["summary"] if s["series_id"] in series], SUMMARY_COLUMNS
    else:
        rows, columns = [r for r in bt["rows"] if r["series_id"] in series], ROW_COLUMNS
    meta = {"backtest_id": bt["backtest_id"], "created": bt["created"], "spec": bt["spec"], "notes": bt["notes"],
            "calibration": {k: v for k, v in bt["calibration"].items() if k in series or metric is None}}
    return rows, columns, meta
