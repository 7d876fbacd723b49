"""The notebooks run top to bottom with small settings, print what they claim, and are stored
without outputs."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from smfcast.registry.series import QUALITIES, load_registry
from tests.conftest import DATA, REPO

NOTEBOOKS = REPO / "notebooks"


def _execute(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {"SMFCAST_NOTEBOOK_SMALL": "1", "SMFCAST_STORE": str(tmp_path / "nb.sqlite"), "SMFCAST_DATA": str(DATA)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return nb


def _printed(nb) -> dict:
    """Every JSON object a cell printed on a line of its own, merged."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                for line in o["text"].splitlines():
                    if line.startswith("{"):
                        out.update(json.loads(line))
    return out


def test_notebooks_are_stored_without_outputs():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["01_data_and_sources.ipynb", "02_scenarios.ipynb", "03_backtests.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


@pytest.mark.slow
def test_data_notebook_counts_every_grade_and_shows_the_short_series(tmp_path):
    printed = _printed(_execute("01_data_and_sources.ipynb", tmp_path))
    reg = load_registry(DATA)
    counts = Counter(o.quality for o in reg.rows)
    assert printed["grades"] == {q: counts.get(q, 0) for q in QUALITIES}
    assert all(n < printed["min_direct_points"] for n in printed["provincial_points"].values())


@pytest.mark.slow
def test_scenarios_notebook_what_if_and_target_probabilities(tmp_path):
    printed = _printed(_execute("02_scenarios.ipynb", tmp_path))
    assert printed["median_2027"]["with_snow"] > printed["median_2027"]["policy_targets"]
    assert set(printed["probabilities"]) == {"baseline", "adverse", "policy_targets", "policy_targets_adverse"}
    p = printed["probabilities"]  # P(NPL < 2.2% by 2026): policy helps, the shock (from 2027) cannot hurt 2026
    assert p["policy_targets"] >= p["baseline"] and p["adverse"] == p["baseline"]


@pytest.mark.slow
def test_backtests_notebook_scores_members_and_calibrated_ensembles(tmp_path):
    nb = _execute("03_backtests.ipynb", tmp_path)
    printed = _printed(nb)
    assert {"ets", "theta", "ensemble", "ensemble-calibrated"} <= set(printed["models"])
    assert printed["rows"] > 0
    # the run's rule only widens: calibrated bands cover at least what the raw ensemble covers
    coverage = printed["coverage_95"]
    series = {key.split("/")[0] for key in coverage}
    assert series and all(coverage[f"{s}/ensemble-calibrated"] >= coverage[f"{s}/ensemble"] for s in series)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # one chart per backtested national series
