"""The analyst's workbook: one XLSX a bureau or bank desk can open, check and paste from.

One sheet per headline metric (periods down, history then forecast; scenario x statistic across,
with a native line chart of history, median and bands), then targets, assumptions (levers,
elasticities, scenario paths), sources (every observation behind the history) and the run (ids,
versions, seed). Numbers are written as numbers with display formats (percent, 亿元) so a formula
in the user's own sheet can use them; every text cell passes through `tables.neutralise`, and
text is always written as text (xlsxwriter's generic `write` would turn "=..." into a formula).

Column headers on metric sheets are machine names identical to the CSV wide layout
(`adverse-lo-95`); the row above them carries the scenario's title, so a Power Query step or a
test can find a number by name, and a person can read the sheet.
"""

from __future__ import annotations

import io
from importlib import metadata

from smfcast.defaults import ENSEMBLE, LEVELS
from smfcast.engine.records import Method
from smfcast.outputs.bands import level_columns
from smfcast.outputs.run_tables import forecast_rows, target_rows
from smfcast.outputs.tables import neutralise
from smfcast.policy.scenarios import LEVER_COLUMNS, lever_rows
from smfcast.registry.series import HEADLINE_METRICS, UNIT_LABELS, Registry
from smfcast.store.runs import BASELINE, Run, RunStore
from smfcast.store.runs import LIBRARIES as RUN_LIBRARIES

NUMBER_FORMATS = {"percent": '0.00"%"', "100m_cny": '#,##0.0" 亿元"', "trillion_cny": '#,##0.00" 万亿元"'}
EXPORTERS = ("xlsxwriter", "flask")  # what wrote this file (the numbers' libraries are the run's, stored with it)
HEADER_ROW = 3  # 0-based: title, run line, scenario titles, then the machine-readable header


def stat_columns(levels=LEVELS) -> list[str]:
    return ["mean", "median"] + level_columns(levels)


def metric_table(store: RunStore, run: Run, metric: str | None, scenarios: list[str], model: str = ENSEMBLE,
                 levels=LEVELS, series: str | None = None) -> tuple[list[dict], list[str]]:
    """Rows (one per period: history, then forecast) and columns (`period`, `kind`, `observed`,
    `quality`, then `{scenario}-{stat}`) of one metric sheet (or a marked `series`' sheet)."""
    info = run.series_info(series) if series else run.metric_info(metric)
    stats = stat_columns(levels)
    rows = {h["period"]: {"period": h["period"], "kind": "history", "observed": h["value"], "quality": h["quality"]}
            for h in info["history"]}
    columns = ["period", "kind", "observed", "quality"]
    for scenario in scenarios:
        columns += [f"{scenario}-{s}" for s in stats]
        for r in forecast_rows(store, run, metric, model, scenario, levels, series=series):
            row = rows.setdefault(r["period"], {"period": r["period"], "kind": "forecast"})
            row.update({f"{scenario}-{s}": r[s] for s in stats})
    return list(rows.values()), columns


def build_workbook(store: RunStore, run: Run, registry: Registry | None = None, metrics: list[str] | None = None,
                   scenarios: list[str] | None = None, model: str = ENSEMBLE, levels=LEVELS,
                   sensitivity: bool = False, compare_with: Run | None = None, series: list[str] | None = None) -> bytes:
    """The run as XLSX bytes: the given metrics and scenarios (default: all of the run's).
    `registry` (the data the run was made from) adds source titles, publishers and links to the
    sources sheet; without it the sheet lists source ids only. `sensitivity` adds a tornado sheet
    (under the first scenario), `compare_with` a revisions sheet (this run against that one). Every
    marked series the run forecast gets a sheet too (`series`: only these)."""
    metrics = metrics if metrics is not None else [m for m in HEADLINE_METRICS if m in run.metrics]
    scenarios = scenarios or list(run.scenarios)
    for name in scenarios:
        run.scenario(name)  # unknown names fail here, with the choices, before any bytes are written
    buf = io.BytesIO()
    wb = _workbook(buf)
    fmt = _Formats(wb)
    for metric in metrics:
        _metric_sheet(wb, fmt, store, run, metric, scenarios, model, levels)
    for sid in run.series_ids if series is None else series:
        if model in run.series_info(sid)["models"]:
            _metric_sheet(wb, fmt, store, run, None, [BASELINE], model, levels, series=sid)
    _targets_sheet(wb, fmt, store, run, scenarios, model)
    if sensitivity:
        _sensitivity_sheet(wb, fmt, store, run, metrics, scenarios[0])
    if compare_with is not None:
        _revisions_sheet(wb, fmt, store, compare_with, run, metrics, registry)
    _assumptions_sheet(wb, fmt, run, scenarios)
    _sources_sheet(wb, fmt, run, metrics, registry, run.series_ids if series is None else series)
    _run_sheet(wb, fmt, run, model)
    wb.close()
    return buf.getvalue()


