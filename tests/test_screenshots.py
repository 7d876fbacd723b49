"""`docs/screenshots.py` runs with what `make test` and `.ci/run` install (no pdftoppm) and makes
both pictures: the page at a desktop width and the workbook's chart as LibreOffice draws it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import DATA, REPO


@pytest.mark.slow
def test_screenshots_script_makes_both_pictures_from_a_store(small_store, tmp_path):
    missing = [t for t in ("chromium", "chromedriver", "soffice") if shutil.which(t) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed; .ci/run installs Debian's chromium, chromium-driver and libreoffice-calc"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    from PIL import Image
    store = tmp_path / "runs.sqlite"  # a copy: `serve` writes a token file beside its store
    with sqlite3.connect(small_store.path) as src, sqlite3.connect(store) as dst:
        src.backup(dst)
    env = {**os.environ, "SMFCAST_DATA": str(DATA), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(REPO / "docs" / "screenshots.py"), "--store", str(store), "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    page, chart = Image.open(tmp_path / "page.png"), Image.open(tmp_path / "workbook_chart.png")
    assert page.size[0] == 1280 and page.size[1] > 1000
    assert chart.format == "PNG" and chart.size[0] > 500 and chart.size[1] > 250
    colours = chart.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20  # a drawn chart, not a blank image
