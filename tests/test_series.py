"""The data registry: loading, and one located error for each kind of bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from smfcast.errors import DataError, NotFound
from smfcast.registry.periods import parse_period
from smfcast.registry.series import HEADLINE_METRICS, QUALITIES, load_registry

FIXTURE = Path(__file__).parent / "fixtures" / "registry"
REPO_DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def registry_dir(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(FIXTURE, target)
    return target


def _append(path: Path, line: str) -> int:
    """Append one CSV line and return its 1-based line number."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text + line + "\n", encoding="utf-8")
    return len(text.splitlines()) + 1


def _error(data_dir) -> DataError:
    with pytest.raises(DataError) as info:
        load_registry(data_dir)
    return info.value


def test_fixture_loads_with_headlines_and_counterparts(registry_dir):
    reg = load_registry(registry_dir)
    assert set(reg.headlines) == set(HEADLINE_METRICS)
    assert reg.headline("market_size").national == "cn_loans"
    obs = reg.observations("qh_loans")
    assert [str(o.period) for o in obs] == ["2023", "2024"]
    assert obs[-1].value == 786.4 and obs[-1].quality == "report"
    assert [str(o.period) for o in reg.observations("qh_green_share")] == ["2023Q3", "2025-03"]


@pytest.mark.parametrize(
    "line, field, reason",
    [
        ("xx_unknown,2024,1.0,src_qh,report,", "series_id", "unknown series id 'xx_unknown'"),
        ("qh_loans,2024,800,src_qh,report,", "period", "duplicate period 2024 for 'qh_loans' (first on line"),
        ("qh_npl,2025,140,src_qh,report,", "value", "140 is outside the bounds [0, 100] of 'qh_npl'"),
        ("qh_npl,2025,abc,src_qh,report,", "value", "'abc' is not a number"),
        ("qh_npl,2025Q2,2.5,src_qh,report,", "period", "'2025Q2' is a quarterly period but 'qh_npl' is annual"),
        ("qh_npl,25,2.5,src_qh,report,", "period", "'25' is not a period"),
        ("qh_npl,2025,2.5,src_missing,report,", "source_id", "source 'src_missing' is not in sources.toml"),
        ("qh_npl,2025,2.5,src_qh,rumour,", "quality", "'rumour' is not one of"),
        ("qh_npl,2025,2.5,src_qh,derived,", "note", "a derived row must give its formula"),
        # forms float() and `\d` take that other readers of the files do not: refused, never stored as typed
        ("qh_npl,２０２５,2.5,src_qh,report,", "period", "'２０２５' is not a period"),
        ("qh_npl,2025,１２,src_qh,report,", "value", "'１２' is not written as a plain number"),
        ("qh_npl,2025,1_0,src_qh,report,", "value", "'1_0' is not written as a plain number"),
    ],
)
def test_bad_observation_names_file_line_and_field(registry_dir, line, field, reason):
    lineno = _append(registry_dir / "observations.csv", line)
    err = _error(registry_dir)
    assert err.path.endswith("observations.csv")
    assert err.line == lineno and err.field == field
    assert str(err).startswith(f"{registry_dir / 'observations.csv'}, line {lineno}, field '{field}': ")
    assert reason in str(err)


def test_headline_metric_without_series_is_located(registry_dir):
    path = registry_dir / "series.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('series = "qh_npl"\n', ""), encoding="utf-8")
    err = _error(registry_dir)
    header_line = path.read_text(encoding="utf-8").splitlines().index("[headline.npl_ratio]") + 1
    assert err.path.endswith("series.toml") and err.field == "series" and err.line == header_line
    assert "headline metric 'npl_ratio' has no 'series'" in str(err)


def test_missing_headline_table_is_named(registry_dir):
    path = registry_dir / "series.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('[headline.green_loan_share]\nseries = "qh_green_share"\n', ""), encoding="utf-8")
    err = _error(registry_dir)
    assert err.field == "headline.green_loan_share"
    assert "has no [headline.green_loan_share] table" in str(err)


