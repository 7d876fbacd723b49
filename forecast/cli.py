"""The `smfcast` command line: data checks, runs, forecasts, scenarios, backtests, the server.

Every failure the user can cause ends as one line on stderr and a non-zero exit code; tracebacks
are for bugs only. A table answers in the shape the API gives for the same query (`--format json`
prints its answer object, `--format csv` its CSV byte for byte; the tables are built in
`smfcast.outputs`, once for both), or as plain text fitted to the terminal's 120 columns
(`--wide`: all of it). Commands that only read never create a store or any other file.
"""

from __future__ import annotations

import argparse
import os
import sys

from smfcast import __version__
from smfcast.blas import single_threaded
from smfcast.defaults import BACKTEST, ENSEMBLE, LEVELS, MEMBERS, N_PATHS, SEED, env_number
from smfcast.engine.datasets import DATASETS
from smfcast.engine.executor import ENGINES
from smfcast.errors import InvalidInput, SmfcastError
from smfcast.outputs.bands import level_columns
from smfcast.outputs.tables import FORMATS, WIDTH, csv_text, render, wrap
from smfcast.registry.series import HEADLINE_METRICS, load_registry

_LEVELS = ",".join(map(str, LEVELS))  # the default of --level
_MODELS = (ENSEMBLE, *MEMBERS)  # what --model may name of a stored run


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _data_check(args) -> int:
    from smfcast.outputs.registry_tables import SERIES_COLUMNS, series_rows
    from smfcast.registry import atomic, changes
    reg = load_registry(args.data)
    rows = series_rows(reg)
    if args.format != "table":
        print(render(rows, SERIES_COLUMNS, args.format))
    else:
        shown = sorted(({**r, "headline": r["headline"] or "", "last_change": (r["last_change"] or "")[:10]} for r in rows),
                       key=lambda r: (r["headline"] == "", r["region"] != "QH", r["id"]))
        print(render(shown, SERIES_COLUMNS, "table", wide=args.wide, whole=("headline",),
                     view=["id", "headline", "first", "last", "count", "last_change", "last_change_source", "unit", "frequency",
                           "region"]))
    if atomic.pending(reg.data_dir):
        print("smfcast: warning: a change was interrupted while being written; the data are valid, and the next "
              "`smfcast data` write completes it", file=sys.stderr)
    if args.format == "table":
        grades = {}
        for o in reg.rows:
            grades[o.quality] = grades.get(o.quality, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(grades.items()))
        _say(f"\n{len(reg.rows)} observations in {len(reg.series)} series, every one resolved to one of "
             f"{len(reg.sources)} sources ({summary}).", args)
        _say(f"last_change: the series' newest change in {changes.LOG} (`smfcast data history ID`); blank: as compiled.", args)
    return 0


def _data_show(args) -> int:
    from smfcast.outputs.registry_tables import observation_rows
    reg = load_registry(args.data)
    rows, columns, meta = observation_rows(reg, args.series_id)
    if args.format == "table":
        s = meta["series"]
        _say(f"{s['id']}: {s['title_en']} / {s['title_zh']} [{s['unit']}, {s['frequency']}, {s['region']}]", args)
        print(render(rows, columns, "table", wide=args.wide, view=["period", "value", "quality", "publisher", "quote", "note"]))
    else:
        print(render(rows, columns, args.format, meta))
    return 0


def _say(text: str, args) -> None:
    """Prose over or under a table, wrapped at the table's width (unless --wide)."""
    print(text if getattr(args, "wide", False) else wrap(text))


def _store(args, write: bool = False):
    """The run store: opened to write (created if missing) for commands that store runs, jobs or
    backtests; else read only, so a missing store is the one-line "no run in the store yet"."""
    from smfcast.store.runs import RunStore
    return RunStore(args.store, create=write)


