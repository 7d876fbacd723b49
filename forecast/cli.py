"""The `smfcast` command line: data checks, runs, forecasts, scenarios, backtests, the server.

Every failure the user can cause ends as one line on stderr and a non-zero exit code; tracebacks
are for bugs only.
"""

from __future__ import annotations

import argparse
import os
import sys

from smfcast import __version__
from smfcast.blas import single_threaded
from smfcast.defaults import BACKTEST, ENSEMBLE, LEVELS, MEMBERS, N_PATHS, SEED, env_number
from smfcast.engine.datasets import DATASETS
from smfcast.errors import InvalidInput, SmfcastError
from smfcast.outputs.bands import level_columns
from smfcast.outputs.tables import FORMATS, csv_text, render
from smfcast.registry.series import HEADLINE_METRICS, load_registry

_LEVELS = ",".join(map(str, LEVELS))  # the default of --level


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _data_check(args) -> int:
    from smfcast.registry import atomic, changes
    reg = load_registry(args.data)
    roles = reg.roles()
    last = reg.last_changes  # each series' data vintage, from the change log
    rows = []
    for sid, meta in reg.series.items():
        obs = reg.observations(sid)
        change = last.get(sid) or {}
        rows.append({
            "id": sid, "region": meta.region, "unit": meta.unit, "frequency": meta.frequency,
            "first": str(obs[0].period) if obs else "", "last": str(obs[-1].period) if obs else "",
            "count": len(obs), "last_change": change.get("time", "")[:10] if args.format == "table" else change.get("time"),
            "change_source": change.get("source_id", ""), "headline": roles.get(sid, ""),
        })
    rows.sort(key=lambda r: (r["headline"] == "", r["region"] != "QH", r["id"]))
    print(render(rows, ["id", "region", "unit", "frequency", "first", "last", "count", "last_change", "change_source", "headline"],
                 args.format))
    if atomic.pending(reg.data_dir):
        print("smfcast: warning: a change was interrupted while being written; the data are valid, and the next "
              "`smfcast data` write completes it", file=sys.stderr)
    if args.format == "table":
        grades = {}
        for o in reg.rows:
            grades[o.quality] = grades.get(o.quality, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(grades.items()))
        print(f"\n{len(reg.rows)} observations in {len(reg.series)} series, every one resolved to one of "
              f"{len(reg.sources)} sources ({summary}).")
        print(f"last_change: the series' newest change in {changes.LOG} (`smfcast data history ID`); blank: as compiled.")
    return 0


def _data_show(args) -> int:
    reg = load_registry(args.data)
    meta = reg.meta(args.series_id)
    rows = []
    for o in reg.observations(args.series_id):
        src = reg.sources[o.source_id]
        rows.append({
            "period": str(o.period), "value": o.value, "quality": o.quality, "source_id": o.source_id,
            "publisher": src.get("publisher", ""), "url": src.get("url", ""), "quote": src.get("quote", ""), "note": o.note,
        })
    if args.format == "table":
        print(f"{meta.id}: {meta.title_en} / {meta.title_zh} [{meta.unit}, {meta.frequency}, {meta.region}]")
        for r in rows:
            r["quote"] = r["quote"][:60] + ("…" if len(r["quote"]) > 60 else "")
        print(render(rows, ["period", "value", "quality", "publisher", "quote", "note"], "table"))
    else:
        print(render(rows, list(rows[0]) if rows else ["period", "value"], args.format))
    return 0


def _store(args):
    from smfcast.store.runs import RunStore
    return RunStore(args.store)


def _models(raw: str | None) -> list[str]:
    return [m.strip() for m in raw.split(",") if m.strip()] if raw else list(MEMBERS)


def _refit_request(args):
    """The checks `POST /v1/runs` makes, on the command's arguments (named as flags in errors)."""
    from smfcast.store.requests import refit_request
    body = {"seed": args.seed, "n_paths": args.paths, "models": _models(args.models)}
    return refit_request(body, {"seed": "--seed", "n_paths": "--paths", "models": "--models"})


def _run(args) -> int:
    import time

    from smfcast.store.runs import create_run
    started = time.perf_counter()
    request = _refit_request(args)
    store = _store(args)
    from smfcast.engine.executor import executor
    with executor(args.engine, args.address) as ex:
        run = create_run(args.data, request.config, store, executor=ex,
                         progress=lambda m: print(f"fitted {m}", file=sys.stderr, flush=True))
    took = time.perf_counter() - started
    print(f"run {run.run_id} ({run.created}) in {took:.1f} s -> {store.path}")
    if getattr(args, "publish", False) and store.published_id() != run.run_id:
        store.publish(run.run_id, _who(), args.reason or "smfcast run --publish")
    published = store.published_id()
    print(f"published: {run.run_id} (requests that name no run get it)" if published == run.run_id else
          f"not published: requests that name no run still get {published}; `smfcast publish {run.run_id}` to serve this one")
    rows = []
    for metric in run.metrics:
        info = run.metric_info(metric)
        method = run.method(metric)
        change = ((run.summary.get("vintage") or {}).get("series") or {}).get(info["series_id"]) or {}
        rows.append({"metric": metric, "series": info["series_id"], "method": method.method,
                     "points": method.extra.get("points", (method.relation or {}).get("points")),
                     "data changed": f"{change['time'][:10]} (change {change['change_id']})" if change else "as compiled",
                     "models": ",".join(info["models"]), "failed": _failures_line(run.failures(metric)),
                     "grades": ", ".join(f"{k} {v}" for k, v in info["grades"].items())})
    print(render(rows, ["metric", "series", "method", "points", "data changed", "models", "failed", "grades"], "table"))
    return 0