def table_workbook(sheets: list[tuple[str, list[dict], list[str]]]) -> bytes:
    """XLSX bytes with one plain table per sheet, for each (name, rows, columns): a frozen header
    row with a filter, numbers as numbers at full precision, text as neutralised text, lists and
    dicts as their text. What the API answers for `format=xlsx` where no workbook of its own exists."""
    buf = io.BytesIO()
    wb = _workbook(buf)
    fmt = _Formats(wb)
    for name, rows, columns in sheets:
        flat = [{c: str(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c) for c in columns} for r in rows]
        _table(wb.add_worksheet(name[:31]), fmt, 0, flat, columns)
    wb.close()
    return buf.getvalue()


def _workbook(buf: io.BytesIO):
    """An xlsxwriter workbook that writes text as text: never as a formula, a link or a number."""
    import xlsxwriter
    return xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})


class _Formats:
    def __init__(self, wb):
        self.title = wb.add_format({"bold": True, "font_size": 13})
        self.note = wb.add_format({"italic": True, "font_color": "#555555"})
        self.header = wb.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "top"})
        self.group = wb.add_format({"bold": True, "align": "center", "bg_color": "#F2F2F2", "border": 1})
        self.text = wb.add_format({"valign": "top"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.number = wb.add_format({"num_format": "#,##0.0000"})
        self.probability = wb.add_format({"num_format": "0.0%"})
        self.probability_change = wb.add_format({"num_format": '+0.0%;-0.0%;0.0%'})
        self.units = {unit: wb.add_format({"num_format": f}) for unit, f in NUMBER_FORMATS.items()}


def _write_text(ws, row: int, col: int, value, cell_format=None) -> None:
    ws.write_string(row, col, str(neutralise("" if value is None else value)), cell_format)


def _write_cell(ws, row: int, col: int, value, number_format=None, text_format=None) -> None:
    """Numbers as numbers, booleans as booleans, everything else as (neutralised) text."""
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, float(value), number_format)
    else:
        _write_text(ws, row, col, value, text_format)


def _table(ws, fmt: _Formats, top: int, rows: list[dict], columns: list[str], widths: dict[str, int] | None = None,
           number_formats: dict[str, object] | None = None) -> int:
    """Header at `top`, rows below, header frozen; returns the next free row."""
    for c, name in enumerate(columns):
        _write_text(ws, top, c, name, fmt.header)
        ws.set_column(c, c, (widths or {}).get(name, max(10, min(48, len(name) + 4))))
    for r, row in enumerate(rows, start=top + 1):
        for c, name in enumerate(columns):
            _write_cell(ws, r, c, row.get(name), (number_formats or {}).get(name, fmt.number), fmt.wrap)
    ws.freeze_panes(top + 1, 0)
    if rows:
        ws.autofilter(top, 0, top + len(rows), len(columns) - 1)
    return top + len(rows) + 2


SHEETS = ("targets", "sensitivity", "revisions", "assumptions", "sources", "run")  # the workbook's own sheets


def _metric_sheet(wb, fmt: _Formats, store: RunStore, run: Run, metric: str | None, scenarios: list[str], model: str, levels,
                  series: str | None = None) -> None:
    """A headline metric's sheet, or a marked series' (its baseline: no lever acts on it)."""
    info = run.series_info(series) if series else run.metric_info(metric)
    unit = info["unit"]
    number = fmt.units.get(unit, fmt.number)
    rows, columns = metric_table(store, run, metric, scenarios, model, levels, series)
    name = series or metric
    ws = wb.add_worksheet(("series_" + name if name in SHEETS or name in HEADLINE_METRICS and series else name)[:31])
    _write_text(ws, 0, 0, f"{info['title_zh']}  {info['title_en']} ({UNIT_LABELS.get(unit, unit)})", fmt.title)
    method = Method.from_dict(info.get("method"))
    _write_text(ws, 1, 0, f"run {run.run_id} · model {model} · method {method.method} · "
                          f"calibration {method.calibration.status} · series {info['series_id']}", fmt.note)
    scenario_titles = {name: run.scenario(name).title for name in scenarios}
    stats = stat_columns(levels)
    for c, name in enumerate(columns):
        scen, _, stat = name.partition("-")
        if stat and scen in scenario_titles and stat == stats[0]:
            first, last = c, c + len(stats) - 1
            title = f"{scenario_titles[scen]} / {scen}"
            if last > first:
                ws.merge_range(2, first, 2, last, str(neutralise(title)), fmt.group)
            else:
                _write_text(ws, 2, first, title, fmt.group)
    widths = {"period": 10, "kind": 10, "observed": 14, "quality": 11}
    _table(ws, fmt, HEADER_ROW, rows, columns, {**widths, **{c: 15 for c in columns if c not in widths}},
           {c: number for c in columns if c not in ("period", "kind", "quality")})
    ws.freeze_panes(HEADER_ROW + 1, 1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # printed (and PDF-exported) one page wide
    ws.repeat_rows(HEADER_ROW)
    _line_chart(wb, ws, ws.get_name(), info, rows, columns, scenarios[0], levels)


def _line_chart(wb, ws, sheet: str, info: dict, rows: list[dict], columns: list[str], scenario: str, levels) -> None:
    """History, the first scenario's median and its widest and narrowest bands, as native lines."""
    first, last = HEADER_ROW + 1, HEADER_ROW + len(rows)
    chart = wb.add_chart({"type": "line"})
    lo, hi = min(levels), max(levels)
    lines = [("observed", "history", {"color": "#000000", "width": 2.25}),
             (f"{scenario}-median", f"{scenario} median", {"color": "#1F4E79", "width": 2.25}),
             (f"{scenario}-lo-{hi}", f"{hi}% band", {"color": "#9DC3E6", "dash_type": "dash"}),
             (f"{scenario}-hi-{hi}", f"{hi}% band (upper)", {"color": "#9DC3E6", "dash_type": "dash"}),
             (f"{scenario}-lo-{lo}", f"{lo}% band", {"color": "#2E75B6", "dash_type": "dash"}),
             (f"{scenario}-hi-{lo}", f"{lo}% band (upper)", {"color": "#2E75B6", "dash_type": "dash"})]
    for column, name, line in lines:
        if column not in columns:
            continue
        c = columns.index(column)
        chart.add_series({"name": name, "categories": [sheet, first, 0, last, 0], "values": [sheet, first, c, last, c],
                          "line": line, "marker": {"type": "circle", "size": 4} if column == "observed" else {"type": "none"}})
    chart.set_title({"name": f"{info['title_zh']} {info['title_en']}", "name_font": {"size": 11}})
    chart.set_y_axis({"name": UNIT_LABELS.get(info["unit"], info["unit"]), "major_gridlines": {"visible": True}})
    chart.set_x_axis({"name": "period"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 400})
    chart.show_blanks_as("gap")
    ws.insert_chart(HEADER_ROW + len(rows) + 3, 0, chart)


def _targets_sheet(wb, fmt: _Formats, store: RunStore, run: Run, scenarios: list[str], model: str) -> None:
    ws = wb.add_worksheet("targets")
    _write_text(ws, 0, 0, "政策目标达成概率  Probability each policy target is met, per scenario", fmt.title)
    _write_text(ws, 1, 0, f"run {run.run_id} · model {model} · share of sample paths meeting the condition", fmt.note)
    rows = target_rows(store, run, scenarios, model) if run.targets() else []
    titles_zh = {t.id: t.title_zh for t in run.targets().values()}
    for r in rows:
        r["title_zh"] = titles_zh.get(r["target"], "")
    columns = ["target", "title_zh", "title_en", "metric", "year", "condition", "scenario", "probability", "median"]
    _table(ws, fmt, HEADER_ROW, rows, columns, {"title_zh": 30, "title_en": 44, "condition": 16},
           {"probability": fmt.probability, "year": None})


def _assumptions_sheet(wb, fmt: _Formats, run: Run, scenarios: list[str]) -> None:
    ws = wb.add_worksheet("assumptions")
    _write_text(ws, 0, 0, "政策杠杆与弹性假设  Levers, elasticities and scenario paths (editable in data/levers.toml)", fmt.title)
    _write_text(ws, 1, 0, "effect(year) = elasticity x (lever(year - lag) - baseline); one triangular draw (low, mode, high) per path",
                fmt.note)
    levers = lever_rows(run.levers())
    nxt = _table(ws, fmt, HEADER_ROW, levers, LEVER_COLUMNS, {"title_zh": 24, "title_en": 34, "why": 60, "quote": 60, "unit": 24},
                 {"lag": None})
    paths = []
    for name in scenarios:
        scenario = run.scenario(name)
        for lever, path in sorted(scenario.paths.items()):
            for year, value in sorted(path.items()):
                paths.append({"scenario": name, "title": scenario.title, "lever": lever, "from_year": year, "value": value})
    _write_text(ws, nxt, 0, "情景路径  Scenario paths (a value holds until the next year given)", fmt.title)
    _table(ws, fmt, nxt + 1, paths, ["scenario", "title", "lever", "from_year", "value"], {"title": 40}, {"from_year": None})
    ws.freeze_panes(HEADER_ROW + 1, 1)


def _sources_sheet(wb, fmt: _Formats, run: Run, metrics: list[str], registry: Registry | None, series: list[str] = ()) -> None:
    ws = wb.add_worksheet("sources")
    _write_text(ws, 0, 0, "数据来源  Every observation behind the history, with its source and grade", fmt.title)
    _write_text(ws, 1, 0, "quality: official > repost > secondary > report > derived > doubtful (doubtful is not fitted)", fmt.note)
    sources = registry.sources if registry is not None else {}
    recorded = (run.summary.get("vintage") or {}).get("series")  # the data vintage the run used; None: not recorded
    rows = []

    def add(metric, role, series_id, unit, history):
        change = (recorded or {}).get(series_id) or {}
        vintage = {"last_change": change.get("time", "")[:10] or ("as compiled" if recorded is not None else "not recorded"),
                   "last_change_source": change.get("source_id")}
        for h in history:
            src = sources.get(h.get("source_id"), {})
            rows.append({"metric": metric, "role": role, "series_id": series_id, "period": h["period"], "value": h["value"],
                         "unit": unit, "quality": h["quality"], "source_id": h.get("source_id"),
                         "publisher": src.get("publisher"), "title": src.get("title"), "url": src.get("url"),
                         "quote": src.get("quote"), **vintage})

    for metric in metrics:
        info = run.metric_info(metric)
        add(metric, "Qinghai series", info["series_id"], info["unit"], info["history"])
        national = run.method(metric).national
        if registry is not None and national in registry.series:
            # the national counterpart the provincial relation is fitted to, as in today's files
            add(metric, "national counterpart", national, registry.meta(national).unit,
                [{"period": str(o.period), "value": o.value, "quality": o.quality, "source_id": o.source_id}
                 for o in registry.observations(national)])
    for sid in series:
        info = run.series_info(sid)
        add("", "marked series", sid, info["unit"], info["history"])
    columns = ["metric", "role", "series_id", "period", "value", "unit", "quality", "source_id", "publisher", "title", "url", "quote",
               "last_change", "last_change_source"]
    _write_text(ws, 2, 0, "last_change: the series' newest change in the change log when the run was made (smfcast data history)", fmt.note)
    _table(ws, fmt, HEADER_ROW, rows, columns, {"series_id": 26, "source_id": 30, "title": 50, "url": 40, "quote": 60, "role": 20,
                                                "last_change_source": 30})


def _run_sheet(wb, fmt: _Formats, run: Run, model: str) -> None:
    from smfcast import __version__
    ws = wb.add_worksheet("run")
    _write_text(ws, 0, 0, "运行信息  The run these numbers come from (pin it with ?run=ID)", fmt.title)
    rows = [{"key": "run_id", "value": run.run_id}, {"key": "created", "value": run.created},
            {"key": "smfcast", "value": __version__}, {"key": "run made with smfcast", "value": run.version},
            {"key": "model", "value": model}]
    rows += [{"key": f"config.{k}", "value": v if isinstance(v, (int, float, str)) else str(v)} for k, v in sorted(run.config.items())]
    libraries = run.libraries
    for lib in RUN_LIBRARIES:
        rows.append({"key": f"library.{lib}", "value": libraries.get(lib, "not recorded in this run")})
    for lib in EXPORTERS:
        try:
            rows.append({"key": f"exported with.{lib}", "value": metadata.version(lib)})
        except metadata.PackageNotFoundError:
            rows.append({"key": f"exported with.{lib}", "value": "not installed"})
    rows += [{"key": f"input.{name}", "value": digest} for name, digest in sorted(run.inputs.items())]
    for metric in run.metrics:
        method = run.method(metric)
        cal = method.calibration
        walk = cal.against_random_walk
        rows.append({"key": f"{metric}.method", "value": method.method})
        rows.append({"key": f"{metric}.scale", "value": str((method.scale or {}).get("scale", "not recorded"))})
        rows.append({"key": f"{metric}.ensemble_weights", "value": str(method.ensemble_weights)})
        rows.append({"key": f"{metric}.calibration", "value": cal.status})
        rows.append({"key": f"{metric}.calibration.steps", "value": ", ".join(cal.labels_by_step) or "not recorded"})
        for label, band in (("served band", walk.served), ("random walk with drift", walk.random_walk)):
            rows.append({"key": f"{metric}.backtest 95%: {label}",
                         "value": "not recorded" if band is None else
                         f"coverage {band.coverage_95:.1%}, mean width {band.width_95:.4g}, interval score {band.interval_score_95:.4g} ({band.points} points)"})
        rows.append({"key": f"{metric}.served band against the random walk", "value": walk.verdict})
    _table(ws, fmt, 2, rows, ["key", "value"], {"key": 36, "value": 70}, {"value": None})


def _block(ws, fmt: _Formats, top: int, title: str, rows: list[dict], columns: list[str], number_formats: dict) -> int:
    """A titled table inside a sheet of several (no freezing or filters); returns the next free row."""
    _write_text(ws, top, 0, title, fmt.title)
    for c, name in enumerate(columns):
        _write_text(ws, top + 1, c, name, fmt.header)
    for r, row in enumerate(rows, start=top + 2):
        for c, name in enumerate(columns):
            _write_cell(ws, r, c, row.get(name), number_formats.get(name, fmt.number), fmt.wrap)
    return top + len(rows) + 3


def _sensitivity_sheet(wb, fmt: _Formats, store: RunStore, run: Run, metrics: list[str], base: str) -> None:
    """A tornado per target of the exported metrics (P(target met)) and per metric (its median in
    the last forecast year): each lever held at the low and the high end of its range from 2026,
    one row per lever, with a native bar chart of the two changes; then each lever moved by one unit."""
    from smfcast.outputs.decision_tables import tornado
    ws = wb.add_worksheet("sensitivity")
    _write_text(ws, 0, 0, "敏感性分析  Sensitivity: which levers move each outcome most", fmt.title)
    _write_text(ws, 1, 0, f"run {run.run_id} · base scenario {base} · each lever held at the low / high end of its range from "
                          "2026 (the others as in the base); change = against the base; sorted by the swing between the ends", fmt.note)
    questions = [({"target": t.id}, t.metric) for t in run.targets().values() if t.metric in metrics]
    questions += [({"metric": m, "year": run.periods(m)[-1].year}, m) for m in metrics]
    columns = ["lever", "title_en", "base_value", "low", "high", "at_low", "at_high", "change_at_low", "change_at_high", "swing"]
    widths = {"lever": 24, "title_en": 40}
    for c, name in enumerate(columns):
        ws.set_column(c, c, widths.get(name, 13))
    top = 3
    for question, metric in questions:
        result = tornado(store, run, base=base, **question)
        probability = result.score == "probability"
        unit = fmt.units.get(run.metric_info(metric)["unit"], fmt.number)
        score_format, change_format = (fmt.probability, fmt.probability_change) if probability else (unit, unit)
        rows = []
        for low, high in zip(result.rows[::2], result.rows[1::2]):
            rows.append({"lever": low["lever"], "title_en": low["title_en"], "base_value": low["base_value"], "low": low["value"],
                         "high": high["value"], "at_low": low[result.score], "at_high": high[result.score],
                         "change_at_low": low[f"delta_{result.score}"], "change_at_high": high[f"delta_{result.score}"],
                         "swing": low["swing"]})
        base_text = f"{result.base[result.score]:.1%}" if probability else f"{result.base[result.score]:,.4g}"
        title = f"{result.outcome} under {base}: {base_text}"
        formats = {"base_value": None, "low": None, "high": None, "at_low": score_format, "at_high": score_format,
                   "change_at_low": change_format, "change_at_high": change_format, "swing": change_format}
        after = _block(ws, fmt, top, title, rows, columns, formats)
        if rows:
            chart = wb.add_chart({"type": "bar"})
            first, last = top + 2, top + 1 + len(rows)
            for col, name, colour in ((columns.index("change_at_low"), "lever at the low end", "#C0504D"),
                                      (columns.index("change_at_high"), "lever at the high end", "#4F81BD")):
                chart.add_series({"name": name, "categories": ["sensitivity", first, 0, last, 0],
                                  "values": ["sensitivity", first, col, last, col], "fill": {"color": colour}, "overlap": 100,
                                  "gap": 40})
            chart.set_title({"name": f"{result.outcome}: change against {base}", "name_font": {"size": 10}})
            chart.set_y_axis({"reverse": True})  # the largest swing on top, as in the table
            chart.set_x_axis({"num_format": "+0%;-0%;0%" if probability else "+#,##0.00;-#,##0.00;0", "major_gridlines": {"visible": True}})
            chart.set_legend({"position": "bottom"})
            chart.set_size({"width": 620, "height": 90 + 28 * len(rows)})
            ws.insert_chart(top, len(columns) + 1, chart)
            after = max(after, top + 2 + (90 + 28 * len(rows)) // 20)  # rows are 20 px high
        units = [{"lever": r["lever"], "title_en": r["title_en"], "base_value": r["base_value"], "moved_by": r["move"],
                  "value": r["value"], "change": r[f"delta_{result.score}"]} for r in result.per_unit]
        top = _block(ws, fmt, after, f"{result.outcome}: each lever moved by one unit from the base path", units,
                     ["lever", "title_en", "base_value", "moved_by", "value", "change"],
                     {"base_value": None, "value": None, "change": change_format})
    ws.freeze_panes(3, 1)


def _revisions_sheet(wb, fmt: _Formats, store: RunStore, before: Run, run: Run, metrics: list[str], registry: Registry | None) -> None:
    """This run against an earlier one: why the numbers moved (observations, settings), then how
    (target probabilities, medians and bounds); changes are this run minus the earlier one."""
    from smfcast.outputs.revisions import FORECAST_COLUMNS, OBSERVATION_COLUMNS, SETTING_COLUMNS, TARGET_COLUMNS, compare
    sources = store.sources_for([before.run_id, run.run_id], registry.data_dir) if registry is not None else None
    record = compare(store, before, run, metrics, sources)
    ws = wb.add_worksheet("revisions")
    _write_text(ws, 0, 0, f"预测修订  Revisions: run {run.run_id} against run {before.run_id} ({before.created})", fmt.title)
    _write_text(ws, 1, 0, f"_a = run {before.run_id}, _b = run {run.run_id}, change = b - a", fmt.note)
    for c in range(len(FORECAST_COLUMNS)):
        ws.set_column(c, c, 14)
    ws.set_column(0, 0, 22)
    top = _block(ws, fmt, 3, "Observations added, removed or revised" if record["observations"] else
                 "Observations: none added, removed or revised", record["observations"], OBSERVATION_COLUMNS,
                 {"period": None})
    for note in record["observation_notes"]:
        _write_text(ws, top, 0, note, fmt.note)
        top += 1
    top = _block(ws, fmt, top, "Settings that differ" if record["settings"] else "Settings: none differ", record["settings"],
                 SETTING_COLUMNS, {})
    top = _block(ws, fmt, top, "P(target met)", record["targets"], TARGET_COLUMNS,
                 {"year": None, "probability_a": fmt.probability, "probability_b": fmt.probability,
                  "probability_change": fmt.probability_change})
    _block(ws, fmt, top, "Medians and 80% / 95% bounds", record["forecasts"], FORECAST_COLUMNS, {})
    ws.freeze_panes(3, 1)