def _listed(values: list[str] | None) -> list[str]:
    """A repeatable option's values, each also split at commas (as the API's `?x=a,b`)."""
    return [v.strip() for raw in values or () for v in raw.split(",") if v.strip()]


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
    store = _store(args, write=True)
    from smfcast.engine.executor import executor
    with executor(args.engine, args.address) as ex:
        run = create_run(args.data, request.config, store, executor=ex,
                         progress=lambda m: print(f"fitted {m}", file=sys.stderr, flush=True))
    took = time.perf_counter() - started
    print(f"run {run.run_id} ({run.created}) in {took:.1f} s -> {store.path}")
    if getattr(args, "publish", False) and store.published_id() != run.run_id:
        store.publish(run.run_id, _who(), args.reason or "smfcast run --publish")
    published = store.published_id()
    _say(f"published: {run.run_id} (requests that name no run get it)" if published == run.run_id else
         f"not published: requests that name no run still get {published}; `smfcast publish {run.run_id}` to serve this one", args)
    print(run_summary(run, wide=getattr(args, "wide", False)))
    return 0


def run_summary(run, wide: bool = False) -> str:
    """The table `smfcast run` prints of a run: per metric its series, method, data vintage,
    members, the members that failed and the grades of the observations used."""
    columns = ["metric", "series", "method", "points", "data changed", "models", "failed", "grades"]
    return render(_run_summary_rows(run), columns, "table", wide=wide, whole=("series", "method", "data changed"))


def _run_summary_rows(run) -> list[dict]:
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
    return rows


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
    """Bands of headline metrics or marked series from a stored run (the rows `GET /v1/forecasts`
    answers for the same query), or of the series in a long file (`--csv`), forecast now by
    `smfcast.forecast` (the rows `POST /v1/forecast` answers)."""
    metrics, series = _listed(args.metric), _listed(args.series)
    if args.csv:
        if metrics or series:
            raise InvalidInput("--csv FILE forecasts the file's series; --metric and --series read a stored run: give one", "csv")
        return _forecast_file(args)
    if not metrics and not series:
        raise InvalidInput("give --metric METRIC, --series ID (a marked series of the run) or --csv FILE --h H", "metric")
    for flag in ("h", "output"):
        if getattr(args, flag) is not None:
            raise InvalidInput(f"--{flag} goes with --csv FILE (a run's horizon is fixed by the run)", flag)
    if args.model == "all":
        raise InvalidInput(f"--model all goes with --csv FILE; a stored run serves one model at a time ({', '.join(_MODELS)})", "model")
    from smfcast.outputs.bands import parse_levels
    from smfcast.outputs.run_tables import custom_answer, forecast_answer
    from smfcast.policy.scenarios import parse_custom
    store = _store(args)
    run = store.get(args.run)
    levels = parse_levels(args.level)
    if args.scenario_file:
        if series:
            raise InvalidInput("--scenario-file moves headline metrics; a marked series is forecast under baseline only", "scenario-file")
        if args.scenario:
            raise InvalidInput("--scenario names presets; --scenario-file is a scenario of its own: give one of the two", "scenario")
        custom = parse_custom(_read_document(args.scenario_file), run.presets(), run.levers())
        rows, columns, meta = custom_answer(store, run, metrics, args.model, custom, levels, args.history)
    else:
        rows, columns, meta = forecast_answer(store, run, metrics, _listed(args.scenario), args.model, levels, args.history, series)
    if args.format != "table":
        print(render(rows, columns, args.format, meta))
        return 0
    from smfcast.engine.records import Method
    view = ["period", "kind", "scenario", "model", "mean", "median"] + level_columns(levels)
    for i, key in enumerate(dict.fromkeys((r["metric"], r["series_id"]) for r in rows)):
        metric, sid = key
        info = run.metric_info(metric) if metric else run.series_info(sid)
        _say(("\n" if i else "") + f"{metric or sid}: {info['title_en']} [{info['unit']}], run {run.run_id}, "
             f"method {Method.from_dict(info.get('method')).method}", args)
        print(render([r for r in rows if (r["metric"], r["series_id"]) == key], view, "table", wide=args.wide))
    return 0


