"""No 500 from a body: JSON nested past the stated depth, numbers of thousands of digits and bodies
over the limit, declared or chunked, get 413/422 problem+json naming the problem, on every JSON
endpoint (the anonymous ones without a token too), and nothing is logged for them; automatic
OPTIONS answers are not HTML. The same through the real server (gunicorn), where the request line
over gunicorn's limit (414) is problem+json too and each request writes one log line."""

from __future__ import annotations

import http.client
import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from smfcast.api.params import MAX_JSON_DEPTH, MAX_NUMBER_CHARS
from tests.conftest import DATA, REPO, TOKEN

PROBLEM = "application/problem+json"
JSON_ENDPOINTS = ("/v1/forecasts", "/v1/goal-seek", "/v1/forecast", "/v1/observations", "/v1/runs", "/v1/backtests",
                  "/v1/runs/{run}/publish")
ANONYMOUS = ("/v1/forecasts", "/v1/goal-seek", "/v1/forecast")  # need no token: anyone can send them
BODY_LIMITS = {"/v1/observations": 4 * 2**20, "/v1/forecast": 16 * 2**20}  # the others: the app's 64 KiB


def _path(template: str, small_run) -> str:
    return template.format(run=small_run.run_id)


def _nested(depth: int) -> str:
    return '{"metric": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def _problem(resp, status: int, *words: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == PROBLEM
    body = resp.get_json(force=True)
    for word in words:
        assert word in body["detail"], body
    if field is not None:
        assert body["errors"][0]["field"] == field, body
    return body


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [990, 5000])
def test_deep_nesting_is_422_naming_the_depth_limit(client, anonymous, small_run, endpoint, depth, caplog):
    caplog.set_level(logging.DEBUG)
    path = _path(endpoint, small_run)
    for c in (client, anonymous) if endpoint in ANONYMOUS else (client,):
        resp = c.post(path, data=_nested(depth), content_type="application/json")
        _problem(resp, 422, f"nests {depth:,} levels", f"at most {MAX_JSON_DEPTH}", field="body")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "a refused body wrote to the log"


def test_nesting_up_to_the_limit_is_parsed(client):
    resp = client.post("/v1/forecasts", data=_nested(MAX_JSON_DEPTH), content_type="application/json")
    _problem(resp, 404, "unknown metric", field="metric")  # parsed: the view read the (nonsense) metric


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_a_5000_digit_number_is_422_naming_where_it_is(client, anonymous, small_run, endpoint):
    path = _path(endpoint, small_run)
    for c in (client, anonymous) if endpoint in ANONYMOUS else (client,):
        resp = c.post(path, data='{"seed": ' + "7" * 5000 + "}", content_type="application/json")
        _problem(resp, 422, "seed is a number of 5,000 digits", f"at most {MAX_NUMBER_CHARS} characters", field="seed")


@pytest.mark.parametrize("number, why", [("1." + "0" * 5000, "5,001 digits"), ("-" + "9" * 4400, "4,400 digits"),
                                         ("1e999", "beyond the largest number"), ("NaN", "JSON does not have"),
                                         ("-Infinity", "JSON does not have")])
def test_numbers_a_body_may_not_hold_are_named_by_their_place(anonymous, number, why):
    body = '{"metric": "npl_ratio", "levers": {"snow_disaster": {"2027": ' + number + "}}}"
    resp = anonymous.post("/v1/forecasts", data=body, content_type="application/json")
    _problem(resp, 422, "levers.snow_disaster.2027", why, field="levers.snow_disaster.2027")


