"""The OpenAPI document against the app it describes.

Both ways: every route and method of the app has a documented operation (a new endpoint without
one fails here) and every operation a route. Every operation's example request (its parameters'
and body's examples) is sent to the app and its answer validated against the schema the document
gives for that status and content type; every schema's own example validates too. And the status
codes the document promises for bad input are the ones returned: 415 for a body of the wrong
type, 422 naming the field for an unknown field (listing every field the schema allows) or a flag
that is neither true nor false."""

from __future__ import annotations

import re
import shutil
import sqlite3

import pytest
from openapi_schema_validator import OAS30Validator

from tests.conftest import DATA, TOKEN

PROBLEM = "application/problem+json"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def own(small_store, tmp_path):
    """An app over copies of the small run's store and of the data: the examples write (an
    observation, a publication, queued jobs), and nothing else may see that."""
    from smfcast.api import create_app
    store = tmp_path / "runs.sqlite"
    with sqlite3.connect(small_store.path) as src, sqlite3.connect(store) as dst:
        src.backup(dst)
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    app = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store), "TESTING": True, "SMFCAST_API_TOKENS": {"tester": TOKEN}})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return app, client


def _document(client) -> dict:
    from openapi_spec_validator import validate
    resp = client.get("/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    validate(doc)
    return doc


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items() if method in METHODS]


def _validator(doc: dict, schema: dict) -> OAS30Validator:
    return OAS30Validator({**schema, "components": doc["components"]})


def _errors(doc: dict, schema: dict, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(doc, schema).iter_errors(instance)]


def _check_answer(doc: dict, path: str, method: str, op: dict, resp) -> None:
    """The answer's status is documented for the operation, its content type for that status,
    and a JSON body validates against the schema given for it."""
    where = f"{method.upper()} {path} -> {resp.status_code}"
    assert str(resp.status_code) in op["responses"], f"{where} is not documented: {resp.get_data(as_text=True)[:300]}"
    answer = op["responses"][str(resp.status_code)]
    if resp.status_code == 304:
        return
    content = answer.get("content", {})
    assert resp.mimetype in content, f"{where}: {resp.mimetype} is not documented ({', '.join(content)})"
    if resp.mimetype.endswith("json"):
        errors = _errors(doc, content[resp.mimetype]["schema"], resp.get_json(force=True))
        assert not errors, f"{where}: the answer breaks its schema: {errors[:5]}"


def _example_request(path: str, op: dict, known: dict) -> tuple[str, dict]:
    """The URL and request keywords of an operation's example: path and query parameters from
    their examples (a path parameter no example can name, such as a job id, from an answer seen
    before), the body from the request body's example."""
    url, query = path, []
    for p in op.get("parameters", []):
        if p["in"] == "path":
            value = known.get(p["name"], p.get("example"))
            assert value is not None, f"{path}: path parameter {p['name']} has no example"
            url = url.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query" and "example" in p:
            query.append(f"{p['name']}={p['example']}")
    kwargs = {}
    body = op.get("requestBody")
    if body is not None:
        assert "example" in body["content"]["application/json"], f"{path}: the request body has no example"
        kwargs["json"] = body["content"]["application/json"]["example"]
    return url + ("?" + "&".join(query) if query else ""), kwargs


def test_every_route_and_method_has_an_operation_and_every_operation_a_route(own):
    app, client = own
    doc = _document(client)
    documented = {(path, method) for path, method, _ in _operations(doc)}
    routed = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", str(rule.rule)), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed - documented == set(), "routes without a documented operation"
    assert documented - routed == set(), "documented operations without a route"
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids)) == len(documented)


def test_every_schema_and_its_example_are_typed(own):
    _, client = own
    doc = _document(client)
    for name, schema in doc["components"]["schemas"].items():
        assert schema.get("type") == "object" and schema.get("properties"), f"{name} is an untyped object"
        assert "example" in schema, f"{name} has no example"
        assert not _errors(doc, schema, schema["example"]), f"{name}'s example breaks it: {_errors(doc, schema, schema['example'])}"
    for path, method, op in _operations(doc):
        for status, answer in op["responses"].items():
            for mime, media in answer.get("content", {}).items():
                if mime.endswith("json") and status.startswith("2"):
                    schema = media["schema"]
                    assert schema.get("$ref") or schema.get("oneOf") or schema.get("required"), f"{method} {path} {status}: untyped"


def test_every_example_request_gets_an_answer_its_schema_describes(own):
    app, client = own
    doc = _document(client)
    operations = _operations(doc)
    known: dict = {}
    # the backtest rerun first, run here as `smfcast worker` would, so the backtest GET has one to read
    first = [o for o in operations if o[2]["operationId"] == "rerunBacktests"]
    from smfcast.store.queue import open_queue
    for path, method, op in first + [o for o in operations if o not in first]:
        url, kwargs = _example_request(path, op, known)
        resp = getattr(client, method)(url, **kwargs)
        assert 200 <= resp.status_code < 300, f"{method.upper()} {url}: {resp.status_code} {resp.get_data(as_text=True)[:300]}"
        _check_answer(doc, path, method, op, resp)
        if resp.mimetype == "application/json":
            body = resp.get_json()
            known.update({k: body[k] for k in ("job_id", "backtest_id") if isinstance(body, dict) and k in body})
        if op["operationId"] == "rerunBacktests":
            assert open_queue(app.config["SMFCAST_STORE"]).drain() == 1
        # every format the answer documents is served when asked
        for mime in op["responses"][str(resp.status_code)].get("content", {}):
            if mime in ("text/csv", "image/svg+xml") and method == "get":
                again = client.get(url, headers={"Accept": mime})
                assert again.status_code == 200 and again.mimetype == mime, f"{url} with Accept: {mime} gave {again.mimetype}"


