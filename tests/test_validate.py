"""External validation: competition data and any long CSV, scored like the competitions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecast.cli import main
from forecast.engine.validate import _naive2, load_csv


def test_validate_m3_small_limit_reports_every_method(capsys):
    code = main(["validate", "--dataset", "m3-yearly", "--limit", "6", "--models", "ets,theta", "--engine", "serial",
                 "--quiet", "--format", "json"])
    rows = {r["method"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 0
    assert set(rows) == {"ets", "theta", "ensemble (equal weights)", "ensemble", "ensemble (calibrated)", "naive",
                         "theta (statsmodels)"}
    for r in rows.values():
        assert r["series"] == 6 and 0 < r["smape"] < 200 and 0 <= r["coverage-95"] <= 100 and r["mase"] > 0
    # calibration stretches the band around the median; the median moves only by the even-sample
    # midpoint of the log -> natural back-transform
    assert rows["ensemble (calibrated)"]["smape"] == pytest.approx(rows["ensemble"]["smape"], rel=1e-3)


def test_validate_any_long_csv_holds_out_the_last_h(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = ["series_id,period,value"]
    for sid in ("a", "b", "c"):
        level = 100.0
        for y in range(2000, 2020):
            level *= 1.05 + rng.normal(0, 0.02)
            lines.append(f"{sid},{y},{level:.3f}")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    series = load_csv(str(path), h=4)
    assert [len(s.train) for s in series] == [16, 16, 16] and series[0].season_length == 1
    code = main(["validate", "--csv", str(path), "--h", "4", "--models", "theta", "--engine", "serial", "--quiet", "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0] == "method,series,smape,mase,coverage-80,coverage-95,msis,seconds"


def test_validate_errors(tmp_path, capsys):
    assert main(["validate"]) == 2
    assert "give either --dataset" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when,value\n", encoding="utf-8")
    assert main(["validate", "--csv", str(bad), "--h", "2"]) == 2
    assert "missing column(s) period, series_id" in capsys.readouterr().err


def test_naive2_uses_seasonal_adjustment_only_when_seasonal():
    flat = np.arange(1.0, 21.0)
    point, sd = _naive2(flat, 4, 1)
    np.testing.assert_allclose(point, 20.0) and np.all(np.diff(sd) > 0)
    seasonal = np.tile([10.0, 20.0, 10.0, 5.0], 6)
    point, _ = _naive2(seasonal, 4, 4)
    assert point[1] > point[0] > point[3]  # the seasonal shape carries into the forecast


def test_pooled_weights_favour_the_member_closer_on_held_back_training_points():
    from forecast.engine.validate import pooled_weights
    rng = np.random.default_rng(0)
    truth = np.zeros(3)
    good, bad = rng.normal(0, 0.1, (200, 3)), rng.normal(0, 0.1, (200, 3)) + 0.5
    results = [{"inner": {"a": good, "b": bad}, "inner_truth": truth}, {"inner": None, "inner_truth": None}]
    w = pooled_weights(results, ("a", "b"))
    assert w["a"] + w["b"] == pytest.approx(1.0) and w["a"] > 0.9
    # weights are 1 / CRPS^2: the ratio of the two weights is the squared inverse ratio of the CRPS
    from forecast.engine.metrics import crps_from_paths
    ratio = (crps_from_paths(truth, bad) / crps_from_paths(truth, good)) ** 2
    assert w["a"] / w["b"] == pytest.approx(ratio)
    assert pooled_weights(results, ("a",)) is None