def _chunked(c, path: str, data: bytes, content_type: str = "application/json"):
    """A body sent without a Content-Length, as a chunked upload arrives from gunicorn."""
    return c.post(path, data=io.BytesIO(data), content_type=content_type, headers={"Transfer-Encoding": "chunked"},
                  environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_a_body_over_the_limit_is_413_plain_or_chunked(client, anonymous, small_run, endpoint):
    path = _path(endpoint, small_run)
    limit = BODY_LIMITS.get(endpoint, 64 * 1024)
    data = b'{"reason": "' + b"x" * limit + b'"}'
    for c in (client, anonymous) if endpoint in ANONYMOUS else (client,):
        for resp in (c.post(path, data=data, content_type="application/json"), _chunked(c, path, data)):
            _problem(resp, 413, "the body is larger than", f"({limit:,} bytes)", field="body")


def test_a_chunked_upload_is_read_whole_or_refused_never_cut_short(client):
    """Werkzeug stopped reading a chunked body at the limit and passed on what it had: a CSV upload
    over 4 MiB arrived cut at 4 MiB, and the rows before the cut could be taken for the whole file."""
    header = b"series_id,period,value,source_id,quality,note\n"
    row = b"qh_green_loan_share,2024Q4,25.82,qh_green_loan_share_2025q1,derived,padding " + b"x" * 200 + b"\n"
    fits = header + row
    resp = _chunked(client, "/v1/observations?check=true", fits, "text/csv")
    assert resp.status_code == 200 and resp.get_json()["written"] is False, resp.get_data(as_text=True)
    over = header + row * (4 * 2**20 // len(row) + 1)
    _problem(_chunked(client, "/v1/observations?check=true", over, "text/csv"), 413, "4 MiB", field="body")


@pytest.mark.parametrize("path", ["/v1/forecasts", "/v1/observations", "/v1/health", "/v1/goal-seek"])
def test_automatic_options_answers_are_204_with_allow_and_no_html(anonymous, path):
    resp = anonymous.options(path)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert "text/html" not in resp.headers.get("Content-Type", "") and "OPTIONS" in resp.headers["Allow"]


def test_errors_without_a_view_are_problems_too(anonymous):
    assert anonymous.get("/v1/nowhere").mimetype == PROBLEM
    assert anonymous.delete("/v1/forecasts").mimetype == PROBLEM


# --- the real server ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(small_store, tmp_path_factory):
    """`smfcast serve` (gunicorn and the job worker) over the small run, its output in a file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1",
           "HOME": os.environ.get("HOME", "/tmp"), "SMFCAST_STORE": str(small_store.path), "SMFCAST_API_TOKEN": TOKEN,
           "SMFCAST_DATA": str(DATA)}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "smfcast.cli", "serve", "--port", str(port), "--workers", "1"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the server did not start: " + log.read_text(errors="replace")[-3000:])
                time.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _log_lines_during(log: Path, action) -> list[str]:
    before = log.read_text(errors="replace").splitlines()
    result = action()
    time.sleep(0.5)  # gunicorn writes its line after the answer; more would come within this too
    after = log.read_text(errors="replace").splitlines()
    return result, [line for line in after[len(before):] if "GET /v1/health" not in line]  # the start's polls, late


def test_the_real_server_answers_a_too_long_request_line_with_a_414_problem(served):
    port, log = served
    (status, headers, body), lines = _log_lines_during(
        log, lambda: _raw(port, b"GET /v1/forecasts?metric=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 414 and headers["content-type"] == PROBLEM
    assert b"request line" in body and b'"status": 414' in body
    assert len(lines) == 1, lines


def test_the_real_server_refuses_deep_huge_and_oversized_chunked_bodies_with_one_log_line_each(served):
    port, log = served
    big = b'{"reason": "' + b"x" * 70_000 + b'"}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 8192]), big[i:i + 8192]) for i in range(0, len(big), 8192)) + b"0\r\n\r\n"
    cases = [("deep", 422, b"POST /v1/forecasts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (len(_nested(5000)), _nested(5000).encode())),
             ("digits", 422, b'POST /v1/goal-seek HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5009\r\n\r\n'
              b'{"lever": ' + b"1" * 5000 + b"}"),
             ("chunked", 413, b"POST /v1/forecasts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" + chunked)]
    for name, expected, request in cases:
        (status, headers, body), lines = _log_lines_during(log, lambda request=request: _raw(port, request))
        assert status == expected and headers["content-type"] == PROBLEM, (name, status, body[:300])
        assert len(lines) == 1 and f'" {expected} ' in lines[0], (name, lines)


def test_the_real_server_answers_options_without_html(served):
    port, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("OPTIONS", "/v1/forecasts")
    resp = conn.getresponse()
    assert resp.status == 204 and "text/html" not in (resp.getheader("Content-Type") or "") and "POST" in resp.getheader("Allow")
    conn.close()
