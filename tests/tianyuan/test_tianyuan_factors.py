"""Catalog, decoding rules and bucket-table loading (good and bad files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creditsdk.errors import ConfigurationError, ResponseIntegrityError
from creditsdk.tianyuan import (
    SANDBOX_BUCKET_TABLES,
    BucketTableError,
    BucketTables,
    MultiLendingReport,
    Range,
    catalog,
    load_bucket_tables,
)
from creditsdk.tianyuan.factors import KINDS, decode_factors, sandbox_catalog

SEED_DOCUMENTED = {
    "xyp_cpl0001": "贷款总机构数",
    "xyp_cpl0002": "贷款已结清机构数",
    "xyp_cpl0044": "当前是否存在逾期未结清",
    "xyp_cpl0007": "消费金融类机构数",
    "xyp_cpl0008": "网络贷款类机构数",
    "xyp_cpl0070": "最近1天贷款机构数",
    "xyp_cpl0009": "最近7天贷款机构数",
    "xyp_cpl0011": "最近30天贷款机构数",
    "xyp_cpl0028": "最近1天是否发生过逾期",
    "xyp_cpl0031": "最近30天是否发生过逾期",
    "xyp_cpl0071": "当前逾期机构数",
    "xyp_cpl0072": "当前逾期金额",
    "xyp_cpl0081": "信用风险评分",
    "xyp_model_score_high": "小额网贷分V1",
    "xyp_model_score_mid": "小额分期分V1",
}


def test_catalog_has_the_seed_factors_with_their_labels_and_provenance() -> None:
    cat = catalog()
    for code, label in SEED_DOCUMENTED.items():
        assert cat[code].label_zh == label
        assert cat[code].provenance == "seed-002"
        assert cat[code].label_en
    assert cat["xyp_cpl0044"].kind == "flag"
    assert cat["xyp_cpl0081"].kind == "ratio_score"
    assert cat["xyp_model_score_mid"].kind == "model_score"
    assert cat["xyp_cpl0072"].kind == "amount_bucket"
    assert all(e.kind in KINDS for e in cat.values())
    # nothing synthetic in the client's catalog
    assert not [e for e in cat.values() if e.provenance == "sandbox-synthetic"]
    assert catalog() is cat  # loaded once


def test_sandbox_catalog_is_about_360_keys_with_the_documented_families() -> None:
    codes = list(sandbox_catalog())
    assert 350 <= len(codes) <= 370
    for prefix in ("xyp_cpl00", "xyp_t01", "xyp_t02", "xyp_t03td", "xyp_t04", "xyp_var"):
        assert any(c.startswith(prefix) for c in codes), prefix
    assert {"xyp_model_score_high", "xyp_model_score_mid", "xyp_model_score_low"} <= set(codes)
    synthetic = [e for e in sandbox_catalog().values() if e.provenance == "sandbox-synthetic"]
    assert len(synthetic) == len(codes) - len(SEED_DOCUMENTED) - 1  # + xyp_cpl0039


def _tables() -> BucketTables:
    return BucketTables(
        {"xyp_cpl0001": {"1": Range(0, 9, "()", "institutions")}, "xyp_t01x": {"2": Range(5, None)}}
    )


def test_decoding_rules() -> None:
    raw = {
        "xyp_cpl0001": "1",  # table → Range
        "xyp_cpl0002": "3",  # no table → explicit no_table, raw kept
        "xyp_cpl0007": "",  # no record
        "xyp_cpl0044": "1",
        "xyp_cpl0031": "0",
        "xyp_cpl0028": "7",  # not a flag value
        "xyp_cpl0081": "0.8123",
        "xyp_model_score_high": "-1",
        "xyp_model_score_mid": "702",
        "xyp_model_score_low": "1200",  # out of range
        "xyp_t01x": "2",  # uncatalogued key, but a loaded table
        "xyp_new_key": "5",  # neither
    }
    report = MultiLendingReport.from_factors(raw, transaction_id="T", tables=_tables())
    f = report.factors
    assert list(f) == list(raw)  # every key received, in order
    assert dict(report.raw) == raw
    assert f["xyp_cpl0001"].value == Range(0, 9, "()", "institutions")
    assert f["xyp_cpl0001"].value.label == "(0, 9)"
    assert 5 in f["xyp_cpl0001"].value
    assert 9 not in f["xyp_cpl0001"].value
    assert (f["xyp_cpl0002"].status, f["xyp_cpl0002"].value, f["xyp_cpl0002"].raw) == (
        "no_table",
        None,
        "3",
    )
    assert (f["xyp_cpl0007"].status, f["xyp_cpl0007"].value) == ("no_record", None)
    assert f["xyp_cpl0044"].value is True
    assert f["xyp_cpl0031"].value is False
    assert f["xyp_cpl0028"].status == "unrecognized"
    assert f["xyp_cpl0081"].value == pytest.approx(0.8123)
    assert (f["xyp_model_score_high"].status, f["xyp_model_score_high"].value) == ("not_hit", None)
    assert f["xyp_model_score_mid"].value == 702
    assert f["xyp_model_score_low"].status == "unrecognized"
    assert f["xyp_t01x"].value == Range(5, None)
    assert f["xyp_t01x"].label is None
    assert f["xyp_new_key"].status == "no_table"
    assert f["xyp_new_key"].kind == "unknown"
    # named properties
    assert report.total_institutions is f["xyp_cpl0001"]
    assert report.currently_overdue.value is True
    assert report.credit_risk_score.value == pytest.approx(0.8123)
    assert report.instalment_score.value == 702
    assert report.overdue_amount.status == "absent"
    assert report.overdue_amount.label == "当前逾期金额"


def test_bucket_code_missing_from_a_loaded_table_is_unrecognized_not_invented() -> None:
    report = MultiLendingReport.from_factors({"xyp_cpl0001": "9"}, tables=_tables())
    assert report.total_institutions.status == "unrecognized"
    assert report.total_institutions.value is None
    assert report.total_institutions.raw == "9"


def test_numbers_and_null_are_tolerated_nested_values_are_not() -> None:
    raw, factors = decode_factors({"xyp_cpl0044": 1, "xyp_cpl0081": 0.5, "xyp_cpl0001": None})
    assert raw == {"xyp_cpl0044": "1", "xyp_cpl0081": "0.5", "xyp_cpl0001": ""}
    assert factors["xyp_cpl0044"].value is True
    assert factors["xyp_cpl0001"].status == "no_record"
    with pytest.raises(ResponseIntegrityError):
        decode_factors({"xyp_cpl0001": ["1"]})
    with pytest.raises(ResponseIntegrityError):
        decode_factors({1: "1"})


def test_memoised_decoding_gives_the_same_answers_as_a_cold_decode() -> None:
    tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
    raw = {"xyp_cpl0001": "2", "xyp_cpl0044": "1", "xyp_cpl0002": ""}
    first = MultiLendingReport.from_factors(raw, tables=tables)
    second = MultiLendingReport.from_factors(raw, tables=tables)  # fast path
    assert second.factors == first.factors
    assert second.total_institutions.value == Range(9, 19, "[)", "institutions")
    # a value never seen before still decodes (falls back to the slow path)
    third = MultiLendingReport.from_factors({**raw, "xyp_cpl0001": "6"}, tables=tables)
    assert third.total_institutions.value == Range(49, None, "[)", "institutions")


def test_re_decoding_stored_raw_with_loaded_tables() -> None:
    raw = {"xyp_cpl0001": "1", "xyp_cpl0072": "3"}
    plain = MultiLendingReport.from_factors(raw, transaction_id="T1")
    assert plain.total_institutions.status == "no_table"
    again = MultiLendingReport.from_factors(
        plain.raw, transaction_id=plain.transaction_id, tables=SANDBOX_BUCKET_TABLES
    )
    assert again.total_institutions.value == Range(0, 9, "()", "institutions")
    assert again.overdue_amount.value == Range(5000, 10000, "[)", "yuan")
    assert again.tables_name == "creditsdk-sandbox-synthetic"
    d = again.to_dict()
    assert d["raw"] == raw
    assert d["factors"]["xyp_cpl0072"]["value"] == {
        "low": 5000,
        "high": 10000,
        "inclusivity": "[)",
        "unit": "yuan",
        "label": "[5000, 10000)",
    }
    assert json.loads(json.dumps(d)) == d


def test_html_and_repr() -> None:
    report = MultiLendingReport.from_factors(
        {"xyp_cpl0001": "1", "xyp_cpl0044": "", "xyp_t01<b>": "x"}, transaction_id="T<1>"
    )
    page = report._repr_html_()
    assert "贷款总机构数" in page
    assert "T&lt;1&gt;" in page
    assert "<b>" not in page.replace("<b>Tianyuan", "")
    assert repr(report) == (
        "MultiLendingReport(transaction_id='T<1>', factors=3, no_record=1, no_table=2)"
    )


def test_to_frame() -> None:
    pytest.importorskip("pandas")
    report = MultiLendingReport.from_factors(
        {"xyp_cpl0001": "1", "xyp_cpl0044": "0"}, tables=SANDBOX_BUCKET_TABLES
    )
    frame = report.to_frame()
    assert list(frame.index) == ["xyp_cpl0001", "xyp_cpl0044"]
    assert frame.loc["xyp_cpl0001", "high"] == 9
    assert frame.loc["xyp_cpl0001", "label"] == "贷款总机构数"
    assert not frame.loc["xyp_cpl0044", "value"]


def test_to_frame_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigurationError, match=r"creditsdk\[pandas\]"):
        MultiLendingReport.from_factors({}).to_frame()


# -- loading tables ---------------------------------------------------------------------------


def test_sandbox_tables_are_complete_for_every_bucket_factor_the_sandbox_sends() -> None:
    tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
    bucket_kinds = {"count_bucket", "amount_bucket", "dictionary"}
    needed = {c for c, e in sandbox_catalog().items() if e.kind in bucket_kinds}
    assert needed <= set(tables.tables)
    assert "synthetic" in (tables.name or "")


def test_csv_tables(tmp_path: Path) -> None:
    path = tmp_path / "contract.csv"
    path.write_text(
        "factor,code,low,high,bounds,unit,label\n"
        "xyp_cpl0001,1,0,9,(),institutions,\n"
        "xyp_cpl0001,2,9,,[),institutions,9 or more\n"
        "xyp_cpl0072,1,0,1000.5,(],yuan,\n",
        encoding="utf-8",
    )
    tables = load_bucket_tables(path)
    assert tables.tables["xyp_cpl0001"]["2"] == Range(9, None, "[)", "institutions", "9 or more")
    assert tables.tables["xyp_cpl0072"]["1"].high == 1000.5
    report = MultiLendingReport.from_factors({"xyp_cpl0001": "2"}, tables=tables)
    assert str(report.total_institutions.value) == "9 or more institutions"


def test_toml_inline_and_named_tables(tmp_path: Path) -> None:
    path = tmp_path / "contract.toml"
    path.write_text(
        '[meta]\nname = "our contract"\n'
        '[tables.counts]\nunit = "institutions"\n'
        'buckets = [{ code = "1", low = 0, high = 9, bounds = "()" }]\n'
        "[factors]\n"
        'xyp_cpl0001 = "counts"\n'
        'xyp_cpl0072 = { unit = "yuan", buckets = [\n'
        '  { code = 1, low = 0, bounds = "(]", high = 5 },\n'
        "] }\n",
        encoding="utf-8",
    )
    tables = load_bucket_tables(str(path))
    assert tables.name == "our contract"
    assert tables.tables["xyp_cpl0072"]["1"] == Range(0, 5, "(]", "yuan")
    assert tables.tables["xyp_cpl0001"]["1"].unit == "institutions"


CSV_HEAD = "factor,code,low,high,bounds\n"


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ("factor,code,low\nx,1,0\n", "header", "missing column(s) bounds, high"),
        (CSV_HEAD + "xyp_cpl0001,1,0,9,()\nxyp_cpl0001,1,9,19,[)\n", "row 3", "defined twice"),
        (CSV_HEAD + "xyp_cpl0001,1,ten,9,()\n", "row 2", "low 'ten' is not a number"),
        (CSV_HEAD + "xyp_cpl0001,1,9,0,()\n", "row 2", "low 9 is not below high 0"),
        (CSV_HEAD + "xyp_cpl0001,1,0,9,<>\n", "row 2", "bounds must be one of"),
        (CSV_HEAD + "xyp_cpl0001,1,,9,[)\n", "row 2", "unbounded low end"),
        (CSV_HEAD + "xyp_cpl0001,,0,9,()\n", "row 2", "bucket code"),
        (CSV_HEAD + "bad key!,1,0,9,()\n", "row 2", "not a factor key"),
        (CSV_HEAD + "xyp_cpl0001,1,0,9\n", "row 2", "wrong number of columns"),
        (CSV_HEAD + "xyp_cpl0001,1,0,nan,()\n", "row 2", "finite"),
        (
            CSV_HEAD + "xyp_cpl0001,1,0,10,[)\nxyp_cpl0001,2,5,20,[)\n",
            "xyp_cpl0001",
            "buckets 1 and 2 overlap",
        ),
        (
            CSV_HEAD + "xyp_cpl0001,1,,10,(]\nxyp_cpl0001,2,,20,()\n",
            "xyp_cpl0001",
            "buckets 1 and 2 overlap",
        ),
        (
            CSV_HEAD + "xyp_cpl0001,1,0,10,[]\nxyp_cpl0001,2,10,,[)\n",
            "xyp_cpl0001",
            "buckets 1 and 2 overlap",
        ),
        (CSV_HEAD, "", "defines no bucket tables"),
    ],
)
def test_bad_csv_files(tmp_path: Path, body: str, where: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(BucketTableError) as info:
        load_bucket_tables(path)
    err = info.value
    assert isinstance(err, ConfigurationError)
    assert err.path == str(path)
    assert err.where == where
    assert problem in err.problem
    assert str(path) in str(err)


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ("[factors\n", "", "not valid TOML"),
        ('[factors]\nxyp_cpl0001 = "nope"\n', "factors.xyp_cpl0001", "undefined table 'nope'"),
        ("[factors]\nxyp_cpl0001 = { buckets = [] }\n", "factors.xyp_cpl0001", "non-empty"),
        (
            '[factors]\nxyp_cpl0001 = { buckets = [{ code = "1", low = true, bounds = "()" }] }\n',
            "factors.xyp_cpl0001.buckets[1]",
            "not a boolean",
        ),
        (
            '[factors]\nxyp_cpl0001 = { buckets = [{ code = "1", low = 0, high = 1 }] }\n',
            "factors.xyp_cpl0001.buckets[1]",
            "needs 'code' and 'bounds'",
        ),
        (
            '[factors]\nxyp_cpl0001 = { buckets = [{ code = "1", bounds = "()", lo = 1 }] }\n',
            "factors.xyp_cpl0001.buckets[1]",
            "unknown key(s) lo",
        ),
        ("[bucket]\nx = 1\n", "", "unknown top-level key(s) bucket"),
        ('[meta]\nname = "x"\n', "", "defines no factor tables"),
    ],
)
def test_bad_toml_files(tmp_path: Path, body: str, where: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(BucketTableError) as info:
        load_bucket_tables(path)
    assert info.value.where == where
    assert problem in info.value.problem


def test_other_extensions_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(BucketTableError, match=r"\.toml or \.csv"):
        load_bucket_tables(tmp_path / "tables.json")
    with pytest.raises(BucketTableError, match="cannot be read"):
        load_bucket_tables(tmp_path / "missing.csv")
    with pytest.raises(BucketTableError, match="cannot be read"):
        load_bucket_tables(tmp_path / "missing.toml")


def test_client_decodes_with_the_tables_it_was_given(tmp_path: Path) -> None:
    from creditsdk.tianyuan import TianyuanClient

    path = tmp_path / "t.csv"
    path.write_text(CSV_HEAD + "xyp_cpl0001,1,0,9,()\n", encoding="utf-8")
    with TianyuanClient("id", "00" * 16, "https://x.test", bucket_tables=path) as ty:
        assert set(ty.bucket_tables.tables) == {"xyp_cpl0001"}
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_HEAD + "xyp_cpl0001,1,9,0,()\n", encoding="utf-8")
    with pytest.raises(BucketTableError, match="row 2"):
        TianyuanClient("id", "00" * 16, "https://x.test", bucket_tables=bad)


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsdk.tianyuan import factors

    tables = BucketTables({"xyp_cpl0001": {"1": Range(0, 9, "()")}})
    monkeypatch.setattr(factors, "_CACHE_LIMIT", tables._cached)
    before = tables._cached
    for score in range(600, 620):
        report = MultiLendingReport.from_factors(
            {"xyp_model_score_mid": str(score), "xyp_cpl0001": "1"}, tables=tables
        )
        assert report.instalment_score.value == score
        assert report.total_institutions.value == Range(0, 9, "()")
    assert tables._cached == before