def test_headline_naming_unknown_series_is_located(registry_dir):
    path = registry_dir / "series.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('series = "qh_npl"', 'series = "qh_nope"'), encoding="utf-8")
    err = _error(registry_dir)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert err.line == lines.index('series = "qh_nope"') + 1 and err.field == "series"


def test_bad_series_metadata_is_located(registry_dir):
    path = registry_dir / "series.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('transform = "logit"\nnational = "cn_npl"', 'transform = "sqrt"\nnational = "cn_npl"'), encoding="utf-8")
    err = _error(registry_dir)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert err.field == "transform" and err.line == lines.index('transform = "sqrt"') + 1
    assert "'sqrt' is not one of none, log, logit" in str(err)


def test_wrong_header_and_short_rows_are_refused(registry_dir):
    path = registry_dir / "observations.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(["series,period,value"] + lines[1:]) + "\n", encoding="utf-8")
    assert "header must be series_id,period,value,source_id,quality,note" in str(_error(registry_dir))
    path.write_text("\n".join(lines + ["qh_npl,2025,2.5"]) + "\n", encoding="utf-8")
    err = _error(registry_dir)
    assert err.line == len(lines) + 1 and "expected 6 cells, found 3" in str(err)


def test_invalid_toml_reports_its_line(registry_dir):
    path = registry_dir / "sources.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[broken\n", encoding="utf-8")
    err = _error(registry_dir)
    assert err.path.endswith("sources.toml") and "not valid TOML" in str(err) and err.line is not None


def test_unknown_series_lookup_is_not_found(registry_dir):
    reg = load_registry(registry_dir)
    with pytest.raises(NotFound, match="unknown series 'nope'"):
        reg.observations("nope")
    with pytest.raises(NotFound, match="unknown metric 'size'"):
        reg.headline("size")


def test_fingerprint_changes_with_one_observation(registry_dir):
    before = load_registry(registry_dir).fingerprint
    path = registry_dir / "observations.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("qh_loans,2024,786.4", "qh_loans,2024,786.5"), encoding="utf-8")
    assert load_registry(registry_dir).fingerprint != before


def test_month_end_is_not_a_quarter_end():
    assert str(parse_period("2020-10")) == "2020-10"
    assert parse_period("2020-10").end.isoformat() == "2020-10-31"
    assert parse_period("2020Q4").end.isoformat() == "2020-12-31" == parse_period("2020").end.isoformat()
    assert parse_period("2024-02").end.day == 29


# --- the shipped registry ---------------------------------------------------------------------

def test_shipped_registry_resolves_every_row_to_a_quoted_source():
    reg = load_registry(REPO_DATA)
    assert len(reg.rows) > 200
    for o in reg.rows:
        src = reg.sources[o.source_id]
        assert src.get("quote"), f"{o.source_id} has no quote"
        assert o.quality in QUALITIES


def test_shipped_headlines_have_provincial_and_national_history():
    reg = load_registry(REPO_DATA)
    for metric in HEADLINE_METRICS:
        head = reg.headline(metric)
        assert reg.series[head.series].region == "QH"
        assert reg.series[head.national].region == "CN"
        assert len(reg.observations(head.series)) >= 2
        assert len(reg.observations(head.national)) >= 7


def test_shipped_report_figures_are_graded_report_or_derived():
    reg = load_registry(REPO_DATA)
    market = {str(o.period): o for o in reg.observations("qh_smallmicro_loans")}
    assert market["2022"].value == 786.4 and market["2022"].quality == "report"
    assert market["2021"].quality == "derived" and re.search(r"786\.4.*12\.3", market["2021"].note)
    assert market["2021"].value == pytest.approx(786.4 / 1.123, abs=0.05)
    broad = reg.observations("qh_smallmicro_loans_broad")
    assert any(o.value == 1287.6 for o in broad)
