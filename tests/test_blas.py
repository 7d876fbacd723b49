"""BLAS threads: importing smfcast changes no process-wide setting; the command line, the gunicorn
app and every worker of the process pool run their BLAS single-threaded (`smfcast.blas`).

Each check runs in a fresh interpreter whose environment names no thread count, as a user's shell
or notebook would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _python(code: str, tmp_path: Path, **env) -> dict:
    """Run `code` in a clean interpreter; it prints one JSON object as its last line."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(SMFCAST_STORE=str(tmp_path / "runs.sqlite"), **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


REPORT = """
import json, os
from threadpoolctl import threadpool_info
print(json.dumps({"env": {k: os.environ.get(k) for k in %r},
                  "threads": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] in ("blas", "openmp")})}))
""" % (VARIABLES,)


def test_importing_smfcast_changes_no_environment_variable(tmp_path):
    out = _python("import numpy, smfcast, smfcast.cli, smfcast.engine.headline, smfcast.api\n" + REPORT, tmp_path)
    assert out["env"] == dict.fromkeys(VARIABLES)


def test_the_command_line_runs_single_threaded(tmp_path):
    out = _python("from smfcast.cli import main\nassert main(['data', 'check', '--format', 'json']) == 0\n" + REPORT, tmp_path)
    assert out["env"] == dict.fromkeys(VARIABLES, "1") and out["threads"] == [1]


def test_an_explicit_setting_is_kept(tmp_path):
    out = _python("import numpy\nfrom smfcast.blas import single_threaded\nsingle_threaded()\n" + REPORT, tmp_path,
                  OPENBLAS_NUM_THREADS="2")
    assert out["env"]["OPENBLAS_NUM_THREADS"] == "2" and out["env"]["OMP_NUM_THREADS"] == "1"


def test_the_gunicorn_app_runs_single_threaded(tmp_path):
    out = _python("import smfcast.api.wsgi\n" + REPORT, tmp_path)
    assert out["env"] == dict.fromkeys(VARIABLES, "1") and out["threads"] == [1]


def test_every_worker_of_the_process_pool_runs_single_threaded(tmp_path):
    """The parent sets nothing: what the workers report comes from the pool's initializer."""
    code = """
import json, operator, os
from threadpoolctl import threadpool_info
from smfcast.engine.executor import executor
with executor("local", workers=2) as ex:
    envs = list(ex.map(os.getenv, ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]))
    pools = list(ex.map(operator.call, [threadpool_info, threadpool_info]))
print(json.dumps({"parent": os.environ.get("OPENBLAS_NUM_THREADS"), "envs": envs,
                  "threads": sorted({p["num_threads"] for info in pools for p in info if p["user_api"] in ("blas", "openmp")})}))
"""
    out = _python(code, tmp_path)
    assert out["parent"] is None and out["envs"] == ["1", "1"] and out["threads"] == [1]
