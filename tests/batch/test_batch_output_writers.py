"""The output writers' shortcuts against the plain conversions they replace.

The CSV and Parquet writers take a cell that already has its column's type without the general
conversion, build Parquet columns from the cells a row has (not one lookup per column), write
Parquet in large row groups, and the schema's scan of input columns never unpacks a result.
Each is checked here against the straightforward version: same text, same values, same file
content as pandas and pyarrow read it.
"""

from __future__ import annotations

import csv
import math
import sqlite3
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsdk.batch import RunLedger
from creditsdk.batch._ledger import _Write
from creditsdk.batch._output import (
    _arrow_converter,
    _arrow_value,
    _csv_cell,
    _csv_formatter,
    make_schema,
    scan_inputs,
    write_output,
)
from creditsdk.batch._schema import DTYPES, Column, FactorLayout

VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["", " 7 ", "1e3", "nan", "-inf", "true", "0", "1.5", "x"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None)
@given(dtype=st.sampled_from(sorted(DTYPES)), value=VALUES)
def test_csv_formatter_gives_the_text_of_csv_cell(dtype: str, value: Any) -> None:
    assert _same(_csv_formatter(dtype)(value), _csv_cell(value, dtype))


@settings(max_examples=400, deadline=None)
@given(dtype=st.sampled_from(sorted(DTYPES)), value=VALUES)
def test_arrow_converter_gives_the_value_of_arrow_value(dtype: str, value: Any) -> None:
    assert _same(_arrow_converter(dtype)(value), _arrow_value(value, dtype))


def test_the_shortcuts_cover_the_edge_floats_and_subclasses() -> None:
    class Cents(float):
        pass

    class Count(int):
        pass

    for value in (-0.0, 1e-320, 1.7976931348623157e308, float("inf"), float("-inf"), Cents(2.5)):
        assert _csv_formatter("float64")(value) == _csv_cell(value, "float64")
    assert _csv_formatter("float64")(float("nan")) == ""
    assert _arrow_converter("float64")(float("nan")) is None
    assert _csv_formatter("Int64")(True) == "1" == _csv_cell(True, "Int64")
    # an infinite float in an integer column is an empty cell (it used to kill the whole file)
    assert _csv_formatter("Int64")(float("inf")) == "" == _csv_cell(float("-inf"), "Int8")
    assert _arrow_converter("Int64")(float("inf")) is None
    assert _csv_formatter("Int64")(Count(3)) == "3"
    assert _csv_formatter("string")(Decimal("1.10")) == _csv_cell(Decimal("1.10"), "string")


WIDTH = 400


def _layout() -> FactorLayout:
    dtypes = ("float64", "Int64", "string", "boolean", "Int8")
    return FactorLayout(
        columns=tuple(
            Column(f"f{i:04d}", dtypes[i % len(dtypes)], "factor", f"f{i:04d}", "value")
            for i in range(WIDTH)
        )
    )


def _cells(row_no: int) -> dict[str, Any]:
    """A sparse row with cells of every kind, some not of their column's type."""
    out: dict[str, Any] = {"effective": row_no % 3 != 0}
    for i in range(row_no % 7, WIDTH, 4):
        kind = i % 5
        if kind == 0:
            out[f"f{i:04d}"] = [0.5 * row_no, float("nan"), "2.25", float("inf")][row_no % 4]
        elif kind == 1:
            out[f"f{i:04d}"] = [row_no, str(row_no), True][row_no % 3]
        elif kind == 2:
            out[f"f{i:04d}"] = [f"s{row_no}", 7, "风险"][row_no % 3]
        elif kind == 3:
            out[f"f{i:04d}"] = [True, "false", 1][row_no % 3]
        else:
            out[f"f{i:04d}"] = row_no % 2
    out["not_in_the_schema"] = "dropped"
    return out


def _ledger(tmp_path: Path, rows: int) -> RunLedger:
    ledger = RunLedger(tmp_path / "ledger.sqlite", durable=False)
    ledger.bind("demo.score")
    ledger.apply(
        [
            _Write(
                row_no=n,
                fingerprint=f"fp{n}",
                state="done",
                status="hit" if n % 5 else "no_data",
                transaction_id=f"T{n}",
                keys={"applicant_id": f"A{n:05d}", "segment": str(n % 3)},
                result=_cells(n),
            )
            for n in range(1, rows + 1)
        ]
    )
    return ledger


def _schema(ledger: RunLedger) -> Any:
    return make_schema(
        ledger,
        operation="demo.score",
        provider="demo",
        layout=_layout(),
        personal=frozenset(),
        key_columns=("applicant_id",),
    )


def test_parquet_is_written_in_few_large_row_groups_with_the_plain_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import creditsdk.batch._output as output

    # groups of at most 1,200 rows here (the real cap, 100,000, would need a big file to show)
    monkeypatch.setattr(output, "_ROW_GROUP_ROWS", 1_200)
    rows = 3_000
    ledger = _ledger(tmp_path, rows)
    schema = _schema(ledger)
    path = tmp_path / "out.parquet"
    tally: dict[str, int] = {}
    assert write_output(ledger, str(path), "parquet", schema, tally=tally) == rows
    meta = pq.ParquetFile(path).metadata
    chunk = 200_000 // len(schema.columns)  # rows converted at a time: 486 at this width
    per_group = math.ceil(1_200 / chunk) * chunk  # whole chunks until the group is full
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        per_group,
        per_group,
        rows - 2 * per_group,
    ]  # one group per chunk would be 7
    # The plain conversion: every column looked up in every row.
    from creditsdk.batch._output import _flat

    flats = [_flat(r) for r in ledger.rows()]
    reference = pa.Table.from_pydict(
        {c.name: [_arrow_value(f.get(c.name), c.dtype) for f in flats] for c in schema.columns},
        schema=pq.read_schema(path),
    )
    assert pq.read_table(path).equals(reference)
    assert tally["effective"] == sum(1 for f in flats if f["effective"])
    ledger.close()


def test_csv_cells_are_the_plain_conversion(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, 300)
    schema = _schema(ledger)
    path = tmp_path / "out.csv"
    write_output(ledger, str(path), "csv", schema)
    from creditsdk.batch._output import _flat

    with open(path, encoding="utf-8", newline="") as fh:
        got = list(csv.reader(fh))
    assert got[0] == schema.names
    for flat, line in zip((_flat(r) for r in ledger.rows()), got[1:], strict=True):
        assert line == [
            "" if flat.get(c.name) is None else str(_csv_cell(flat[c.name], c.dtype))
            for c in schema.columns
        ]
    ledger.close()


def test_the_input_scan_never_reads_a_result(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, 20)
    with sqlite3.connect(ledger.path) as conn:  # a result no one could unpack
        conn.execute("UPDATE rows SET result=? WHERE row_no=7", (b"not zlib",))
    with pytest.raises(zlib.error):
        list(ledger.rows())
    rows = list(ledger.rows(results=False))
    assert [r.row_no for r in rows] == list(range(1, 21))
    assert all(r.result == {} for r in rows)
    assert rows[6].keys == {"applicant_id": "A00007", "segment": "1"}
    names, kinds = scan_inputs(ledger)
    assert names == ["applicant_id", "segment"]
    assert kinds["segment"] == {"int"}
    ledger.close()