def _forecast_file(args) -> int:
    """`smfcast forecast --csv FILE --h H`: the long file's series forecast by `smfcast.forecast`."""
    from pathlib import Path

    import smfcast
    from smfcast.engine.frames import answer_columns, answer_meta, answer_rows, long_frame
    from smfcast.outputs import user_forecasts
    from smfcast.outputs.bands import parse_levels
    if args.h is None:
        raise InvalidInput("--csv needs --h, the number of periods to forecast", "h")
    for flag in ("run", "scenario_file", "history", "scenario"):
        if getattr(args, flag):
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
        print(render(rows, columns, args.format, answer_meta(fc, args.h, levels), wide=args.wide))
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
    asked = _listed(args.scenario)
    scenarios = None if not asked or asked == ["all"] else asked
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
    from smfcast.outputs.run_tables import TARGET_COLUMNS, target_rows
    store = _store(args)
    run = store.get(args.run)
    rows = target_rows(store, run, _listed(args.scenario) or run.scenarios, args.model)
    if args.format == "table":
        _say(f"P(target met) per scenario, run {run.run_id}", args)
    print(render(rows, TARGET_COLUMNS, args.format, {"run_id": run.run_id}, wide=args.wide,
                 view=[c for c in TARGET_COLUMNS if c != "run_id"]))
    return 0


def _goal_seek(args) -> int:
    from smfcast.outputs.decision_tables import seek, seek_answer, seek_columns, seek_table
    from smfcast.outputs.tables import json_text
    store = _store(args)
    run = store.get(args.run)
    answer = seek(store, run, args.lever, target=args.target, metric=args.metric, year=args.year, probability=args.probability,
                  median=args.median, base=args.base, from_year=args.from_year)
    if args.format == "json":
        print(json_text(seek_answer(answer, run)))
    elif args.format == "csv":
        print(render(*seek_table(answer, run)[:2], "csv"))
    else:
        row = seek_answer(answer, run)
        _say(f"{answer.note} [run {run.run_id}, base {args.base}]", args)
        print(render([{"field": c, "value": row.get(c)} for c in seek_columns(answer) if c != "note"], ["field", "value"], "table",
                     wide=args.wide))
    return 0


def _sensitivity(args) -> int:
    from smfcast.outputs.decision_tables import from_year_of, tornado, tornado_answer, tornado_table
    from smfcast.outputs.tables import json_text
    store = _store(args)
    run = store.get(args.run)
    result = tornado(store, run, target=args.target, metric=args.metric, year=args.year, base=args.base, from_year=args.from_year)
    if args.format == "json":
        print(json_text(tornado_answer(result, run, args.base)))
    elif args.format == "csv":
        print(render(*tornado_table(result, run, args.base)[:2], "csv"))
    else:
        shown = tornado_answer(result, run, args.base)
        base = ", ".join(f"{k} {v:.4g}" for k, v in shown["base"].items())
        _say(f"sensitivity of {result.outcome} under {args.base} ({base}), levers held from {from_year_of(args.from_year)}; "
             f"run {run.run_id}", args)
        print(render(shown["rows"], [c for c in result.columns if c not in ("title_en", "lever_unit")], "table", wide=args.wide))
        print("\nmoved by one unit from the base path:")
        print(render(shown["per_unit"], [c for c in result.unit_columns if c not in ("title_en", "lever_unit")], "table",
                     wide=args.wide))
        if result.quiet:
            _say(f"\nlevers that do not act on {result.metric}: " + ", ".join(result.quiet), args)
    return 0


COMPARE_TABLE_COLUMNS = {"forecasts": ["metric", "scenario", "period", "median_a", "median_b", "median_change", "lo-80_change",
                                       "hi-80_change", "lo-95_change", "hi-95_change"],
                         "observations": ["change", "series_id", "period", "value_a", "value_b", "quality_a", "quality_b",
                                          "source_b", "publisher"]}