def _failures_line(failures) -> str:
    """Members not used, one clause per reason (a reason shared by several members is said once)."""
    by_reason: dict[str, list[str]] = {}
    for f in failures:
        by_reason.setdefault(f.reason, []).append(f.model)
    return "; ".join(f"{', '.join(models)}: {reason}" for reason, models in by_reason.items())


def _read_document(path: str) -> dict:
    """A TOML or JSON document from a file (by extension; JSON if it starts with '{')."""
    import json
    import tomllib
    try:
        text = open(path, encoding="utf-8-sig").read()  # Notepad starts UTF-8 with a byte-order mark
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "scenario-file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8", "scenario-file") from None
    try:
        return json.loads(text) if path.endswith(".json") or text.lstrip().startswith("{") else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid {'JSON' if path.endswith('.json') else 'TOML'}: {exc}", "scenario-file") from None


def _forecast(args) -> int:
    """Bands of a headline metric or a marked series from a stored run, or of the series in a long
    file (`--csv`), forecast now by `smfcast.forecast`."""
    chosen = [name for name in ("metric", "series", "csv") if getattr(args, name)]
    if len(chosen) != 1:
        raise InvalidInput("give one of --metric METRIC, --series ID (a marked series of the run) or --csv FILE --h H", "metric")
    if args.csv:
        return _forecast_file(args)
    for flag in ("h", "output"):
        if getattr(args, flag) is not None:
            raise InvalidInput(f"--{flag} goes with --csv FILE (a run's horizon is fixed by the run)", flag)
    from smfcast.outputs.bands import parse_levels
    from smfcast.outputs.run_tables import forecast_rows, scenario_paths
    from smfcast.policy.scenarios import parse_custom
    store = _store(args)
    run = store.get(args.run)
    levels = parse_levels(args.level)
    if args.series:
        if args.scenario_file:
            raise InvalidInput("--scenario-file moves a headline metric; a marked series is forecast under baseline only",
                               "scenario-file")
        rows = forecast_rows(store, run, None, args.model, args.scenario, levels, history=args.history, series=args.series)
        info, title = run.series_info(args.series), args.series
    elif args.scenario_file:
        custom = parse_custom(_read_document(args.scenario_file), run.presets(), run.levers())
        paths = scenario_paths(store, run, args.metric, args.model, custom)
        rows = forecast_rows(store, run, args.metric, args.model, custom.name, levels, history=args.history, paths=paths)
        info, title = run.metric_info(args.metric), args.metric
    else:
        rows = forecast_rows(store, run, args.metric, args.model, args.scenario, levels, history=args.history)
        info, title = run.metric_info(args.metric), args.metric
    columns = ["period", "kind", "scenario", "model", "mean", "median"] + level_columns(levels)
    if args.format == "table":
        from smfcast.engine.records import Method
        print(f"{title}: {info['title_en']} [{info['unit']}], run {run.run_id}, method {Method.from_dict(info.get('method')).method}")
    else:
        columns = ["series_id", "run_id", "unit"] + columns
    print(render(rows, columns, args.format))
    return 0


