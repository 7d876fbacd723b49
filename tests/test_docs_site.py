"""The documentation site builds with MkDocs in strict mode (a broken link, a page missing from
the navigation or an unknown anchor fails), its API reference generated from the OpenAPI document."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_docs_site_builds_strict_with_every_operation(tmp_path):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    site = tmp_path / "site"
    done = subprocess.run([str(mkdocs), "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr
    from smfcast.api.openapi import operations
    reference = (site / "api-reference" / "index.html").read_text(encoding="utf-8")
    missing = [op.operation_id for op in operations() if op.operation_id not in reference]
    assert not missing
    assert (site / "openapi.json").is_file()