def test_json_is_the_default_answer_of_every_table(own):
    app, client = own
    doc = _document(client)
    from smfcast.store.queue import open_queue
    path, _, rerun = next(o for o in _operations(doc) if o[2]["operationId"] == "rerunBacktests")
    assert client.post(path, json=rerun["requestBody"]["content"]["application/json"]["example"]).status_code == 202
    assert open_queue(app.config["SMFCAST_STORE"]).drain() == 1  # a backtest for GET /v1/backtests to answer
    for path, method, op in _operations(doc):
        if method != "get" or "text/csv" not in op["responses"]["200"].get("content", {}):
            continue
        url, _ = _example_request(path, op, {})
        for headers in ({}, {"Accept": "*/*"}, {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200 and resp.mimetype == "application/json", (url, headers, resp.mimetype)
        assert client.get(url + ("&" if "?" in url else "?") + "format=csv").mimetype == "text/csv"
        param = next(p for p in op["parameters"] if p["name"] == "format")
        assert param["schema"]["default"] == "json"


@pytest.mark.parametrize("path", ["/v1/forecasts", "/v1/goal-seek", "/v1/runs", "/v1/backtests", "/v1/runs/{run}/publish", "/v1/observations"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_of_the_wrong_type_is_415_as_documented(own, path, content_type):
    app, client = own
    path = path.format(run=app.extensions["smfcast_store"].published_id())
    resp = client.post(path, data="metric=npl_ratio", content_type=content_type)
    assert resp.status_code == 415 and resp.mimetype == PROBLEM
    assert resp.get_json()["errors"][0]["field"] == "Content-Type"
    doc = _document(client)
    documented = next(op for p, m, op in _operations(doc) if m == "post" and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path))
    assert "415" in documented["responses"]


@pytest.mark.parametrize("operation_id", ["postCustomForecast", "goalSeek", "refit", "rerunBacktests", "publishRun"])
def test_an_unknown_field_is_named_with_every_field_the_schema_allows(own, operation_id):
    app, client = own
    doc = _document(client)
    path, _, op = next(o for o in _operations(doc) if o[2]["operationId"] == operation_id)
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    allowed = set().union(*[s["properties"] for s in schema.get("oneOf", [schema])])
    resp = client.post(path.replace("{run_id}", app.extensions["smfcast_store"].published_id()), json={"colour": "red"})
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    error = resp.get_json()["errors"][0]
    assert error["field"] == "colour"
    listed = set(re.search(r"takes (.*)$", error["message"]).group(1).split(", "))
    assert listed == allowed, f"{operation_id}: the message lists {sorted(listed)}, the schema allows {sorted(allowed)}"


@pytest.mark.parametrize("url", ["/v1/forecasts?metric=npl_ratio&history=maybe", "/v1/forecasts/chart.png?metric=npl_ratio&history=maybe",
                                 "/v1/forecasts?metric=npl_ratio&format=csv&bom=perhaps"])
def test_a_flag_that_is_neither_true_nor_false_is_422_naming_it(own, url):
    _, client = own
    resp = client.get(url)
    name = re.search(r"&(\w+)=(maybe|perhaps)", url).group(1)
    assert resp.status_code == 422 and resp.mimetype == PROBLEM and resp.get_json()["errors"][0]["field"] == name
    doc = _document(client)
    path = url.split("?")[0]
    param = next(p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name)
    assert "maybe" not in param["schema"]["enum"] and {"true", "false"} <= set(param["schema"]["enum"])
    assert "422" in doc["paths"][path]["get"]["responses"]


@pytest.mark.slow
def test_the_real_server_answers_json_to_curl_and_to_a_request_without_accept(live_server):
    """`smfcast serve` (gunicorn): curl's `Accept: */*` and a request with no Accept header at all
    (urllib sends none) get JSON; `format=csv` still gets the CSV the spreadsheet links ask for."""
    import json
    import subprocess
    import urllib.request
    url = live_server + "/v1/forecasts?metric=npl_ratio"
    for headers in ({"Accept": "*/*"}, {}):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as resp:
            assert resp.headers.get_content_type() == "application/json"
            assert json.load(resp)["rows"][0]["metric"] == "npl_ratio"
    with urllib.request.urlopen(url + "&format=csv", timeout=60) as resp:
        assert resp.headers.get_content_type() == "text/csv"
    if shutil.which("curl"):
        done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{content_type}", url], capture_output=True, text=True, timeout=60)
        assert done.stdout == "application/json"
