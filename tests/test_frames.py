"""`smfcast.forecast`, `smfcast.cross_validation` and `smfcast.plot`: the public face on long
DataFrames, in statsforecast's conventions, made by the engine runs use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smfcast
from smfcast.defaults import ENSEMBLE
from smfcast.engine.config import EngineConfig
from smfcast.engine.forecaster import fit_own
from smfcast.engine.frames import prepare
from smfcast.errors import InvalidSeries

FAST = ["ets", "theta"]  # statsforecast's members: milliseconds a fit


def quarterly(ids=("a", "b"), n=24, seed=0, ds="QE") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        y = 100 + 10 * k + np.cumsum(rng.normal(0.8, 1.5, n)) + np.tile([2.0, -1.0, 1.5, -2.5], n // 4 + 1)[:n]
        dates = pd.period_range("2015Q1", periods=n, freq="Q") if ds == "period" else pd.date_range("2015-01-01", periods=n, freq=ds)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": dates, "y": y}))
    return pd.concat(parts, ignore_index=True)


def test_forecast_answers_the_long_frame_with_bands_in_the_input_convention():
    df = quarterly()
    fc = smfcast.forecast(df, h=4, level=[80, 95], models=FAST, n_paths=300, quiet=True)
    assert list(fc.columns) == ["unique_id", "ds", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(fc) == 8 and list(fc["unique_id"].unique()) == ["a", "b"]
    # quarter ends continue from the last observation, 2020Q4 (2020-12-31)
    assert list(fc[fc.unique_id == "a"]["ds"]) == list(pd.to_datetime(["2021-03-31", "2021-06-30", "2021-09-30", "2021-12-31"]))
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["lo-80"] < fc["median"]).all()
    assert (fc["median"] < fc["hi-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()
    assert fc.method.evidence == "own" and fc.method.freq == "quarterly" and fc.method.h == 4
    record = fc.method.series["a"]
    assert record.members == FAST and set(record.weights) == set(FAST) and len(record.factors) == 4
    assert record.backtest is not None and record.backtest.n_windows == 8
    doc = fc.method.to_dict()
    assert doc["series"]["a"]["labels"][0] in ("calibrated", "uncalibrated") and isinstance(doc["n_paths"], int)


def test_the_face_is_the_engine_a_run_uses():
    """One series on its own evidence gives exactly what the engine's entry gives a run's series."""
    df = quarterly(("a",))
    fc = smfcast.forecast(df, h=3, models=FAST, n_paths=300, seed=7, quiet=True)
    item = prepare(df)[0][0]
    fit = fit_own(item, 3, EngineConfig(seed=7, n_paths=300, models=tuple(FAST)))
    served = item.series.transform.inverse(fit.paths[ENSEMBLE])
    np.testing.assert_allclose(fc["median"], np.median(served, axis=0))
    np.testing.assert_allclose(fc["hi-95"], np.percentile(served, 97.5, axis=0))


def test_periods_month_starts_and_members_paths():
    df = quarterly(("a",), ds="period")
    fc = smfcast.forecast(df, h=2, models=FAST, n_paths=200, members=True, paths=True, quiet=True)
    assert isinstance(fc["ds"].dtype, pd.PeriodDtype) and [str(p) for p in fc["ds"].unique()] == ["2021Q1", "2021Q2"]
    assert list(fc.columns[:3]) == ["unique_id", "ds", "model"] and set(fc["model"]) == {ENSEMBLE, *FAST}
    assert fc.paths["a"][ENSEMBLE].shape == (200, 2) and fc.paths["a"]["ets"].shape == (200, 2)
    starts = quarterly(("a",), ds="QS")
    out = smfcast.forecast(starts, h=1, models=FAST, n_paths=200, quiet=True)
    assert out["ds"].iloc[0] == pd.Timestamp("2021-01-01")  # quarter starts stay quarter starts


def test_every_bad_series_is_named_in_one_value_error_and_nothing_is_forecast():
    df = quarterly(("good", "short", "gappy", "nan"))
    df = df[~((df.unique_id == "short") & (df.index % 24 >= 5))]  # 5 points
    df = df.drop(df[(df.unique_id == "gappy")].index[[6, 7]])  # 2016Q3 and 2016Q4 missing
    df.loc[df[df.unique_id == "nan"].index[3], "y"] = np.nan
    with pytest.raises(ValueError) as err:
        smfcast.forecast(df, h=4, models=FAST, quiet=True)
    assert isinstance(err.value, InvalidSeries)
    found = dict(err.value.by_series)
    assert set(found) == {"short", "gappy", "nan"}
    assert "5 points; quarterly series need at least 8" in found["short"]
    assert "gaps: no value for 2016-09, 2016-12" in found["gappy"]
    assert "not a finite number" in found["nan"]


@pytest.mark.parametrize("frame, field, words", [
    (pd.DataFrame({"unique_id": "w", "ds": pd.date_range("2020-01-05", periods=30, freq="W"), "y": np.arange(30.0)}), "data",
     "daily or weekly data"),
    (pd.DataFrame({"id": ["a"], "ds": ["2020"], "y": [1.0]}), "unique_id", "no column 'unique_id'"),
])
def test_frequencies_and_columns_it_cannot_handle_are_refused_naming_why(frame, field, words):
    with pytest.raises(ValueError) as err:
        smfcast.forecast(frame, h=2, models=FAST, quiet=True)
    assert err.value.field == field and words in str(err.value)


def test_arguments_are_checked_by_name():
    df = quarterly(("a",))
    for kwargs, field in (({"h": 0}, "h"), ({"h": 2, "level": [120]}, "level"), ({"h": 2, "models": ["lstm"]}, "models"),
                          ({"h": 2, "n_paths": 5}, "n_paths"), ({"h": 2, "freq": "D"}, "freq"), ({"h": 2, "evidence": "x"}, "evidence")):
        with pytest.raises(ValueError) as err:
            smfcast.forecast(df, quiet=True, **kwargs)
        assert err.value.field == field


def test_many_series_pool_their_evidence_and_the_executor_changes_no_number():
    df = quarterly(tuple("abcdefghij"), n=20, seed=2)
    serial = smfcast.forecast(df, h=3, models=FAST, n_paths=200, quiet=True, engine="serial")
    assert serial.method.evidence == "pooled" and "10 series" in serial.method.why
    pooled = serial.method.pooled
    assert pooled.series == 10 and set(pooled.pool) <= set(FAST) and len(pooled.calibration) == 3
    assert all(hz["scores"] == 20 for hz in pooled.calibration)  # two held-back origins per series
    local = smfcast.forecast(df, h=3, models=FAST, n_paths=200, quiet=True, engine="local")
    pd.testing.assert_frame_equal(pd.DataFrame(serial), pd.DataFrame(local))
    own = smfcast.forecast(df[df.unique_id.isin(["a", "b"])], h=3, models=FAST, n_paths=200, evidence="pooled", quiet=True)
    assert own.method.evidence == "pooled" and "asked for" in own.method.why


def test_cross_validation_refits_at_each_cutoff_like_forecast():
    df = quarterly(("a",), n=24)
    cv = smfcast.cross_validation(df, h=2, n_windows=2, step_size=2, models=FAST, n_paths=200, quiet=True)
    assert list(cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"] and len(cv) == 4
    assert list(cv["cutoff"].unique()) == list(pd.to_datetime(["2019-12-31", "2020-06-30"]))
    np.testing.assert_allclose(cv["y"], df["y"].to_numpy()[[20, 21, 22, 23]])
    first = smfcast.forecast(df.iloc[:20], h=2, models=FAST, n_paths=200, quiet=True)
    np.testing.assert_allclose(cv["median"].to_numpy()[:2], first["median"].to_numpy())
    assert len(cv.method) == 2


def test_plot_returns_a_figure_with_a_panel_per_series():
    from matplotlib.figure import Figure
    df = quarterly(("a", "b"))
    fc = smfcast.forecast(df, h=2, models=FAST, n_paths=200, quiet=True)
    fig = smfcast.plot(df, fc)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2 and [ax.get_title() for ax in visible] == ["a", "b"]
    line = visible[0].get_lines()[-1]  # the median continues from the last observation
    assert line.get_ydata()[0] == pytest.approx(df[df.unique_id == "a"]["y"].iloc[-1])
    with pytest.raises(ValueError, match="no forecast for unique_id 'z'"):
        smfcast.plot(df, fc, unique_ids=["z"])
