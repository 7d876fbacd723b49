"""`smfcast.forecast` against a real Dask cluster (a `dask scheduler` and two `dask worker`
processes, as an operator starts them) gives the numbers it gives in one process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import smfcast
from tests.test_frames import FAST, quarterly

pytest.importorskip("dask.distributed")


@pytest.fixture
def cluster(tmp_path):
    dask = str(Path(sys.executable).parent / "dask")
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(info), "--port", "0", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), "the dask scheduler did not start"
        env = {"OPENBLAS_NUM_THREADS": "1", "PATH": str(Path(sys.executable).parent)}
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads", "1",
                                           "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        address = json.loads(info.read_text())["address"]
        from dask.distributed import Client
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=180)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


@pytest.mark.slow
def test_a_real_dask_cluster_gives_the_numbers_of_one_process(cluster):
    df = quarterly(tuple("abcd"), n=20, seed=5)
    kwargs = {"h": 3, "models": FAST, "n_paths": 200, "evidence": "pooled", "members": True, "quiet": True}
    here = smfcast.forecast(df, engine="serial", **kwargs)
    there = smfcast.forecast(df, engine="dask", address=cluster, **kwargs)
    pd.testing.assert_frame_equal(pd.DataFrame(here), pd.DataFrame(there))
    assert here.method.pooled.weights == there.method.pooled.weights
