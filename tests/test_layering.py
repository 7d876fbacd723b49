"""Imports go one way, along the data flow: a module may import from its own layer or a lower one.

Layers, lowest first: the foundation (`forecast/__init__.py`, `defaults`, `errors`, `seeds`,
`blas`) -> `registry` -> `models` -> `engine` -> `policy` -> `store` -> `outputs` -> the top
(`cli.py`, `cli_*.py` and `api/`). Every module under `forecast/` and `api/` is parsed with `ast`;
imports inside functions count as much as those at the top. The folders install as one package:
`forecast/` is `smfcast`, `api/` is `smfcast.api`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("foundation", "registry", "models", "engine", "policy", "store", "outputs", "top")
FOUNDATION = {"smfcast", "smfcast.defaults", "smfcast.errors", "smfcast.seeds", "smfcast.blas"}
FOLDERS = {"smfcast.api": "api", "smfcast.data": "data", "smfcast": "forecast"}  # package -> folder, most specific first


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name inside the project, None for anything else."""
    parts = module.split(".")
    if parts[0] != "smfcast":
        return None
    if parts[:2] == ["smfcast", "api"]:
        return "top"
    if module in FOUNDATION:
        return "foundation"
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    if len(parts) >= 2 and (parts[1] == "cli" or parts[1].startswith("cli_")):
        return "top"
    raise AssertionError(f"{module} is in no layer: add it to the foundation, a subpackage or the top")


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    package = next(pkg for pkg, folder in FOLDERS.items() if parts[0] == folder)
    parts = package.split(".") + parts[1:]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, root: Path) -> bool:
    package = next((pkg for pkg in FOLDERS if name == pkg or name.startswith(pkg + ".")), None)
    if package is None:
        return False
    path = root.joinpath(FOLDERS[package], *name[len(package):].lstrip(".").split(".")) if name != package else root / FOLDERS[package]
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved. For
    `from package import name` where `name` is a submodule, both are returned."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if is_module(f"{target}.{alias.name}", root)]
    return out


def violations(path: Path, root: Path = REPO) -> list[str]:
    # The package's own __init__ is the Python door: its lazy re-exports of the public face
    # (`smfcast.forecast`, `smfcast.plot`) import from above, as the other doors do.
    own = "top" if module_name(path, root) == "smfcast" else layer_of(module_name(path, root))
    found = []
    for line, target in imported(path, root):
        theirs = layer_of(target)
        if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
            found.append(f"{path.relative_to(root)}:{line} ({own}) imports {target} ({theirs})")
    return sorted(set(found))


def project_modules() -> list[Path]:
    return sorted(p for root in ("forecast", "api") for p in (REPO / root).rglob("*.py"))


def test_every_module_imports_only_from_its_own_or_a_lower_layer():
    modules = project_modules()
    assert len(modules) > 50  # the walk found the project
    problems = [v for path in modules for v in violations(path)]
    assert not problems, "imports against the flow:\n" + "\n".join(problems)


def test_every_module_is_in_a_layer():
    for path in project_modules():
        assert layer_of(module_name(path)) in LAYERS, path


@pytest.mark.parametrize("source, expected", [
    ("from smfcast.outputs.bands import quantile_rows\n", ["forecast/registry/probe.py:1 (registry) imports smfcast.outputs.bands (outputs)"]),
    ("def f():\n    from ..store import runs\n", ["forecast/registry/probe.py:2 (registry) imports smfcast.store (store)",
                                                  "forecast/registry/probe.py:2 (registry) imports smfcast.store.runs (store)"]),
    ("import smfcast.api.server\n", ["forecast/registry/probe.py:1 (registry) imports smfcast.api.server (top)"]),
    ("from smfcast import defaults\nfrom . import periods\nimport numpy\n", []),
])
def test_the_check_finds_an_import_against_the_flow(tmp_path, source, expected):
    """The check itself: a registry module that imports from above is caught, at the top of the file
    or inside a function, absolute or relative; foundation, same-layer and outside imports pass."""
    for package in ("forecast", "forecast/registry", "forecast/store", "api"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    for module in ("forecast/store/runs.py", "forecast/registry/periods.py", "forecast/defaults.py"):
        (tmp_path / module).write_text("")
    probe = tmp_path / "forecast" / "registry" / "probe.py"
    probe.write_text(source, encoding="utf-8")
    assert violations(probe, tmp_path) == expected


def test_the_readme_layout_shows_the_layers_and_every_package():
    layout = (REPO / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1]
    diagram = re.search(r"```\n(data/ .*)\n", layout).group(1)
    assert [w for w in re.findall(r"\w+", diagram) if w in LAYERS] == list(LAYERS[1:-1])
    packages = {p.parent.name for p in (REPO / "forecast").glob("*/__init__.py")}
    assert set(re.findall(r"`forecast/(\w+)/`", layout)) == packages
    assert all(f"`{name.split('.')[1]}`" in layout for name in FOUNDATION - {"smfcast"})
