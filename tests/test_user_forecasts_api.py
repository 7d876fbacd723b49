"""`POST /v1/forecast`: users' own series over HTTP, through `smfcast.forecast`. Small requests
are answered at once by anyone, one at a time per process (429 with Retry-After meanwhile);
larger ones need the token and become a job; every limit is refused naming its field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

FAST = ["ets", "theta"]


def rows(uid: str = "a", n: int = 20, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2015-03-31", periods=n, freq="QE").strftime("%Y-%m-%d")
    return [{"unique_id": uid, "ds": d, "y": float(50 + i + rng.normal())} for i, d in enumerate(ds)]


@pytest.fixture
def anonymous(app):
    return app.test_client()


def test_a_small_forecast_answers_json_by_default_with_the_method(anonymous, client):
    answer = anonymous.post("/v1/forecast", json={"h": 3, "level": [80, 95], "data": rows(), "models": FAST})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["columns"] == ["unique_id", "ds", "model", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert [r["ds"] for r in body["rows"]] == ["2020-03-31", "2020-06-30", "2020-09-30"]
    assert body["method"]["evidence"] == "own" and body["method"]["series"]["a"]["members"] == FAST
    # the anonymous budget allows two small forecasts in 10 s (limits.FORECAST_COST): the rest with the token
    csv = client.post("/v1/forecast?format=csv", json={"h": 3, "data": rows(), "models": FAST})
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).splitlines()[1].startswith("a,2020-03-31,ensemble,")
    text = "series_id,period,value\n" + "\n".join(f"a,{2000 + i},{10 + i * 0.5}" for i in range(12))
    upload = client.post("/v1/forecast?h=2&models=ets,theta&members=true", data=text, content_type="text/csv")
    got = upload.get_json()["rows"]
    assert upload.status_code == 200 and [r["ds"] for r in got if r["model"] == "ensemble"] == ["2012", "2013"]
    assert {r["model"] for r in got} == {"ensemble", *FAST}


@pytest.mark.parametrize("body, field", [
    ({"h": 0}, "h"), ({"h": 121}, "h"), ({"n_paths": 50}, "n_paths"), ({"n_paths": 6000}, "n_paths"),
    ({"models": ["lstm"]}, "models"), ({"level": [99.5]}, "level"), ({"evidence": "vibes"}, "evidence"),
    ({"colour": "red"}, "colour"), ({"bounds": [5, 1]}, "bounds"), ({"freq": "D"}, "freq"),
])
def test_bad_fields_are_refused_naming_them(anonymous, body, field):
    answer = anonymous.post("/v1/forecast", json={"h": 2, "data": rows(), **body})
    problem = answer.get_json()
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert problem["errors"][0]["field"] == field


def test_series_that_cannot_be_forecast_are_each_named(anonymous):
    data = rows("ok") + rows("short", n=3) + [dict(r, unique_id="gappy") for i, r in enumerate(rows(n=12)) if i != 5]
    problem = anonymous.post("/v1/forecast", json={"h": 2, "data": data, "models": FAST}).get_json()
    named = {e["unique_id"]: e["message"] for e in problem["errors"]}
    assert set(named) == {"short", "gappy"} and "3 points" in named["short"] and "gaps" in named["gappy"]
    too_many = [{"unique_id": f"s{i}", "ds": "2020", "y": 1.0} for i in range(2001)]
    refused = anonymous.post("/v1/forecast", json={"h": 2, "data": too_many}).get_json()
    assert refused["errors"][0]["field"] == "data" and "at most 2,000" in refused["detail"]


def test_a_large_forecast_needs_the_token_and_runs_as_a_job(app, anonymous, client):
    data = [r for uid in "abcd" for r in rows(uid)]
    refused = anonymous.post("/v1/forecast", json={"h": 2, "data": data, "models": FAST})
    assert refused.status_code == 401 and "queued job" in refused.get_json()["detail"]
    queued = client.post("/v1/forecast", json={"h": 2, "data": data, "models": FAST, "evidence": "own"})
    assert queued.status_code == 202
    job = queued.get_json()
    assert job["kind"] == "forecast" and job["status"] == "queued" and queued.headers["Location"] == job["url"]
    again = client.post("/v1/forecast", json={"h": 2, "data": data, "models": FAST, "evidence": "own"}).get_json()
    assert again["job_id"] == job["job_id"] and again["duplicate"] is True
    from smfcast.store.queue import open_queue
    assert open_queue(app.extensions["smfcast_store"].path).drain() >= 1
    done = client.get(job["url"]).get_json()
    assert done["status"] == "succeeded", done
    assert len(done["result"]["rows"]) == 8 and done["result"]["method"]["evidence"] == "own"


def test_anonymous_forecasts_draw_on_the_client_budget(anonymous):
    body = {"h": 2, "data": rows(), "models": FAST}
    statuses = [anonymous.post("/v1/forecast", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_second_small_forecast_meanwhile_is_told_to_retry(anonymous):
    from smfcast.api import user_forecasts
    assert user_forecasts._busy.acquire(blocking=False)
    try:
        answer = anonymous.post("/v1/forecast", json={"h": 2, "data": rows(), "models": FAST})
    finally:
        user_forecasts._busy.release()
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "5"
    assert answer.mimetype == "application/problem+json"
