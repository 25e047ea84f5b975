"""The output's shape is a contract (docs/batch.md, "The schema"): fixed by the operation, the
catalog and the bucket tables, never by the values of a sample."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from creditsdk import Applicant
from creditsdk.batch import read_results, run_batch
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import reports_to_frame, row_columns

from .batchhelpers import CONSENT, applicants, write_csv

pd = pytest.importorskip("pandas")


def _sample(n: int, offset: int) -> list[dict[str, str]]:
    rows = applicants(n + offset)[offset:]
    for i, row in enumerate(rows):
        row["bad"] = "1" if i % 7 == 0 else "0"
    return rows


def _schema(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "schema.json").read_text(encoding="utf-8"))
    return doc


def test_two_samples_and_a_resumed_run_have_the_same_columns_and_dtypes(tmp_path: Path) -> None:
    with Sandbox(providers=["tianyuan"], options={"tianyuan": {"balance": None}}) as sb:
        # sample A: mostly no records for some factors; sample B: everyone heavily indebted
        a = _sample(30, 0)
        b = _sample(12, 500)
        for row in b:
            sb.tianyuan.pin(row["id_card"], "heavy_borrower")
        sb.tianyuan.pin(a[0]["id_card"], "no_data")
        run_batch(a, "tianyuan.multi_lending", tmp_path / "a", consent=CONSENT, sandbox=sb, rate=0)
        run_batch(b, "tianyuan.multi_lending", tmp_path / "b", consent=CONSENT, sandbox=sb, rate=0)
        # sample C: stopped half-way, then resumed (Parquet this time)
        c = _sample(20, 900)
        src = write_csv(tmp_path / "c.csv", c)
        kw: dict[str, Any] = {"consent": CONSENT, "sandbox": sb, "rate": None}
        run_batch(src, "tianyuan.multi_lending", tmp_path / "c", limit=9, format="parquet", **kw)
        half = read_results(tmp_path / "c")
        run_batch(src, "tianyuan.multi_lending", tmp_path / "c", format="parquet", **kw)
    schemas = [_schema(tmp_path / x) for x in ("a", "b", "c")]
    assert schemas[0]["columns"] == schemas[1]["columns"] == schemas[2]["columns"]
    assert schemas[0]["factors"] == schemas[1]["factors"]
    frames = [read_results(tmp_path / x) for x in ("a", "b", "c")]
    names = [c["name"] for c in schemas[0]["columns"]]
    dtypes = [str(d) for d in frames[0].dtypes]
    for frame in (*frames, half):
        assert list(frame.columns) == names
        assert [str(d) for d in frame.dtypes] == dtypes
    # Plain pandas readers agree with schema.json (Parquet stores the dtypes itself).
    plain = pd.read_parquet(tmp_path / "c" / "results.parquet")
    assert [str(d) for d in plain.dtypes] == [c["dtype"] for c in schemas[0]["columns"]]
    assert schemas[0]["bucket_tables"]["source"] == "sandbox"
    # Every catalogued factor is there, each bucket factor as code/_low/_high/_mid.
    assert {"xyp_cpl0002", "xyp_cpl0002_low", "xyp_cpl0002_high", "xyp_cpl0002_mid"} <= set(names)
    assert len(names) == len(set(names))
    frame_a = frames[0]
    assert frame_a["bad"].dtype == "Int64"  # a 0/1 label stays an integer
    assert frame_a["xyp_cpl0044"].dtype == "Int8"
    assert frame_a.loc[0, "status"] == "no_data"
    assert frame_a.loc[0, "billed"] == 1
    assert frame_a.loc[0, "returned"] == 0


def test_bucket_parts_and_schema_json_keep_what_an_analyst_bins_on(tmp_path: Path) -> None:
    with Sandbox(providers=["tianyuan"]) as sb:
        rows = applicants(4)
        for row in rows:
            sb.tianyuan.pin(row["id_card"], "heavy_borrower")
        run_batch(rows, "tianyuan.multi_lending", tmp_path / "o", consent=CONSENT, sandbox=sb)
    doc = _schema(tmp_path / "o")
    frame = read_results(tmp_path / "o")
    factor = next(f for f in doc["factors"] if f["code"] == "xyp_cpl0001")
    assert factor["core"] is True
    assert factor["columns"] == {
        "code": "xyp_cpl0001",
        "low": "xyp_cpl0001_low",
        "high": "xyp_cpl0001_high",
        "mid": "xyp_cpl0001_mid",
    }
    by_code = {b["code"]: b for b in factor["buckets"]}
    assert by_code[1] == {
        "code": 1, "low": 0, "high": 9, "low_closed": False, "high_closed": False,
        "label": "(0, 9)", "unit": "institutions",
    }  # fmt: skip
    assert by_code[6]["high"] is None
    assert by_code[6]["label"] == "[49, +inf)"
    # In the frame: the code, the interval, the midpoint; the open top end is +inf.
    for _, row in frame.iterrows():
        code = row["xyp_cpl0001"]
        bucket = by_code[int(code)]
        assert row["xyp_cpl0001_low"] == bucket["low"]
        high = math.inf if bucket["high"] is None else bucket["high"]
        assert row["xyp_cpl0001_high"] == high
        assert row["xyp_cpl0001_mid"] == (
            bucket["low"] if bucket["high"] is None else (bucket["low"] + bucket["high"]) / 2
        )
    # "no record" (code null, interval NaN) is not the open bucket (code 6, high +inf).
    settled = frame["xyp_cpl0002"]
    assert frame.loc[settled.isna(), "xyp_cpl0002_high"].isna().all()
    assert all(
        c["dtype"] in {"int64", "Int64", "Int8", "float64", "string"} for c in doc["columns"]
    )


def test_effective_is_stricter_than_returned(tmp_path: Path) -> None:
    with Sandbox(providers=["tianyuan"]) as sb:
        rows = applicants(3)
        for row, scenario in zip(rows, ("thin_file", "currently_overdue", "no_data"), strict=True):
            sb.tianyuan.pin(row["id_card"], scenario)
        # a thin file whose few records miss every core factor still "returned" data
        thin = next(
            i
            for i in range(2000)
            if _no_core(sb.tianyuan.factors_for(applicants(i + 1)[i]["id_card"]))
            and sb.tianyuan.scenario_for(applicants(i + 1)[i]["id_card"]) == "thin_file"
        )
        rows[0] = applicants(thin + 1)[thin]
        summary = run_batch(rows, "tianyuan.multi_lending", tmp_path / "o", consent=CONSENT,
                            sandbox=sb)  # fmt: skip
    frame = read_results(tmp_path / "o")
    assert list(frame["returned"]) == [1, 1, 0]
    assert list(frame["effective"]) == [0, 1, 0]
    assert (summary.billed, summary.returned, summary.effective) == (3, 2, 1)
    saved = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (saved["billed"], saved["returned"], saved["effective"]) == (3, 2, 1)
    assert saved["rows_total"] == saved["rows_reached"] == 3
    assert saved["by_status"] == {"hit": 2, "no_data": 1}


def _no_core(factors: dict[str, str]) -> bool:
    from creditsdk.tianyuan import catalog

    core = [c for c, e in catalog().items() if e.provenance == "seed-002"]
    return bool(factors) and not any(factors.get(c, "") not in ("", "-1") for c in core)


def test_a_notebook_and_a_batch_run_agree(tmp_path: Path) -> None:
    with Sandbox(providers=["tianyuan"]) as sb:
        rows = applicants(6)
        sb.tianyuan.pin(rows[2]["id_card"], "no_data")
        run_batch(rows, "tianyuan.multi_lending", tmp_path / "o", consent=CONSENT, sandbox=sb)
        with sb.tianyuan_client(bucket_tables=sb.tianyuan.bucket_tables_path) as ty:
            reports = [
                ty.multi_lending(
                    Applicant(name=r["name"], id_card=r["id_card"], mobile=r["mobile"]),
                    consent=CONSENT,
                )
                for r in rows
            ]
    batch = read_results(tmp_path / "o")
    frame = reports_to_frame(reports)
    assert [c["name"] for c in row_columns(reports[0].tables)] == list(frame.columns)
    shared = [c for c in batch.columns if c in frame.columns]
    assert shared == list(frame.columns)  # the batch adds only the input's own columns
    assert [str(batch[c].dtype) for c in shared] == [str(frame[c].dtype) for c in shared]
    factor_cols = [c for c in shared if c.startswith("xyp_")]
    pd.testing.assert_frame_equal(batch[factor_cols], frame[factor_cols])
    assert list(batch["effective"]) == list(frame["effective"])
    assert reports[0].to_row()["xyp_cpl0001_high"] == frame.loc[0, "xyp_cpl0001_high"] or (
        pd.isna(frame.loc[0, "xyp_cpl0001_high"])
    )


def test_toad_quality_runs_on_the_output_as_it_is(tmp_path: Path) -> None:
    toad = pytest.importorskip("toad")
    with Sandbox(providers=["tianyuan"], options={"tianyuan": {"balance": None}}) as sb:
        rows = _sample(150, 0)
        src = write_csv(tmp_path / "in.csv", rows)
        run_batch(src, "tianyuan.multi_lending", tmp_path / "o", consent=CONSENT, sandbox=sb,
                  rate=0, concurrency=4)  # fmt: skip
    frame = pd.read_csv(tmp_path / "o" / "results.csv")  # no dtype fixing, no dropping
    quality = toad.quality(frame, target="bad", indicators=["iv"], cpu_cores=1)
    assert "xyp_cpl0001" in quality.index
    assert "xyp_cpl0001_high" in quality.index
    assert quality["iv"].notna().all()
