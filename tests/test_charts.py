"""Fan charts: what a chart draws (read off the matplotlib figure), and the chart routes' query,
formats, errors and caching."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


def _panels(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _median(ax):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "median"]
    return list(line.get_xdata()), list(line.get_ydata())


def test_one_scenario_is_one_panel_whose_forecast_continues_from_the_last_observation(small_store, small_run):
    from smfcast.outputs.charts import _x, fan_figure
    from smfcast.outputs.run_tables import forecast_rows
    info = small_run.metric_info("npl_ratio")
    rows = forecast_rows(small_store, small_run, "npl_ratio", "ensemble", "baseline", (80, 95))
    fig = fan_figure("t", "percent", info["history"], {"baseline": rows})
    (ax,) = _panels(fig)
    x, y = _median(ax)
    last = info["history"][-1]
    assert (x[0], y[0]) == (_x(last["period"]), last["value"])  # the line starts at the last observation
    assert y[1:] == [r["median"] for r in rows] and x[1:] == [_x(r["period"]) for r in rows]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["observed", "95% band", "80% band", "median"]
    band = next(c for c in ax.collections if c.get_label() == "95% band")
    top = band.get_paths()[0].vertices[:, 1]
    assert min(top) <= min(r["lo-95"] for r in rows) + 1e-9 and max(top) >= max(r["hi-95"] for r in rows) - 1e-9


def test_several_scenarios_are_small_multiples_on_one_scale_titled_apart(small_store, small_run):
    from smfcast.outputs.charts import fan_figure
    from smfcast.outputs.run_tables import forecast_rows
    info = small_run.metric_info("market_size")
    bands = {s: forecast_rows(small_store, small_run, "market_size", "ensemble", s, (50, 90)) for s in small_run.scenarios}
    titles = {s: small_run.scenario(s).title for s in small_run.scenarios}
    fig = fan_figure("t", "u", info["history"], bands, levels=(50, 90), titles=titles)
    panels = _panels(fig)
    assert len(panels) == len(small_run.scenarios) == 4
    assert [ax.get_title() for ax in panels] == [titles[s] for s in small_run.scenarios]
    assert len({ax.get_ylim() for ax in panels}) == 1  # one y scale: the panels compare
    for ax, (scenario, rows) in zip(panels, bands.items()):
        assert _median(ax)[1][1:] == [r["median"] for r in rows]
    assert {c.get_label() for c in panels[0].collections} == {"50% band", "90% band"}


def test_the_chart_defaults_to_the_baseline_and_takes_scenario_all_level_and_format(client, small_run):
    one = client.get("/v1/forecasts/chart.svg?metric=npl_ratio")
    assert one.status_code == 200 and one.mimetype == "image/svg+xml"
    assert one.data.count(b'<g id="axes_') == 1 and b"Baseline" in one.data
    every = client.get("/v1/forecasts/chart.svg?metric=npl_ratio&scenario=all")
    assert every.status_code == 200 and every.data.count(b'<g id="axes_') == len(small_run.scenarios)
    for scenario in small_run.scenarios:
        assert small_run.scenario(scenario).title.encode() in every.data
    levels = client.get("/v1/forecasts/chart.svg?metric=npl_ratio&level=50,90").data
    assert b"50% band" in levels and b"90% band" in levels and b"95% band" not in levels
    png = client.get("/v1/forecasts/chart?metric=npl_ratio&format=png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get("/v1/forecasts/chart?metric=npl_ratio", headers={"Accept": "image/svg+xml"})
    assert svg.mimetype == "image/svg+xml" and svg.headers["Vary"] == "Accept"
    assert client.get("/v1/forecasts/chart?metric=npl_ratio", headers={"Accept": "*/*"}).mimetype == "image/png"
    assert client.get("/v1/forecasts/chart.png?metric=npl_ratio&format=png").mimetype == "image/png"
    without = client.get("/v1/forecasts/chart.svg?metric=npl_ratio&history=false").data
    assert b"observed" in one.data and b"observed" not in without


@pytest.mark.parametrize("query, status, field", [
    ("metric=npl_ratio&format=svg", 422, "format"), ("metric=npl_ratio&format=csv", 422, "format"),
    ("metric=npl_ratio&level=120", 422, "level"), ("metric=npl_ratio&layout=wide", 422, "layout"),
    ("metric=npl_ratio&history=maybe", 422, "history"), ("metric=gdp", 404, "metric"), ("metric=npl_ratio&scenario=rosy", 404, "scenario"),
    ("metric=npl_ratio&model=lstm", 404, "model"), ("metric=npl_ratio&colour=red", 422, "colour"),
])
def test_a_bad_chart_query_is_named(client, query, status, field):
    resp = client.get(f"/v1/forecasts/chart.png?{query}")
    assert resp.status_code == status and resp.mimetype == PROBLEM
    assert resp.get_json()["errors"][0]["field"] == field


def test_charts_are_cached_and_tagged_like_the_forecast_tables(app, client, monkeypatch):
    from smfcast.api import forecasts
    url = "/v1/forecasts/chart.png?metric=green_loan_share&scenario=all"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "max-age" in first.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    monkeypatch.setattr(forecasts, "fan_chart", lambda *a, **k: pytest.fail("a repeated chart was drawn again"))
    again = client.get(url)  # answered by the cache, before any view runs
    assert again.status_code == 200 and again.data == first.data and again.headers["ETag"] == etag
    monkeypatch.undo()
    other = client.get("/v1/forecasts/chart.svg?metric=green_loan_share&scenario=all", headers={"If-None-Match": etag})
    assert other.status_code != 304  # another query, another tag (and here a fresh drawing)