def _compare(args) -> int:
    from smfcast.outputs.revisions import COLUMNS, TABLES, compare
    from smfcast.outputs.tables import json_text
    store = _store(args)
    a, b = store.get(args.run_a), store.get(args.run_b)
    record = compare(store, a, b, args.metric, store.sources_for([a.run_id, b.run_id], args.data))
    if args.format == "json" and not args.table:
        print(json_text(record))  # the whole record, as `GET /v1/runs/A/compare/B` answers it
        return 0
    if args.format != "table":  # one table, as `...?table=NAME` answers it (CSV: forecasts unless told)
        table = args.table or "forecasts"
        print(render(record[table], COLUMNS[table], args.format, {"run_id": b.run_id, "run_a": a.run_id, "run_b": b.run_id}))
        return 0
    _say(f"run {b.run_id} ({b.created}) against run {a.run_id} ({a.created}); changes are {b.run_id} minus {a.run_id}", args)
    for name in [args.table] if args.table else TABLES:
        rows = record[name]
        empty = "none differ" if name in ("observations", "settings") else "no rows for these metrics"
        print(f"\n{name}: " + (f"{len(rows)} row(s)" if rows else empty))
        if rows:
            print(render(rows, COLUMNS[name], "table", wide=args.wide, view=COMPARE_TABLE_COLUMNS.get(name)))
        if name == "observations":
            for note in record["observation_notes"]:
                _say(f"  note: {note}", args)
    return 0


def _backtest(args) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from smfcast.engine.backtest import origins
    from smfcast.engine.executor import executor
    from smfcast.outputs.charts import backtest_chart
    from smfcast.registry.grid import regularize
    from smfcast.registry.series import UNFIT_QUALITIES
    from smfcast.store.backtests import ROW_COLUMNS, SUMMARY_COLUMNS, backtest_table, run_backtests, stored_backtest
    from smfcast.store.requests import backtest_request
    request = backtest_request({"seed": args.seed, "h": args.h, "n_windows": args.n_windows, "step_size": args.step_size,
                                "n_paths": args.paths, "metric": args.metric, "models": _models(args.models)},
                               {"seed": "--seed", "h": "--h", "n_windows": "--n-windows", "step_size": "--step-size",
                                "n_paths": "--paths", "models": "--models"})
    spec = request.spec
    reg = load_registry(args.data)
    store = _store(args, write=True)
    bar = tqdm(total=sum(2 for m in reg.headlines if not request.metrics or m in request.metrics), desc="backtest", unit="series",
               disable=args.quiet, file=sys.stderr)
    with executor(args.engine, args.address) as ex:
        backtest_id, results, result = run_backtests(reg, request, store, ex, progress=lambda _s: bar.update())
    bar.close()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "backtest_rows.csv").write_text(csv_text(result["rows"], ROW_COLUMNS), encoding="utf-8")
    (out_dir / "backtest_summary.csv").write_text(csv_text(result["summary"], SUMMARY_COLUMNS), encoding="utf-8")
    for res in results:
        if not res.rows:
            continue
        meta = reg.meta(res.series_id)
        obs = reg.observations(res.series_id, UNFIT_QUALITIES)
        grid = [str(p) for p in regularize(obs, meta.transformer).periods]  # the periods cutoffs name
        png = backtest_chart(f"{res.series_id}: ensemble forecasts from each origin (80% band)", meta.unit,
                             [str(o.period) for o in obs], [o.value for o in obs], origins(res.rows, grid))
        (out_dir / f"backtest_{res.series_id}.png").write_bytes(png)
    rows, columns, meta = backtest_table(stored_backtest(store, backtest_id), args.metric)  # as GET /v1/backtests?backtest=ID answers
    if args.format != "table":
        print(render(rows, columns, args.format, meta))
        return 0
    _say(f"backtest {backtest_id}: h={spec.h}, n_windows={spec.n_windows}, step_size={spec.step_size}; "
         f"CSV and charts in {out_dir}/, stored in {store.path}", args)
    for res in results:
        status = res.calibration.get("status") if res.rows else None
        note = res.note if res.note.startswith(res.series_id) else f"{res.series_id}: {res.note}"
        _say(f"  {note}" + (f"; calibration {status}" if status else ""), args)
    print(render(rows, columns, "table", wide=args.wide, view=[c for c in columns if c != "metric"], whole=("model",)))
    _say("coverage-80, coverage-95: percent of the scored points inside the central band (nominal: 80 and 95)", args)
    return 0