def _forecast_file(args) -> int:
    """`smfcast forecast --csv FILE --h H`: the long file's series forecast by `smfcast.forecast`."""
    from pathlib import Path

    import smfcast
    from smfcast.engine.frames import answer_columns, answer_rows, long_frame
    from smfcast.outputs import user_forecasts
    from smfcast.outputs.bands import parse_levels
    if args.h is None:
        raise InvalidInput("--csv needs --h, the number of periods to forecast", "h")
    for flag, default in (("run", None), ("scenario_file", None), ("history", False), ("scenario", "baseline")):
        if getattr(args, flag) != default:
            raise InvalidInput(f"--{flag.replace('_', '-')} reads a stored run; a --csv file is forecast afresh", flag)
    path = Path(args.csv)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "csv") from None
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidInput(f"-o {out.name}: write a .csv or .xlsx file", "output")
    if out is not None and not out.parent.exists():
        raise InvalidInput(f"directory {out.parent} does not exist", "output")
    levels = parse_levels(args.level)
    members = args.model != ENSEMBLE
    df = long_frame(user_forecasts.records_from_file(data, path.name), path.name)
    fc = smfcast.forecast(df, args.h, levels, models=_models(args.models) if args.models else None, n_paths=args.paths,
                          seed=args.seed, evidence=args.evidence, members=members, quiet=args.quiet, engine=args.engine,
                          address=args.address)
    rows = answer_rows(fc, levels)
    if members and args.model != "all":
        rows = [r for r in rows if r["model"] == args.model]
        if not rows:
            raise InvalidInput(f"--model {args.model}: not one of the members fitted ({', '.join(fc.method.models)})", "model")
    columns = answer_columns(levels)
    method = fc.method
    if out is None:
        print(render(rows, columns, args.format))
    else:
        from smfcast.outputs.workbook import table_workbook
        blob = csv_text(rows, columns).encode("utf-8") if out.suffix.lower() == ".csv" else table_workbook([("forecast", rows, columns)])
        try:
            out.write_bytes(blob)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}", "output") from None
        print(f"wrote {out} ({len(blob):,} bytes): {len(method.series)} series, h={args.h}, evidence {method.evidence}")
    if args.format == "table" or out is not None:
        print(f"evidence: {method.why}", file=sys.stderr)
    return 0


def _export(args) -> int:
    """The run as a file for a spreadsheet: the workbook (XLSX) or every band as one long CSV."""
    from pathlib import Path

    from smfcast.outputs.bands import parse_levels
    from smfcast.outputs.run_tables import forecast_table, table_columns
    from smfcast.outputs.workbook import build_workbook
    store = _store(args)
    run = store.get(args.run)
    levels = parse_levels(args.level)
    metrics = args.metric or None
    scenarios = args.scenario or None
    out = Path(args.output)
    if not out.parent.exists():
        raise InvalidInput(f"directory {out.parent} does not exist", "output")
    fmt = args.format or ("csv" if out.suffix.lower() == ".csv" else "xlsx")
    if fmt == "xlsx":
        compare_with = store.get(args.compare) if args.compare else None
        data = build_workbook(store, run, store.registry_for(run.run_id, args.data), metrics, scenarios, args.model, levels,
                              sensitivity=args.sensitivity, compare_with=compare_with)
    elif args.sensitivity or args.compare:
        raise InvalidInput("--sensitivity and --compare add sheets to the workbook: use them with --format xlsx",
                           "sensitivity" if args.sensitivity else "compare")
    else:
        marked = [s for s in run.series_ids if args.model in run.series_info(s)["models"]] if not metrics else []
        rows = forecast_table(store, run, metrics or run.metrics, scenarios or run.scenarios, args.model, levels, history=True,
                              series=marked)
        data = csv_text(rows, table_columns(levels)).encode("utf-8-sig" if args.bom else "utf-8")
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}", "output") from None
    print(f"wrote {out} ({len(data):,} bytes) from run {run.run_id}")
    return 0


def _targets(args) -> int:
    from smfcast.outputs.run_tables import target_rows
    store = _store(args)
    run = store.get(args.run)
    scenarios = [args.scenario] if args.scenario else run.scenarios
    rows = target_rows(store, run, scenarios, args.model)
    print(render(rows, ["target", "metric", "year", "condition", "scenario", "model", "probability", "median"], args.format))
    return 0


