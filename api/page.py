"""The page at `/`: one metric, one scenario (optionally one lever moved), its fan chart, band
table, target probabilities and download links; a goal-seek form, the levers that matter most
(a tornado) and the changes since the run published before it. Server-rendered HTML with no build
step; the numbers come from the same run store and functions as the API, so the page and a CSV agree.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from markupsafe import Markup

from smfcast.defaults import ENSEMBLE, LEVELS
from smfcast.errors import SmfcastError
from smfcast.outputs.charts import axis_label, fan_chart, tornado_svg
from smfcast.outputs.decision_tables import seek, tornado
from smfcast.outputs.revisions import compare, previous_run
from smfcast.outputs.run_tables import forecast_rows, scenario_paths, target_rows
from smfcast.policy.scenarios import parse_custom
from smfcast.registry.series import HEADLINE_METRICS, UNIT_LABELS
from smfcast.store.runs import BASELINE

from .params import run, sources, store

bp = Blueprint("page", __name__, template_folder="templates")


def _choice(name: str, options: list[str], default: str, errors: list[str]) -> str:
    """The requested option, or the default with a note naming the field when it is not one."""
    value = request.args.get(name) or default
    if value not in options:
        errors.append(f"{name} {value!r} is not one of {', '.join(options)}; showing {default}")
        return default
    return value


def _lever_request(levers: dict, years: list[int]) -> tuple[str, float | None, int, str | None]:
    """(lever id or "", value or None, from year, error or None) from the query string."""
    lever = request.args.get("lever", "")
    if lever not in levers:
        return "", None, years[0], None
    raw = (request.args.get("value") or "").strip()
    try:
        year = int(request.args.get("year") or years[0])
    except ValueError:
        return lever, None, years[0], "year must be a whole year"
    if year not in years:
        year = years[0]
    if not raw:
        return lever, None, year, None
    try:
        return lever, float(raw), year, None
    except ValueError:
        return lever, None, year, f"value {raw!r} is not a number"


def _goal_seek(r, scenario: str, years: list[int]) -> tuple[dict, object, str | None]:
    """(the form's values, the answer or None, an error or None) for the goal-seek form."""
    targets = r.targets()
    target = request.args.get("gs_target") or next(iter(targets), "")
    metric = targets[target].metric if target in targets else None
    acting = [lid for lid, lever in r.levers().items() if any(e.metric == metric for e in lever.effects)]
    form = {"target": target, "lever": request.args.get("gs_lever") or next(iter(acting), ""),
            "probability": (request.args.get("gs_probability") or "0.8").strip(), "year": request.args.get("gs_year") or str(years[0])}
    if not request.args.get("gs_lever"):
        return form, None, None
    try:
        probability = float(form["probability"])
    except ValueError:
        return form, None, f"probability {form['probability']!r} is not a number"
    try:
        return form, seek(store(), r, form["lever"], target=form["target"], probability=probability, base=scenario,
                          from_year=form["year"]), None
    except SmfcastError as exc:
        return form, None, str(exc)


def _tornado(r, metric: str, scenario: str, unit: str) -> tuple[str, Markup, str]:
    """The levers that move this metric most under the scenario: P(target met) for the metric's
    first target, else its median in the last forecast year; (caption, inline SVG, API query)."""
    target = next((t.id for t in r.targets().values() if t.metric == metric), None)
    question = {"target": target} if target else {"metric": metric, "year": r.periods(metric)[-1].year}
    result = tornado(store(), r, base=scenario, **question)
    scale = 100.0 if result.score == "probability" else 1.0
    bars = [{"lever": low["lever"], "low": scale * low[f"delta_{result.score}"], "high": scale * high[f"delta_{result.score}"]}
            for low, high in zip(result.rows[::2], result.rows[1::2])]
    xlabel = "change in P(met), percentage points" if scale == 100.0 else f"change in the median ({unit})"
    svg = tornado_svg(f"{result.outcome} under {scenario}", xlabel, bars)
    base = f"{result.base[result.score]:.1%}" if scale == 100.0 else f"{result.base[result.score]:,.4g} {unit}"
    query = "&".join(f"{k}={v}" for k, v in {**question, "base": scenario, "run": r.run_id}.items())
    return f"{result.outcome} under {scenario}: {base}", Markup(svg), query


def _changes(r, metric: str, scenario: str) -> dict | None:
    """What changed for this metric and scenario since the run published before this one (or the
    run stored before, when none was), and why (`revisions.previous_run`)."""
    before, why = previous_run(store(), r)
    if before is None:
        return None
    record = compare(store(), before, r, [metric], sources(before, r))
    return {"run": before, "why": why, "forecasts": [f for f in record["forecasts"] if f["scenario"] == scenario],
            "targets": [t for t in record["targets"] if t["scenario"] == scenario], "observations": record["observations"],
            "notes": record["observation_notes"], "settings": record["settings"]}


def _members(r, metric: str, scenario: str) -> list[dict]:
    """Every member's median and 95% band beside the ensemble's, per forecast period, with its
    weight in the ensemble (the preset scenario; a member the run did not fit is absent)."""
    weights = r.method(metric).ensemble_weights
    out = []
    for model in r.models(metric):
        for row in forecast_rows(store(), r, metric, model, scenario, (95,)):
            out.append({"period": row["period"], "model": model, "weight": weights.get(model), "median": row["median"],
                        "lo-95": row["lo-95"], "hi-95": row["hi-95"]})
    return sorted(out, key=lambda x: (x["period"], x["model"] != ENSEMBLE, x["model"]))


def _marked(r) -> list[dict]:
    """The users' series this run forecast (marked `forecast = true`), each with its last
    observation and its last forecast period's median and 95% band; and those it could not."""
    out = []
    for sid in r.series_ids:
        info = r.series_info(sid)
        last = forecast_rows(store(), r, None, ENSEMBLE, BASELINE, (95,), series=sid)[-1]
        out.append({"id": sid, "title": f"{info['title_zh']} {info['title_en']}", "unit": UNIT_LABELS.get(info["unit"], info["unit"]),
                    "observed": info["history"][-1] if info["history"] else None, "last": last, "failed": None})
    out += [{"id": sid, "title": "", "failed": why} for sid, why in sorted(r.series_failures.items())]
    return out


def _vintage(r, metric: str) -> list[dict]:
    """The data vintage the run recorded for the metric's series and its national counterpart:
    each one's last logged change (empty for a run stored before vintages were recorded)."""
    recorded = (r.summary.get("vintage") or {}).get("series")
    if recorded is None:
        return []
    national = r.method(metric).national
    ids = [r.metric_info(metric)["series_id"]] + ([national] if national else [])
    return [{"series_id": s, "change": recorded.get(s)} for s in ids]


@bp.get("/")
def index():
    r = run()
    problems: list[str] = []
    metric = _choice("metric", list(HEADLINE_METRICS), "market_size", problems)
    scenario = _choice("scenario", list(r.scenarios), BASELINE, problems)
    info = r.metric_info(metric)
    levers = r.levers()
    years = [p.year for p in r.periods(metric) if p.year >= 2026] or [p.year for p in r.periods(metric)]
    lever, value, year, error = _lever_request(levers, years)
    custom, label, status = None, scenario, 200
    if lever and value is not None and error is None:
        try:
            custom = parse_custom({"base": scenario, "levers": {lever: {str(year): value}}}, r.presets(), levers)
            label = f"{scenario} + {lever} = {value:g} from {year}"
        except SmfcastError as exc:
            error, status = str(exc), 422
    error = "; ".join(problems + ([error] if error else [])) or None
    if error and status == 200:
        status = 422
    if custom is not None:
        rows = forecast_rows(store(), r, metric, ENSEMBLE, custom.name, LEVELS,
                             paths=scenario_paths(store(), r, metric, ENSEMBLE, custom))
        targets = target_rows(store(), r, [custom.name], ENSEMBLE, custom)
    else:
        rows = forecast_rows(store(), r, metric, ENSEMBLE, scenario, LEVELS)
        targets = target_rows(store(), r, [scenario], ENSEMBLE)
    seek_form, answer, seek_error = _goal_seek(r, scenario, years)
    if seek_error:
        status = 422
    tornado_caption, tornado_chart, tornado_query = _tornado(r, metric, scenario, axis_label(info["unit"]))
    svg = fan_chart(f"{info['title_en']}: {label}", axis_label(info["unit"]), info["history"], {scenario: rows}, "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prologue to inline it
    query = f"metric={metric}&scenario={scenario}&history=true&run={r.run_id}"
    downloads = {"CSV (long)": f"/v1/forecasts?{query}&format=csv",
                 "CSV (wide, Excel BOM)": f"/v1/forecasts?{query}&format=csv&layout=wide&bom=1",
                 "XLSX workbook": f"/v1/forecasts?{query}&format=xlsx",
                 "XLSX, every scenario": f"/v1/forecasts?metric={metric}&scenario=all&history=true&run={r.run_id}&format=xlsx",
                 "Chart (PNG)": f"/v1/forecasts/chart.png?metric={metric}&scenario={scenario}&run={r.run_id}",
                 "Chart, every scenario (SVG)": f"/v1/forecasts/chart.svg?metric={metric}&scenario=all&run={r.run_id}"}
    html = render_template("index.html", run=r, metrics=HEADLINE_METRICS, metric=metric, info=info, scenarios=r.scenarios,
                           scenario=scenario, scenario_titles={s: r.scenario(s).title for s in r.scenarios},
                           levers=levers, lever=lever, value=value, year=year, years=years, error=error, custom=custom,
                           label=label, rows=rows, history=info["history"], targets=targets, data_vintage=_vintage(r, metric),
                           chart=Markup(svg), downloads=downloads, unit=UNIT_LABELS.get(info["unit"], info["unit"]),
                           method=r.method(metric), targets_all=r.targets(), seek_form=seek_form, answer=answer,
                           seek_error=seek_error, tornado_caption=tornado_caption, tornado=tornado_chart, tornado_query=tornado_query,
                           changes=_changes(r, metric, scenario),
                           members=_members(r, metric, scenario) if custom is None else [], marked=_marked(r))
    return html, status, {"Content-Type": "text/html; charset=utf-8", "X-Smfcast-Run": r.run_id}
