"""The value types: imports run one way (models -> factors -> _values), bucket tables are
immutable and the shared empty tables never grow, and the named report properties are typed."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import BucketTables, Factor, MultiLendingReport, Range

ROOT = Path(__file__).resolve().parents[2]


def _imports(module: str) -> set[str]:
    """Sibling modules ``module`` imports, at the top or inside functions."""
    path = ROOT / "src" / "creditsdk" / "tianyuan" / f"{module}.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [a.name for a in node.names])
    return found


def test_imports_run_one_way() -> None:
    # Before: factors imported models at the top, and models imported factors in functions.
    assert _imports("_values") == set()
    assert _imports("factors") == {"_values"}
    assert {"_values", "factors"} <= _imports("models")
    assert "_protocol" not in _imports("models") | _imports("factors")
    import creditsdk.tianyuan.factors as factors

    assert factors.Range.__module__ == factors.Factor.__module__ == "creditsdk.tianyuan._values"


def _payloads(n: int) -> list[dict[str, str]]:
    # Distinct scores and bucket codes nobody primed: what many applicants send.
    return [
        {"xyp_model_score_mid": str(400 + i), "xyp_cpl0001": str(i % 7 + 1), f"xyp_new{i}": "3"}
        for i in range(n)
    ]


def test_the_shared_empty_tables_never_grow() -> None:
    empty = BucketTables.empty()
    assert BucketTables.empty() is empty
    before = {code: dict(per) for code, per in empty._cache.items()}
    for raw in _payloads(300):
        report = MultiLendingReport.from_factors(raw)  # no tables: the shared empty ones
        assert report.instalment_score.value == int(raw["xyp_model_score_mid"])
        assert report.total_institutions.status == "no_table"
    assert {code: dict(per) for code, per in empty._cache.items()} == before


def test_a_client_without_tables_does_not_feed_the_shared_ones() -> None:
    empty = BucketTables.empty()
    size = empty._cached
    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    consent = Consent(reference="A1", purpose="credit_underwriting", granted_at=__import__(
        "datetime").datetime(2026, 11, 1))  # fmt: skip
    with Sandbox(providers=["tianyuan"], seed=1) as sb, sb.tianyuan_client() as ty:
        assert ty.bucket_tables is not empty
        assert not ty.bucket_tables.tables
        ty.multi_lending(applicant, consent=consent)
    assert empty._cached == size


def test_bucket_tables_are_immutable() -> None:
    given = {"xyp_cpl0001": {"1": Range(0, 9, "()")}}
    tables = BucketTables(given, name="contract")
    given["xyp_cpl0001"]["2"] = Range(9, 20, "[)")  # the caller's dict is copied
    assert set(tables.tables["xyp_cpl0001"]) == {"1"}
    with pytest.raises(TypeError):
        tables.tables["xyp_cpl0002"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        tables.tables["xyp_cpl0001"]["3"] = Range(1, 2, "()")  # type: ignore[index]
    for name in ("name", "source", "tables", "_cache"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(tables, name, None)
    with pytest.raises(AttributeError, match="immutable"):
        del tables.name
    empty = BucketTables.empty()
    with pytest.raises(TypeError):
        empty.tables["xyp_cpl0001"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        empty.name = "mine"  # type: ignore[misc]
    assert not empty.tables
    assert empty.name is None


def test_named_properties_return_factors_at_runtime() -> None:
    report = MultiLendingReport.from_factors({"xyp_cpl0001": "1"})
    assert isinstance(report.total_institutions, Factor)
    assert report.total_institutions.code == "xyp_cpl0001"
    assert report.currently_overdue.status == "absent"
    doc = MultiLendingReport.total_institutions.__doc__ or ""
    assert doc.startswith("``xyp_cpl0001``")


@pytest.mark.slow
def test_named_properties_are_typed_for_mypy(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "use_report.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from creditsdk.tianyuan import MultiLendingReport

            def score(report: MultiLendingReport) -> int:
                reveal_type(report.total_institutions)
                return report.small_loan_score.valeu
            """
        ),
        encoding="utf-8",
    )
    out, _err, _status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(ROOT / ".mypy_cache"), str(snippet)]
    )
    assert 'Revealed type is "creditsdk.tianyuan._values.Factor"' in out, out
    # A typo is caught: on an untyped property it was Any and passed silently.
    assert '"Factor" has no attribute "valeu"' in out, out
