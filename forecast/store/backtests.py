"""Stored backtests: their identity, and computing then keeping one.

A backtest id hashes everything that changes its numbers, as a run id does: the data, the spec,
the models, paths and seed, the package version, the engine source and the library versions. A
stored result is never rewritten, so without the code in the id a rerun after a code change would
keep answering with the old numbers under the new code's name.
"""

from __future__ import annotations

import hashlib
import json

from smfcast import __version__
from smfcast.engine.backtest import backtest_headlines
from smfcast.store.requests import BacktestRequest
from smfcast.store.runs import RunStore, code_digest, library_versions


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
    result = {"summary": summary, "calibration": {r.series_id: r.calibration for r in results},
              "weights": {r.series_id: r.weights for r in results}, "failures": {r.series_id: r.failures for r in results},
              "notes": {r.series_id: r.note for r in results}, "rows": [row for r in results for row in r.rows]}
    store.save_backtest(backtest_id, key, result)
    return backtest_id, results, result
