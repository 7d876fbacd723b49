"""The command line's manners: every option says what it does, its default and its choices; plain
tables fit 120 columns unless `--wide`; publications record who published; commands that only
read leave no file behind, not even an empty store."""

from __future__ import annotations

import argparse
import os
import sqlite3

import pytest

from smfcast.cli import build_parser, main, run_summary
from smfcast.outputs.tables import WIDTH, _width, render
from smfcast.store.runs import RunStore
from tests.conftest import DATA

SKIPPED = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
FIXED_SETS = {"format", "engine", "model", "evidence", "procedure", "dataset", "table", "metric", "quality", "headline"}


def _parsers(parser: argparse.ArgumentParser, name: str = "smfcast"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}")


def test_every_option_of_every_command_states_its_default_and_choices():
    problems, count = [], 0
    for name, parser in _parsers(build_parser()):
        parser.format_help()  # every help text formats (a stray % would raise here)
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, SKIPPED):
                continue
            count += 1
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                problems.append(f"{where}: no help")
                continue
            text = formatter._expand_help(action)
            if action.option_strings:
                if action.default not in (None, False) and "%(default)s" not in action.help:
                    problems.append(f"{where}: the default {action.default!r} is not stated with %(default)s")
                if "default" not in text and not (action.required and "required" in text):
                    problems.append(f"{where}: says no default")
                if action.dest in FIXED_SETS and not action.choices:
                    problems.append(f"{where}: takes a fixed set of values but declares no choices")
            missing = [c for c in action.choices or () if str(c) not in text]
            if missing:
                problems.append(f"{where}: help does not list the choices {missing}")
    assert count > 150 and not problems, "\n".join(problems)


def _lines(capsys, *argv) -> list[str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


def test_plain_tables_fit_120_columns_unless_wide(small_store, small_run, capsys):
    store = ["--store", str(small_store.path)]
    run = small_run.run_id
    commands = [["runs"], ["runs", "--publications"], ["targets"], ["forecast", "--metric", "npl_ratio", "--scenario", "all", "--history"],
                ["forecast", "--metric", "market_size", "--level", "50,60,70,80,90,95", "--model", "arima"],
                ["sensitivity", "--target", "npl_below_2_2_by_2026"], ["sensitivity", "--metric", "market_size", "--year", "2030"],
                ["goal-seek", "--target", "npl_below_2_2_by_2026", "--lever", "risk_model_adoption", "--probability", "0.5"],
                ["compare", run, run], ["data", "check"], ["data", "show", "qh_smallmicro_loans"], ["data", "show", "qh_green_loan_share"]]
    for argv in commands:
        lines = _lines(capsys, *store, *argv)
        assert lines and max(_width(line) for line in lines) <= WIDTH, (argv, max(lines, key=_width))
    wide = _lines(capsys, *store, "runs", "--wide")
    assert max(_width(line) for line in wide) > WIDTH  # nothing cut: the run ids, times and scenarios whole
    assert any(",".join(small_run.scenarios) in line for line in wide)
    fitted = run_summary(small_run).splitlines()  # what `smfcast run` prints
    assert max(_width(line) for line in fitted) <= WIDTH and any(small_run.method("npl_ratio").method in line for line in fitted)
    assert max(_width(line) for line in run_summary(small_run, wide=True).splitlines()) > WIDTH


def test_a_table_too_wide_cuts_text_never_numbers_and_names_what_it_left_out():
    rows = [{"id": "k" * 30, "note": "n" * 200, "value": 123456.789, "text": "t" * 50} for _ in range(3)]
    text = render(rows, ["id", "note", "value", "text"]).splitlines()
    assert max(_width(line) for line in text) <= WIDTH
    assert text[2].startswith("k" * 30 + "  ") and "123,456.789" in text[2] and "…" in text[2]
    many = [{f"c{i}": 1234567.0 + i for i in range(20)}]
    text = render(many, [f"c{i}" for i in range(20)]).splitlines()
    assert max(_width(line) for line in text) <= WIDTH and text[-1].startswith("(") and "c19" in text[-1] and "--wide" in text[-1]


def _copy(store: RunStore, path) -> RunStore:
    with sqlite3.connect(store.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return RunStore(path)


def test_a_publication_from_the_command_line_records_smfcast_user(small_store, small_run, tmp_path, monkeypatch, capsys):
    store = _copy(small_store, tmp_path / "runs.sqlite")
    monkeypatch.setenv("SMFCAST_USER", "analyst")
    assert main(["--store", str(store.path), "publish", small_run.run_id, "--reason", "checked"]) == 0
    assert "by cli:analyst" in capsys.readouterr().out
    assert store.publication_history()[0]["by"] == "cli:analyst"
    monkeypatch.delenv("SMFCAST_USER")
    monkeypatch.setattr("getpass.getuser", lambda: "someone")
    assert main(["--store", str(store.path), "publish", small_run.run_id]) == 0
    assert store.publication_history()[0]["by"] == "cli:someone"


def _read_only(run: str, out: str) -> list[list[str]]:
    return [["forecast", "--metric", "npl_ratio"], ["forecast", "--series", "bank_a"], ["runs"], ["runs", "--publications"],
            ["targets"], ["goal-seek", "--target", "npl_below_2_2_by_2026", "--lever", "risk_model_adoption", "--probability", "0.5"],
            ["sensitivity", "--target", "npl_below_2_2_by_2026"], ["compare", run, run], ["export", "-o", out], ["publish", run]]


@pytest.mark.parametrize("named", [True, False])
def test_commands_that_only_read_never_create_a_store_or_any_file(tmp_path, monkeypatch, capsys, named):
    scratch, home = tmp_path / "cwd", tmp_path / "xdg"
    scratch.mkdir()
    home.mkdir()
    monkeypatch.chdir(scratch)
    monkeypatch.delenv("SMFCAST_STORE", raising=False)
    monkeypatch.delenv("SMFCAST_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(home))  # no per-user registry: reads use the shipped copy, and must not copy it
    store = ["--store", str(scratch / "var" / "missing.sqlite")] if named else []  # else var/smfcast.sqlite, here
    for argv in _read_only("0123456789abcdef", str(scratch / "bands.csv")):
        assert main(store + argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no run in the store yet" in err and "`smfcast run`" in err, (argv, err)
        assert list(scratch.iterdir()) == [] and list(home.iterdir()) == [], argv
    for argv in (["data", "check"], ["data", "show", "qh_smallmicro_loans"], ["data", "history"],
                 ["data", "import", str(DATA / "observations.csv"), "--check"]):
        assert main(store + argv) == 0, argv
        capsys.readouterr()
        assert list(scratch.iterdir()) == [] and list(home.iterdir()) == [], argv
    assert main(store + ["data", "template", "-o", "figures.xlsx"]) == 0
    assert [p.name for p in scratch.iterdir()] == ["figures.xlsx"] and list(home.iterdir()) == []  # only the file asked for
    assert not os.path.exists(scratch / "var")