def _validate(args) -> int:
    import time

    from smfcast.engine.datasets import load_csv, load_dataset
    from smfcast.engine.validate import COLUMNS, validate
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
        meta = {"data": args.dataset or args.csv, "series": len(series), "procedure": args.procedure, "models": info["models"],
                "seed": args.seed, "excluded": info["excluded"], "evidence": info["evidence"]}
        print(render(rows, COLUMNS, args.format, meta))
        return 0
    _say(f"{args.dataset or args.csv}: {len(series)} series, procedure {args.procedure}, models {','.join(info['models'])}, "
         f"{took:.0f} s wall; seconds = fitting time summed over series (one core), inner fits and backtests included; "
         f"msis and width-95 are scaled by the in-sample naive error; coverage in percent of the test points inside the band", args)
    print(render(rows, COLUMNS, "table", wide=args.wide))
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
    """Who publishes from the command line: `cli:` and $SMFCAST_USER, else the login name (the
    API records the token's name), as the data commands record who changed the data."""
    from smfcast.registry.intake import default_who
    return "cli:" + default_who()


def _runs(args) -> int:
    from smfcast.outputs.run_tables import run_rows
    from smfcast.store.publications import COLUMNS
    store = _store(args)
    history = store.publication_history()
    if args.publications:
        print(render(history, COLUMNS, args.format, {"run_id": store.published_id()}, wide=args.wide))
        return 0
    rows, columns, meta = run_rows(store)
    if args.format != "table":
        print(render(rows, columns, args.format, meta))
        return 0
    if not rows:
        print("no run in the store yet; run `smfcast run` first")
        return 0
    shown = [{**r, "published": ("current, " if r["run_id"] == meta["run_id"] else "") + (r["published"] or "")} for r in rows]
    print(render(shown, columns, "table", wide=args.wide, view=["run_id", "created", "version", "seed", "n_paths", "scenarios",
                                                                 "published"]))
    _say(f"\npublished: {meta['run_id']} (requests that name no run get it); publications, newest first "
         "(`smfcast runs --publications` for the whole history):", args)
    print(render(history[:10], COLUMNS, "table", wide=args.wide))
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
    queue = open_queue(_store(args, write=True).path)
    if args.drain:
        print(f"ran {queue.drain()} queued job(s)")
        return 0
    queue.consume(workers=args.workers, nice=args.nice, idle=not args.no_idle)
    return 0


def _serve(args) -> int:
    from smfcast.api.server import refuse_exposed, serve
    refuse_exposed(args.host)
    store = _store(args, write=True)
    if store.latest() is None:
        print(f"smfcast: no run in {store.path} yet; computing the first run before serving ...", file=sys.stderr, flush=True)
        args.seed, args.paths, args.models, args.engine, args.address = SEED, N_PATHS, None, "local", None
        _run(args)
    if args.data:
        os.environ["SMFCAST_DATA"] = str(args.data)
    return serve(args.host, args.port, args.workers, store.path.resolve())


def _output(p: argparse.ArgumentParser) -> None:
    """How a command answers: a plain-text table, or the API's JSON object or CSV for the same query."""
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="one of %(choices)s: a table to read, the JSON object the API answers, or its CSV (default: %(default)s)")
    p.add_argument("--wide", action="store_true",
                   help=f"print plain-text tables whole (default: %(default)s: fitted to {WIDTH} columns, long text cut)")


def _run_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default=None, help="the run to read, by id (default: the published run)")


def _question(p: argparse.ArgumentParser, target_help: str, metric_help: str) -> None:
    """What a decision tool is asked about: a target, or a metric in a year."""
    p.add_argument("--target", default=None, help=target_help + " (default: none; give it or --metric and --year)")
    p.add_argument("--metric", choices=HEADLINE_METRICS, default=None, help=metric_help + ": one of %(choices)s (default: none)")
    p.add_argument("--year", type=int, default=None, help="with --metric: a forecast year, such as 2028 (default: none)")


def _scenario_run_format(p: argparse.ArgumentParser, from_year_help: str) -> None:
    """Where a decision tool starts (base scenario, year, run) and how it answers."""
    p.add_argument("--base", default="baseline", help="the preset scenario the other levers follow (default: %(default)s)")
    p.add_argument("--from-year", type=int, default=None, help=from_year_help)
    _run_option(p)
    _output(p)