def _goal_seek(args) -> int:
    from smfcast.outputs.decision_tables import seek, seek_columns
    store = _store(args)
    run = store.get(args.run)
    answer = seek(store, run, args.lever, target=args.target, metric=args.metric, year=args.year, probability=args.probability,
                  median=args.median, base=args.base, from_year=args.from_year)
    row = answer.as_dict()
    if args.format == "json":
        import json
        print(json.dumps({"run_id": run.run_id, **row, "curve": answer.curve}, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        print(render([{**row, "run_id": run.run_id}], seek_columns(answer) + ["run_id"], "csv"))
    else:
        print(f"{answer.note} [run {run.run_id}, base {args.base}]")
        print(render([{"field": c, "value": row.get(c)} for c in seek_columns(answer) if c != "note"], ["field", "value"], "table"))
    return 0


def _sensitivity(args) -> int:
    from smfcast.outputs.decision_tables import from_year_of, tornado
    store = _store(args)
    run = store.get(args.run)
    result = tornado(store, run, target=args.target, metric=args.metric, year=args.year, base=args.base, from_year=args.from_year)
    if args.format == "json":
        import json
        print(json.dumps({"run_id": run.run_id, "outcome": result.outcome, "base": result.base, "rows": result.rows,
                          "per_unit": result.per_unit, "quiet": result.quiet}, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        rows = [{"table": "range", **r} for r in result.rows] + [{"table": "unit", **r} for r in result.per_unit]
        print(render(rows, ["table"] + result.columns, "csv"))
    else:
        base = ", ".join(f"{k} {v:.4g}" for k, v in result.base.items())
        print(f"sensitivity of {result.outcome} under {args.base} ({base}), levers held from {from_year_of(args.from_year)}; "
              f"run {run.run_id}")
        print(render(result.rows, [c for c in result.columns if c not in ("title_en", "lever_unit")], "table"))
        print("\nmoved by one unit from the base path:")
        print(render(result.per_unit, [c for c in result.unit_columns if c not in ("title_en", "lever_unit")], "table"))
        if result.quiet:
            print(f"\nlevers that do not act on {result.metric}: " + ", ".join(result.quiet))
    return 0


COMPARE_TABLE_COLUMNS = {"forecasts": ["metric", "scenario", "period", "median_a", "median_b", "median_change", "lo-80_change",
                                       "hi-80_change", "lo-95_change", "hi-95_change"],
                         "observations": ["change", "series_id", "period", "value_a", "value_b", "quality_a", "quality_b",
                                          "source_b", "publisher"]}


def _compare(args) -> int:
    from smfcast.outputs.revisions import COLUMNS, TABLES, compare
    store = _store(args)
    a, b = store.get(args.run_a), store.get(args.run_b)
    record = compare(store, a, b, args.metric, store.sources_for([a.run_id, b.run_id], args.data))
    if args.format == "json":
        import json
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    tables = [args.table] if args.table else (["forecasts"] if args.format == "csv" else list(TABLES))
    if args.format == "csv":
        print(render(record[tables[0]], COLUMNS[tables[0]], "csv"))
        return 0
    print(f"run {b.run_id} ({b.created}) against run {a.run_id} ({a.created}); changes are {b.run_id} minus {a.run_id}")
    for name in tables:
        rows = record[name]
        empty = "none differ" if name in ("observations", "settings") else "no rows for these metrics"
        print(f"\n{name}: " + (f"{len(rows)} row(s)" if rows else empty))
        if rows:
            print(render(rows, COMPARE_TABLE_COLUMNS.get(name, COLUMNS[name]), "table"))
        if name == "observations":
            for note in record["observation_notes"]:
                print(f"  note: {note}")
    return 0


SUMMARY_COLUMNS = ["series_id", "model", "windows", "points", "mae", "rmse", "mape", "smape", "mase", "coverage-80",
                   "coverage-95", "width-95", "winkler-95", "msis", "crps"]


def _backtest(args) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from smfcast.engine.backtest import origins
    from smfcast.engine.executor import executor
    from smfcast.outputs.charts import backtest_chart
    from smfcast.registry.grid import regularize
    from smfcast.registry.series import UNFIT_QUALITIES
    from smfcast.store.backtests import run_backtests
    from smfcast.store.requests import backtest_request
    request = backtest_request({"seed": args.seed, "h": args.h, "n_windows": args.n_windows, "step_size": args.step_size,
                                "n_paths": args.paths, "metric": args.metric, "models": _models(args.models)},
                               {"seed": "--seed", "h": "--h", "n_windows": "--n-windows", "step_size": "--step-size",
                                "n_paths": "--paths", "models": "--models"})
    spec = request.spec
    reg = load_registry(args.data)
    store = _store(args)
    bar = tqdm(total=sum(2 for m in reg.headlines if not request.metrics or m in request.metrics), desc="backtest", unit="series",
               disable=args.quiet, file=sys.stderr)
    with executor(args.engine, args.address) as ex:
        backtest_id, results, result = run_backtests(reg, request, store, ex, progress=lambda _s: bar.update())
    bar.close()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, summary = result["rows"], result["summary"]
    row_cols = ["series_id", "model", "cutoff", "horizon", "y", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
    (out_dir / "backtest_rows.csv").write_text(csv_text(rows, row_cols), encoding="utf-8")
    (out_dir / "backtest_summary.csv").write_text(csv_text(summary, ["metric"] + SUMMARY_COLUMNS), encoding="utf-8")
    for res in results:
        if not res.rows:
            continue
        meta = reg.meta(res.series_id)
        obs = reg.observations(res.series_id, UNFIT_QUALITIES)
        grid = [str(p) for p in regularize(obs, meta.transformer).periods]  # cutoffs index this grid
        png = backtest_chart(f"{res.series_id}: ensemble forecasts from each origin (80% band)", meta.unit,
                             [str(o.period) for o in obs], [o.value for o in obs], origins(res.rows, grid))
        (out_dir / f"backtest_{res.series_id}.png").write_bytes(png)
    print(f"backtest {backtest_id}: h={spec.h}, n_windows={spec.n_windows}, step_size={spec.step_size}; "
          f"CSV and charts in {out_dir}/, stored in {store.path}")
    for res in results:
        print(f"  {res.series_id}: {res.note}" + (f"; calibration {res.calibration.get(ENSEMBLE, {}).get('status')}" if res.rows else ""))
    if args.format == "table":
        print(render(summary, SUMMARY_COLUMNS, "table"))
    else:
        print(render(summary, ["metric"] + SUMMARY_COLUMNS, args.format))
    return 0


VALIDATE_COLUMNS = ["method", "series", "fallback", "smape", "mase", "coverage-80", "coverage-95", "msis", "msis-median", "msis-max",
                    "width-95-median", "width-95-max", "seconds"]


def _validate(args) -> int:
    import time

    from smfcast.engine.datasets import load_csv, load_dataset
    from smfcast.engine.validate import validate
    models = tuple(m.strip() for m in args.models.split(",")) if args.models else MEMBERS
    if any(m not in MEMBERS for m in models):
        raise InvalidInput(f"--models must be drawn from {', '.join(MEMBERS)}", "models")
    if bool(args.dataset) == bool(args.csv):
        raise InvalidInput("give either --dataset NAME (such as m3-yearly) or --csv FILE --h H", "dataset")
    if args.csv and args.h is None:
        raise InvalidInput("--csv needs --h, the number of final points to hold out", "h")
    series = load_dataset(args.dataset, args.limit) if args.dataset else load_csv(args.csv, args.h, args.limit)
    started = time.perf_counter()
    rows, info = validate(series, models, args.seed, args.procedure, args.engine, args.address, quiet=args.quiet)
    took = time.perf_counter() - started
    if args.format != "table":
        print(render(rows, VALIDATE_COLUMNS, args.format))
        return 0
    print(f"{args.dataset or args.csv}: {len(series)} series, procedure {args.procedure}, models {','.join(info['models'])}, "
          f"{took:.0f} s wall; seconds = fitting time summed over series (one core), inner fits and backtests included; "
          f"msis and width-95 are scaled by the in-sample naive error")
    print(render(rows, VALIDATE_COLUMNS, "table"))
    print(f"fitting scales chosen: {', '.join(f'{k} {v}' for k, v in info['scales'].items())}")
    if info["excluded"]:
        print(f"left out of every row ({len(info['excluded'])}): " + "; ".join(f"{k} ({v})" for k, v in info["excluded"].items()))
    if info["member_failures"]:
        print("member failures (the random walk with drift stands in): " + ", ".join(f"{k} {v}" for k, v in info["member_failures"].items()))
    if info["benchmark_fallbacks"]:
        print("benchmark fallbacks to Naive: " + ", ".join(f"{k} {v}" for k, v in info["benchmark_fallbacks"].items()))
    if args.procedure == "pooled":
        print(f"pool (relative inner-holdout MAE, kept while at most {1 + info['pool_tolerance']:.2f}): "
              + ", ".join(f"{k} {v:.3f}" + ("" if k in info["pool"] else " (left out)") for k, v in info["relative_errors"].items()))
        print(f"point: weighted {info['point_rule']} of the pooled members' points (inner-holdout MASE: "
              + ", ".join(f"{k} {v:.3f}" for k, v in info["point_rule_inner_mase"].items()) + ")")
        if info["weights"]:
            print(f"weights (training only, shrinkage {info['shrinkage']:.3f}): " + ", ".join(f"{k} {v:.3f}" for k, v in info["weights"].items()))
        print(f"combination: {info['combination']} (inner-holdout MSIS: "
              + ", ".join(f"{k} {v:.2f}" for k, v in info["combination_inner_msis"].items()) + ")")
        factors = ", ".join("-" if hz["factor"] is None else f"{hz['factor']:.2f}" for hz in info["calibration"])
        counts = ", ".join(str(hz["scores"]) for hz in info["calibration"])
        print(f"calibration: 95% band stretch per horizon, learned on training parts only: {factors} (scores: {counts})")
    else:
        print("per-series calibration status: " + ", ".join(f"{k} {v}" for k, v in info["run_status"].items()))
        print("per-series combination: " + ", ".join(f"{k} {v}" for k, v in info["combinations"].items()))
        print("per-series point rule: " + ", ".join(f"{k} {v}" for k, v in info["point_rules"].items()))
        print("members left out of a series' pool: " + (", ".join(f"{k} {v}" for k, v in info["left_out"].items()) or "none"))
    return 0


def _who() -> str:
    """Who publishes from the command line: the login name (the API records the token's name)."""
    import getpass
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _runs(args) -> int:
    from smfcast.store.publications import COLUMNS
    store = _store(args)
    history = store.publication_history()
    if args.publications:
        print(render(history, COLUMNS, args.format))
        return 0
    runs = store.list()
    if not runs:
        print("no run in the store yet; run `smfcast run` first")
        return 0
    published, current = {}, store.published_id()
    for p in history:  # newest first
        published.setdefault(p["run_id"], p["published"])
    rows = [{"run_id": r.run_id, "created": r.created, "version": r.version, "seed": r.config["seed"], "paths": r.config["n_paths"],
             "scenarios": ",".join(r.scenarios), "published": ("current, " if r.run_id == current else "") + published.get(r.run_id, ""),
             "libraries": r.libraries} for r in runs]
    columns = ["run_id", "created", "version", "seed", "paths", "scenarios", "published"]
    if args.format == "table":
        print(render(rows, columns, "table"))
        print("\npublications, newest first (`smfcast runs --publications` for the whole history):")
        print(render(history[:10], [c for c in COLUMNS if c != "current"], "table"))
    else:
        print(render(rows, columns + (["libraries"] if args.format == "json" else []), args.format))
    return 0


def _publish(args) -> int:
    store = _store(args)
    record = store.publish(args.run_id, _who(), args.reason or "")
    print(f"published {record['run_id']} at {record['published']} by {record['by']}: requests that name no run get it now")
    return 0


def _worker(args) -> int:
    import logging

    from smfcast.store.queue import open_queue
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [worker %(process)d] %(levelname)s %(name)s: %(message)s")
    queue = open_queue(_store(args).path)
    if args.drain:
        print(f"ran {queue.drain()} queued job(s)")
        return 0
    queue.consume(workers=args.workers, nice=args.nice, idle=not args.no_idle)
    return 0


def _serve(args) -> int:
    from smfcast.api.server import refuse_exposed, serve
    refuse_exposed(args.host)
    store = _store(args)
    if store.latest() is None:
        print(f"smfcast: no run in {store.path} yet; computing the first run before serving ...", file=sys.stderr, flush=True)
        args.seed, args.paths, args.models, args.engine, args.address = SEED, N_PATHS, None, "local", None
        _run(args)
    if args.data:
        os.environ["SMFCAST_DATA"] = str(args.data)
    return serve(args.host, args.port, args.workers, store.path.resolve())


def _question(p: argparse.ArgumentParser, target_help: str, metric_help: str) -> None:
    """What a decision tool is asked about: a target, or a metric in a year."""
    p.add_argument("--target", default=None, help=target_help)
    p.add_argument("--metric", choices=HEADLINE_METRICS, default=None, help=metric_help)
    p.add_argument("--year", type=int, default=None)


def _scenario_run_format(p: argparse.ArgumentParser, from_year_help: str) -> None:
    """Where a decision tool starts (base scenario, year, run) and how it answers."""
    p.add_argument("--base", default="baseline", help="base scenario (default baseline)")
    p.add_argument("--from-year", type=int, default=None, help=from_year_help)
    p.add_argument("--run", default=None)
    p.add_argument("--format", choices=FORMATS, default="table")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="smfcast", description="Forecasts and policy scenarios for small and micro-enterprise finance in Qinghai.")
    p.add_argument("--version", action="version", version=f"smfcast {__version__}")
    p.add_argument("--data", default=None, help="data directory (default: $SMFCAST_DATA or the repository's data/)")
    p.add_argument("--store", default=None, help="run store (default: $SMFCAST_STORE or var/smfcast.sqlite)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="check, show and change the data registry (every change logged, revertible)")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    for name, func, positional, about in (("check", _data_check, (), "validate the registry and list every series"),
                                          ("show", _data_show, ("series_id",), "print a series' observations with their sources")):
        reader = data_sub.add_parser(name, help=about)
        for arg in positional:
            reader.add_argument(arg)
        reader.add_argument("--format", choices=FORMATS, default="table")
        reader.set_defaults(func=func)
    from smfcast.cli_data import register
    register(data_sub, _Parser)  # add, import, template, source add, series add, history, revert

    run = sub.add_parser("run", help="fit every headline metric with every model and store an immutable run")
    run.add_argument("--seed", type=int, default=SEED)
    run.add_argument("--paths", type=int, default=N_PATHS, help=f"sample paths per model (default {N_PATHS})")
    run.add_argument("--models", default=None, help=f"comma-separated members (default: {','.join(MEMBERS)})")
    run.add_argument("--engine", choices=("local", "serial", "dask"), default="local",
                     help="where the metrics are fitted: local processes (default), serial, or a Dask scheduler")
    run.add_argument("--address", default=None, help="Dask scheduler address for --engine dask")
    run.add_argument("--publish", action="store_true", help="publish the run: requests that name no run get it")
    run.add_argument("--reason", default=None, help="with --publish: why, for the publication history")
    run.set_defaults(func=_run)

    pub = sub.add_parser("publish", help="publish a stored run: requests that name no run (live links) get it from now on")
    pub.add_argument("run_id")
    pub.add_argument("--reason", default=None, help="why, for the publication history")
    pub.set_defaults(func=_publish)

    fc = sub.add_parser("forecast", help="bands of a headline metric or a marked series from a stored run, "
                                         "or of the series in your own long file (--csv FILE --h H)")
    fc.add_argument("--metric", default=None, choices=HEADLINE_METRICS, help="a headline metric of the run")
    fc.add_argument("--series", default=None, help="a series the run forecast because it is marked (`data series add --forecast`)")
    fc.add_argument("--csv", default=None, metavar="FILE",
                    help="a long .csv or .xlsx file (series_id or unique_id, period or ds, value or y) to forecast now")
    fc.add_argument("--h", type=int, default=None, help="with --csv: periods to forecast")
    fc.add_argument("-o", "--output", default=None, help="with --csv: write the rows to a .csv or .xlsx file instead of printing them")
    fc.add_argument("--model", default=ENSEMBLE,
                    help=f"{ENSEMBLE} (default) or a member ({', '.join(MEMBERS)}); with --csv also 'all' for every member")
    fc.add_argument("--scenario", default="baseline", help="a preset scenario of the run (default baseline)")
    fc.add_argument("--level", default=_LEVELS, help=f"central band levels in percent (default {_LEVELS})")
    fc.add_argument("--run", default=None, help="run id (default: the published run)")
    fc.add_argument("--history", action="store_true", help="include the observed history")
    fc.add_argument("--scenario-file", default=None, help="a custom scenario (TOML or JSON: base + lever overrides)")
    fc.add_argument("--models", default=None, help=f"with --csv: comma-separated members to fit (default: {','.join(MEMBERS)})")
    fc.add_argument("--paths", type=int, default=None,
                    help="with --csv: sample paths per member (default 2000 on each series' own evidence, 500 pooled)")
    fc.add_argument("--seed", type=int, default=SEED, help=f"with --csv: random seed (default {SEED})")
    fc.add_argument("--evidence", choices=("auto", "own", "pooled"), default="auto",
                    help="with --csv: what learns the ensemble: each series' own backtest, or held-back forecasts pooled "
                         "across the series (default auto: pooled from 10 series on)")
    fc.add_argument("--engine", choices=("local", "serial", "dask"), default="local",
                    help="with --csv: where the series are fitted (default local processes)")
    fc.add_argument("--address", default=None, help="with --engine dask: the scheduler, e.g. tcp://HOST:8786")
    fc.add_argument("--quiet", action="store_true", help="with --csv: no progress bar")
    fc.add_argument("--format", choices=FORMATS, default="table", help="table (default), json or csv")
    fc.set_defaults(func=_forecast)

    ex = sub.add_parser("export", help="write a run as an XLSX workbook or a long CSV for spreadsheets")
    ex.add_argument("--format", choices=("xlsx", "csv"), default=None, help="default: csv for a .csv file name, else xlsx")
    ex.add_argument("-o", "--output", required=True, help="file to write")
    ex.add_argument("--run", default=None, help="run id (default: the published run)")
    ex.add_argument("--metric", action="append", choices=HEADLINE_METRICS, help="repeatable (default: every metric)")
    ex.add_argument("--scenario", action="append", help="repeatable (default: every preset)")
    ex.add_argument("--model", default=ENSEMBLE)
    ex.add_argument("--level", default=_LEVELS, help=f"central band levels in percent (default {_LEVELS})")
    ex.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte-order mark for Excel")
    ex.add_argument("--sensitivity", action="store_true", help="XLSX: add a sensitivity sheet (a tornado per target and metric)")
    ex.add_argument("--compare", default=None, metavar="RUN", help="XLSX: add a revisions sheet against this earlier run")
    ex.set_defaults(func=_export)

    tg = sub.add_parser("targets", help="probability that each policy target is met, per scenario")
    tg.add_argument("--scenario", default=None, help="one scenario (default: every preset)")
    tg.add_argument("--model", default=ENSEMBLE)
    tg.add_argument("--run", default=None)
    tg.add_argument("--format", choices=FORMATS, default="table")
    tg.set_defaults(func=_targets)

    gs = sub.add_parser("goal-seek", help="the lever value at which a target is met with a given probability (or a median is reached)")
    _question(gs, "target id (see `smfcast targets`)", "with --year and --median: seek a median instead")
    gs.add_argument("--lever", required=True, help="lever id (see GET /v1/levers)")
    gs.add_argument("--probability", type=float, default=None, help="P(target met) to reach, in (0, 1)")
    gs.add_argument("--median", type=float, default=None, help="the median to reach (with --metric and --year)")
    _scenario_run_format(gs, "hold the lever from this year on (default 2026)")
    gs.set_defaults(func=_goal_seek)

    se = sub.add_parser("sensitivity", help="each lever at the ends of its range and moved by one unit: a tornado")
    _question(se, "target id: the change in P(target met)", "with --year: the change in the median and 80%% band")
    _scenario_run_format(se, "levers moved from this year on (default 2026)")
    se.set_defaults(func=_sensitivity)

    cp = sub.add_parser("compare", help="what changed between two runs (B minus A) and why")
    cp.add_argument("run_a")
    cp.add_argument("run_b")
    cp.add_argument("--metric", action="append", choices=HEADLINE_METRICS, help="repeatable (default: every metric)")
    cp.add_argument("--table", choices=("forecasts", "targets", "observations", "settings"), default=None,
                    help="one table only (CSV prints forecasts unless told)")
    cp.add_argument("--format", choices=FORMATS, default="table")
    cp.set_defaults(func=_compare)

    bt = sub.add_parser("backtest", help="rolling-origin backtests of the series behind each headline metric")
    bt.add_argument("--metric", choices=HEADLINE_METRICS, default=None)
    bt.add_argument("--models", default=None, help="comma-separated members (default: all)")
    bt.add_argument("--h", type=int, default=BACKTEST["h"], help=f"steps ahead per window (default {BACKTEST['h']})")
    bt.add_argument("--n-windows", type=int, default=BACKTEST["n_windows"])
    bt.add_argument("--step-size", type=int, default=BACKTEST["step_size"])
    bt.add_argument("--paths", type=int, default=BACKTEST["n_paths"], help=f"sample paths per model (default {BACKTEST['n_paths']})")
    bt.add_argument("--seed", type=int, default=SEED)
    bt.add_argument("--engine", default="local", help="local (process pool), serial, or dask")
    bt.add_argument("--address", default=None, help="Dask scheduler, e.g. tcp://HOST:8786 (with --engine dask)")
    bt.add_argument("-o", "--output", default="var/backtests", help="directory for CSV and PNG output")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.add_argument("--format", choices=FORMATS, default="table")
    bt.set_defaults(func=_backtest)

    va = sub.add_parser("validate", help="score the models on competition data (M3) or any long CSV")
    va.add_argument("--dataset", choices=list(DATASETS), default=None,
                    help="competition data (M3, M1, tourism; yearly or quarterly), split as the competition did")
    va.add_argument("--csv", default=None, help="long file with series_id, period, value")
    va.add_argument("--h", type=int, default=None, help="points held out per series (with --csv)")
    va.add_argument("--limit", type=int, default=None, help="only the first N series")
    va.add_argument("--models", default=None)
    va.add_argument("--seed", type=int, default=SEED)
    va.add_argument("--procedure", choices=["pooled", "run"], default="pooled",
                    help="pooled: weights and calibration learned across series (default); run: each series on its own, as runs do")
    va.add_argument("--engine", default="local")
    va.add_argument("--address", default=None)
    va.add_argument("--quiet", action="store_true")
    va.add_argument("--format", choices=FORMATS, default="table")
    va.set_defaults(func=_validate)

    runs = sub.add_parser("runs", help="list the stored runs, newest first, and the publications")
    runs.add_argument("--publications", action="store_true", help="print the whole publication history instead")
    runs.add_argument("--format", choices=FORMATS, default="table")
    runs.set_defaults(func=_runs)

    wk = sub.add_parser("worker", help="run queued refits and backtests (`smfcast serve` starts one)")
    wk.add_argument("--workers", type=int, default=env_number("SMFCAST_QUEUE_WORKERS", 1, 1, whole=True),
                    help="jobs at a time (default 1; more run in processes of their own)")
    wk.add_argument("--nice", type=int, default=env_number("SMFCAST_WORKER_NICE", 19, 0, whole=True),
                    help="CPU niceness added to the worker, so HTTP answers come first (default 19, the lowest priority)")
    wk.add_argument("--no-idle", action="store_true", default=os.environ.get("SMFCAST_WORKER_IDLE") == "0",
                    help="compute jobs at the worker's niceness instead of on idle CPU only (Linux SCHED_IDLE; the default)")
    wk.add_argument("--drain", action="store_true", help="run what is queued now, then exit")
    wk.set_defaults(func=_worker)

    serve = sub.add_parser("serve", help="run the HTTP API under gunicorn, with the job worker")
    serve.add_argument("--host", default=os.environ.get("SMFCAST_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=env_number("SMFCAST_PORT", 8000, 1, whole=True))
    serve.add_argument("--workers", type=int, default=env_number("SMFCAST_WORKERS", 2, 1, whole=True))
    serve.set_defaults(func=_serve)
    return p


def _check_text(args) -> None:
    """Bytes on the command line that are not UTF-8 reach Python as surrogate escapes, which no
    file, store or terminal takes: refuse the argument by name before anything is written."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    byte = ord(item[exc.start]) - 0xDC00
                    raise InvalidInput(f"{name} is not UTF-8 text" + (f" (byte 0x{byte:02x})" if 0x80 <= byte <= 0xFF else "")
                                       + "; set the terminal to UTF-8", name) from None


def main(argv: list[str] | None = None) -> int:
    single_threaded()  # one BLAS thread per process, inherited by the server, the worker and the pool (`smfcast.blas`)
    try:
        args = build_parser().parse_args(argv)  # the parser reads settings from the environment
        _check_text(args)
        return args.func(args)
    except SmfcastError as exc:
        print(f"smfcast: error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
