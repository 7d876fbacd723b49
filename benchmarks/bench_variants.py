"""The measurements behind the engine's modelling choices, on the M3 data.

    .venv/bin/python benchmarks/bench_variants.py                 # every yearly and quarterly series
    .venv/bin/python benchmarks/bench_variants.py --limit 60      # a quick look
    .venv/bin/python benchmarks/bench_variants.py --limit 4       # CI-sized

Point accuracy (sMAPE, MASE, competition split: h = 6 yearly, 8 quarterly) of:

* each member fitted on raw values and on logs (why raw is the default scale);
* ARIMA with at most one regular difference and with two (why `max_d` is 1);
* statsforecast's four Theta variants and AutoTheta's pick among them (why the Theta member is DOTM).

Member points are path means (the library's point forecast), 500 paths. Needs the `validation`
extra (the M3 data); runs in a process per core (`--engine serial` for one).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from bench_models import sample  # the same even spread of series as bench_models (this folder)

from smfcast.blas import single_threaded
from smfcast.defaults import SEED
from smfcast.outputs.tables import render

VARIANTS = ["arima raw", "arima log", "arima max_d=2", "ets raw", "ets log", "theta (DOTM) raw", "theta (DOTM) log",
            "Theta (STM)", "OptimizedTheta", "DynamicTheta", "AutoTheta"]


def _forecasts(s) -> dict[str, np.ndarray]:
    from statsforecast.models import AutoTheta, DynamicTheta, OptimizedTheta, Theta

    from smfcast.models import make_model
    from smfcast.models.arima import ARIMA
    from smfcast.seeds import rng_for
    h, m = len(s.test), s.season_length
    out = {}

    def member(label, model, y, back):
        try:
            out[label] = back(model.fit(y).sample(h, 500, rng_for(SEED, s.id, label)).mean(axis=0))
        except Exception:  # noqa: BLE001 - a variant that fails on a series is left out of that series
            pass
    positive = bool(np.all(s.train > 0))
    for name in ("arima", "ets", "theta"):
        label = "theta (DOTM)" if name == "theta" else name
        member(f"{label} raw", make_model(name, m), s.train, lambda v: v)
        if positive:
            member(f"{label} log", make_model(name, m), np.log(s.train), np.exp)
    member("arima max_d=2", ARIMA(season_length=m, max_d=2), s.train, lambda v: v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, cls in (("Theta (STM)", Theta), ("OptimizedTheta", OptimizedTheta), ("DynamicTheta", DynamicTheta),
                           ("AutoTheta", AutoTheta)):
            try:
                out[label] = np.asarray(cls(season_length=m).fit(s.train).predict(h)["mean"])
            except Exception:  # noqa: BLE001
                pass
    return out


def _task(s):
    return s, _forecasts(s)


def main(argv=None) -> int:
    single_threaded()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="series per dataset, spread evenly (0: all)")
    parser.add_argument("--engine", default="local", choices=["local", "serial"])
    args = parser.parse_args(argv)
    from smfcast.engine import metrics
    from smfcast.engine.datasets import load_dataset
    from smfcast.engine.executor import executor
    rows = []
    for dataset in ("m3-yearly", "m3-quarterly"):
        series = sample(load_dataset(dataset), args.limit)
        with executor(args.engine) as ex:
            results = list(ex.map(_task, series))
        for variant in VARIANTS:
            scored = [(s, f[variant]) for s, f in results if variant in f]
            if not scored:
                continue
            smape = np.mean([metrics.smape(s.test, p) for s, p in scored])
            mase = np.mean([metrics.mase(s.test, p, s.train, s.season_length) for s, p in scored])
            rows.append({"dataset": dataset, "variant": variant, "series": len(scored), "smape": round(float(smape), 2),
                         "mase": round(float(mase), 3)})
    print("point accuracy of modelling choices (path means, 500 paths; statsforecast Theta variants: predict())")
    print(render(rows, ["dataset", "variant", "series", "smape", "mase"], "table"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