def _engine(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help=f"{what}: one of %(choices)s (local processes, one process, or a Dask scheduler; default: %(default)s)")
    p.add_argument("--address", default=None, help="with --engine dask: the scheduler, such as tcp://HOST:8786 (default: none)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="smfcast", description="Forecasts and policy scenarios for small and micro-enterprise finance in Qinghai.")
    p.add_argument("--version", action="version", version=f"smfcast {__version__}")
    p.add_argument("--data", default=None,
                   help="the data registry folder (default: $SMFCAST_DATA, else the per-user folder once a write made it, "
                        "else the shipped copy)")
    p.add_argument("--store", default=None, help="the run store, an SQLite file (default: $SMFCAST_STORE, else var/smfcast.sqlite)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = sub.add_parser("data", help="check, show and change the data registry (every change logged, revertible)")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    check = data_sub.add_parser("check", help="validate the registry and list every series")
    _output(check)
    check.set_defaults(func=_data_check)
    show = data_sub.add_parser("show", help="print a series' observations with their sources")
    show.add_argument("series_id", help="a series id (`smfcast data check` lists them)")
    _output(show)
    show.set_defaults(func=_data_show)
    from smfcast.cli_data import register
    register(data_sub, _Parser, _output)  # add, import, template, source add, series add, history, revert

    run = sub.add_parser("run", help="fit every headline metric with every model and store an immutable run")
    run.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    run.add_argument("--paths", type=int, default=N_PATHS, help="sample paths per model (default: %(default)s)")
    run.add_argument("--models", default=None, help=f"comma-separated members to fit (default: all, {','.join(MEMBERS)})")
    _engine(run, "where the metrics are fitted")
    run.add_argument("--publish", action="store_true", help="publish the run: requests that name no run get it (default: %(default)s)")
    run.add_argument("--reason", default=None, help="with --publish: why, for the publication history (default: none)")
    run.add_argument("--wide", action="store_true", help=f"print the summary table whole (default: %(default)s: fitted to {WIDTH} columns)")
    run.set_defaults(func=_run)

    pub = sub.add_parser("publish", help="publish a stored run: requests that name no run (live links) get it from now on")
    pub.add_argument("run_id", help="a stored run's id (`smfcast runs` lists them)")
    pub.add_argument("--reason", default=None, help="why, for the publication history (default: none)")
    pub.set_defaults(func=_publish)

    fc = sub.add_parser("forecast", help="bands of headline metrics or marked series from a stored run (as GET /v1/forecasts), "
                                         "or of the series in your own long file (--csv FILE --h H)")
    fc.add_argument("--metric", action="append", default=None, choices=HEADLINE_METRICS,
                    help="a headline metric of the run, one of %(choices)s; repeatable (default: none)")
    fc.add_argument("--series", action="append", default=None,
                    help="a series the run forecast because it is marked (`data series add --forecast`); repeatable or "
                         "comma-separated (default: none)")
    fc.add_argument("--csv", default=None, metavar="FILE",
                    help="a long .csv or .xlsx file (series_id or unique_id, period or ds, value or y) to forecast now (default: none)")
    fc.add_argument("--h", type=int, default=None, help="with --csv: periods to forecast (default: none; required with --csv)")
    fc.add_argument("-o", "--output", default=None,
                    help="with --csv: write the rows to this .csv or .xlsx file instead of printing them (default: print)")
    fc.add_argument("--model", default=ENSEMBLE, choices=_MODELS + ("all",),
                    help="the ensemble or one member, one of %(choices)s; 'all' (every member) with --csv only (default: %(default)s)")
    fc.add_argument("--scenario", action="append", default=None,
                    help="preset scenario(s) of the run, repeatable or comma-separated, or 'all' for every preset (default: baseline)")
    fc.add_argument("--level", default=_LEVELS, help="central band levels in percent, comma-separated (default: %(default)s)")
    _run_option(fc)
    fc.add_argument("--history", action="store_true", help="include the observed history (default: %(default)s)")
    fc.add_argument("--scenario-file", default=None,
                    help="a custom scenario, a TOML or JSON file: base + lever overrides (default: none)")
    fc.add_argument("--models", default=None, help=f"with --csv: comma-separated members to fit (default: all, {','.join(MEMBERS)})")
    fc.add_argument("--paths", type=int, default=None,
                    help="with --csv: sample paths per member (default: 2000 on each series' own evidence, 500 pooled)")
    fc.add_argument("--seed", type=int, default=SEED, help="with --csv: random seed (default: %(default)s)")
    fc.add_argument("--evidence", choices=("auto", "own", "pooled"), default="auto",
                    help="with --csv: what learns the ensemble, one of %(choices)s: each series' own backtest, or held-back "
                         "forecasts pooled across the series (default: %(default)s, pooled from 10 series on)")
    _engine(fc, "with --csv: where the series are fitted")
    fc.add_argument("--quiet", action="store_true", help="with --csv: no progress bar (default: %(default)s)")
    _output(fc)
    fc.set_defaults(func=_forecast)

    ex = sub.add_parser("export", help="write a run as an XLSX workbook or a long CSV for spreadsheets")
    ex.add_argument("--format", choices=("xlsx", "csv"), default=None,
                    help="one of %(choices)s (default: csv for a .csv file name, else xlsx)")
    ex.add_argument("-o", "--output", required=True, help="the file to write (required)")
    _run_option(ex)
    ex.add_argument("--metric", action="append", choices=HEADLINE_METRICS,
                    help="one of %(choices)s; repeatable (default: every metric, and the marked series)")
    ex.add_argument("--scenario", action="append",
                    help="preset scenario(s), repeatable or comma-separated (default: every preset)")
    ex.add_argument("--model", default=ENSEMBLE, choices=_MODELS, help="one of %(choices)s (default: %(default)s)")
    ex.add_argument("--level", default=_LEVELS, help="central band levels in percent, comma-separated (default: %(default)s)")
    ex.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte-order mark for Excel (default: %(default)s)")
    ex.add_argument("--sensitivity", action="store_true",
                    help="XLSX: add a sensitivity sheet, a tornado per target and metric (default: %(default)s)")
    ex.add_argument("--compare", default=None, metavar="RUN",
                    help="XLSX: add a revisions sheet against this earlier run (default: none)")
    ex.set_defaults(func=_export)

    tg = sub.add_parser("targets", help="probability that each policy target is met, per scenario")
    tg.add_argument("--scenario", action="append", default=None,
                    help="preset scenario(s), repeatable or comma-separated (default: every preset)")
    tg.add_argument("--model", default=ENSEMBLE, choices=_MODELS, help="one of %(choices)s (default: %(default)s)")
    _run_option(tg)
    _output(tg)
    tg.set_defaults(func=_targets)

    gs = sub.add_parser("goal-seek", help="the lever value at which a target is met with a given probability (or a median is reached)")
    _question(gs, "target id (see `smfcast targets`)", "with --year and --median: seek a median instead")
    gs.add_argument("--lever", required=True, help="lever id, see GET /v1/levers (required)")
    gs.add_argument("--probability", type=float, default=None, help="with --target: P(target met) to reach, in (0, 1) (default: none)")
    gs.add_argument("--median", type=float, default=None, help="the median to reach, with --metric and --year (default: none)")
    _scenario_run_format(gs, "hold the lever from this year on (default: 2026)")
    gs.set_defaults(func=_goal_seek)

    se = sub.add_parser("sensitivity", help="each lever at the ends of its range and moved by one unit: a tornado")
    _question(se, "target id: the change in P(target met)", "with --year: the change in the median and 80%% band")
    _scenario_run_format(se, "levers moved from this year on (default: 2026)")
    se.set_defaults(func=_sensitivity)

    cp = sub.add_parser("compare", help="what changed between two runs (B minus A) and why")
    cp.add_argument("run_a", help="the earlier run's id")
    cp.add_argument("run_b", help="the later run's id")
    cp.add_argument("--metric", action="append", choices=HEADLINE_METRICS, help="one of %(choices)s; repeatable (default: every metric)")
    cp.add_argument("--table", choices=("forecasts", "targets", "observations", "settings"), default=None,
                    help="one table only, one of %(choices)s (default: every table; CSV: forecasts)")
    _output(cp)
    cp.set_defaults(func=_compare)

    bt = sub.add_parser("backtest", help="rolling-origin backtests of the series behind each headline metric")
    bt.add_argument("--metric", choices=HEADLINE_METRICS, default=None, help="one of %(choices)s (default: every metric)")
    bt.add_argument("--models", default=None, help=f"comma-separated members (default: all, {','.join(MEMBERS)})")
    bt.add_argument("--h", type=int, default=BACKTEST["h"], help="steps ahead per window (default: %(default)s)")
    bt.add_argument("--n-windows", type=int, default=BACKTEST["n_windows"], help="forecast origins per series (default: %(default)s)")
    bt.add_argument("--step-size", type=int, default=BACKTEST["step_size"], help="periods between origins (default: %(default)s)")
    bt.add_argument("--paths", type=int, default=BACKTEST["n_paths"], help="sample paths per model (default: %(default)s)")
    bt.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    _engine(bt, "where the series are fitted")
    bt.add_argument("-o", "--output", default="var/backtests", help="directory for the CSV and PNG files (default: %(default)s)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar (default: %(default)s)")
    _output(bt)
    bt.set_defaults(func=_backtest)

    va = sub.add_parser("validate", help="score the models on competition data (M3) or any long CSV")
    va.add_argument("--dataset", choices=list(DATASETS), default=None,
                    help="competition data, split as the competition did: one of %(choices)s (default: none; or --csv)")
    va.add_argument("--csv", default=None, help="a long file with series_id, period, value (default: none; or --dataset)")
    va.add_argument("--h", type=int, default=None, help="with --csv: points held out per series (default: none; required with --csv)")
    va.add_argument("--limit", type=int, default=None, help="only the first N series (default: every series)")
    va.add_argument("--models", default=None, help=f"comma-separated members (default: all, {','.join(MEMBERS)})")
    va.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    va.add_argument("--procedure", choices=["pooled", "run"], default="pooled",
                    help="one of %(choices)s: pooled learns weights and calibration across series; run fits each series on its "
                         "own, as runs do (default: %(default)s)")
    _engine(va, "where the series are fitted")
    va.add_argument("--quiet", action="store_true", help="no progress bar (default: %(default)s)")
    _output(va)
    va.set_defaults(func=_validate)

    runs = sub.add_parser("runs", help="list the stored runs, newest first, and the publications")
    runs.add_argument("--publications", action="store_true", help="print the whole publication history instead (default: %(default)s)")
    _output(runs)
    runs.set_defaults(func=_runs)

    wk = sub.add_parser("worker", help="run queued refits and backtests (`smfcast serve` starts one)")
    wk.add_argument("--workers", type=int, default=env_number("SMFCAST_QUEUE_WORKERS", 1, 1, whole=True),
                    help="jobs at a time; more than one run in processes of their own (default: %(default)s, or $SMFCAST_QUEUE_WORKERS)")
    wk.add_argument("--nice", type=int, default=env_number("SMFCAST_WORKER_NICE", 19, 0, whole=True),
                    help="CPU niceness added to the worker, so HTTP answers come first (default: %(default)s, or "
                         "$SMFCAST_WORKER_NICE; 19 is the lowest priority)")
    wk.add_argument("--no-idle", action="store_true", default=os.environ.get("SMFCAST_WORKER_IDLE") == "0",
                    help="compute jobs at the worker's niceness instead of on idle CPU only (Linux SCHED_IDLE) (default: %(default)s, "
                         "True when $SMFCAST_WORKER_IDLE is 0)")
    wk.add_argument("--drain", action="store_true", help="run what is queued now, then exit (default: %(default)s)")
    wk.set_defaults(func=_worker)

    serve = sub.add_parser("serve", help="run the HTTP API under gunicorn, with the job worker")
    serve.add_argument("--host", default=os.environ.get("SMFCAST_HOST", "127.0.0.1"),
                       help="address to listen on (default: %(default)s, or $SMFCAST_HOST)")
    serve.add_argument("--port", type=int, default=env_number("SMFCAST_PORT", 8000, 1, whole=True),
                       help="port to listen on (default: %(default)s, or $SMFCAST_PORT)")
    serve.add_argument("--workers", type=int, default=env_number("SMFCAST_WORKERS", 2, 1, whole=True),
                       help="gunicorn worker processes (default: %(default)s, or $SMFCAST_WORKERS)")
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
