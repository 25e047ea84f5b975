"""Evaluating run directories in the batch-output contract's shape (written by _fixture)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditsdk.batch import Price
from creditsdk.errors import ConfigurationError
from creditsdk.evaluate import Evaluation, evaluate

from . import _fixture as fx

N = 8000


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return fx.applicants(N, seed=3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, people: pd.DataFrame) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    ty = fx.write_run(
        root / "ty",
        people,
        statuses={"invalid": 40, "maybe_billed": 6, "error": 9},
        prices={"per_call": "0.80", "per_hit": None},
        seed=11,
    )
    fe = fx.write_run(
        root / "fe",
        people,
        operation="fireeye.model_score",
        provider="fireeye",
        prefix="fe_",
        n_signal=1,
        n_noise=2,
        fmt="parquet",
        seed=12,
        hit_rate=0.6,
    )
    return ty, fe


@pytest.fixture(scope="module")
def ev(runs: tuple[Path, Path]) -> Evaluation:
    return evaluate(
        list(runs),
        target="bad",
        time_col="apply_month",
        baselines=["internal_score"],
        prices={"fireeye.model_score": Price("fireeye.model_score", per_hit=Decimal("1.20")),
                "tianyuan.multi_lending": Price("tianyuan.multi_lending",
                                                per_call=Decimal("0.80"))},
        chance_shuffles=100,
        seed=0,
    )  # fmt: skip


def test_excludes_invalid_maybe_billed_and_error_rows_and_counts_them(ev: Evaluation) -> None:
    assert ev.excluded == {"ty: invalid": 40, "ty: maybe_billed": 6, "ty: error": 9}
    assert ev.rows == N - 55
    assert ev.bads == int(fx.applicants(N, seed=3)["bad"].iloc[: N - 55].sum())


def test_hit_rates_and_cost_per_provider(ev: Evaluation, runs: tuple[Path, Path]) -> None:
    s = ev.summary.set_index("source")
    ty = pd.read_csv(runs[0] / "results.csv").iloc[: N - 55]
    fe = pd.read_parquet(runs[1] / "results.parquet").iloc[: N - 55]
    n = N - 55
    assert s.loc["ty", "billed"] == n  # every answered row is billed
    assert s.loc["ty", "returned"] == int(ty["returned"].sum())
    assert s.loc["ty", "effective"] == int(ty["effective"].sum())
    assert s.loc["ty", "returned_rate"] == pytest.approx(ty["returned"].mean())
    assert s.loc["fe", "effective_rate"] == pytest.approx(fe["effective"].mean())
    # per-call contract: cost = 0.80 x billed
    assert s.loc["ty", "cost"] == pytest.approx(0.8 * n)
    assert s.loc["ty", "cost_per_call"] == pytest.approx(0.8)
    assert s.loc["ty", "cost_per_hit"] == pytest.approx(0.8 * n / ty["returned"].sum())
    assert s.loc["ty", "cost_per_effective_hit"] == pytest.approx(0.8 * n / ty["effective"].sum())
    # per-hit contract: cost = 1.20 x returned
    assert s.loc["fe", "cost"] == pytest.approx(1.2 * fe["returned"].sum())
    assert s.loc["fe", "cost_per_hit"] == pytest.approx(1.2)
    # extra effective hits over the baseline: rows the internal score does not cover
    uncovered = ty["internal_score"].isna().to_numpy()
    extra = int((ty["effective"].to_numpy() == 1)[uncovered].sum())
    assert s.loc["ty", "extra_effective_over_baselines"] == extra
    assert s.loc["ty", "cost_per_extra_hit"] == pytest.approx(0.8 * n / extra)
    # combined coverage and overlap
    both = (ty["effective"].to_numpy() == 1) & (fe["effective"].to_numpy() == 1)
    either = (ty["effective"].to_numpy() == 1) | (fe["effective"].to_numpy() == 1)
    assert s.loc["combined", "effective_rate"] == pytest.approx(either.mean())
    assert ev.overlap.loc["ty", "fe"] == pytest.approx(both.mean())


def test_signal_factors_clear_the_chance_band_and_noise_stays_within(ev: Evaluation) -> None:
    f = ev.factors.set_index("factor")
    signal = [c for c in f.index if "sig_" in c or c.endswith("model_score") or "flag" in c]
    noise = [c for c in f.index if "noise_" in c]
    assert len(signal) == 9
    assert len(noise) == 22
    for c in signal:
        assert f.loc[c, "iv"] > 3 * f.loc[c, "iv_chance95"], c
        assert not f.loc[c, "iv_within_chance"], c
        assert f.loc[c, "auc_ci_low"] > 0.5, c
    within = f.loc[noise, "iv_within_chance"].astype(bool)
    # 95th percentile band: about 1 in 20 noise factors lands above it by chance
    assert within.mean() >= 0.85, f.loc[noise, ["iv", "iv_chance95"]]
    assert any("within chance" in w for w in ev.warnings)


def test_bucket_factors_keep_the_provider_buckets(ev: Evaluation) -> None:
    b = ev.bins[ev.bins["factor"] == "sig_000"].set_index("bin")
    assert list(b.index) == list(range(7))  # no record + the table's 6 buckets, in order
    assert b.loc[0, "label"] == "no record"
    assert list(b.loc[1:, "code"]) == [1, 2, 3, 4, 5, 6]
    assert b.loc[1, "label"] == "(0, 9]"
    assert b.loc[6, "high"] == math.inf
    assert b.loc[3, "label"] == "(19, 29]"  # built from the ends when the table has no label
    assert b["count"].sum() == ev.rows
    assert b["iv_share"].sum() == pytest.approx(1.0)
    f = ev.factors.set_index("factor")
    assert f.loc["sig_000", "binning"] == "provider buckets"
    assert f.loc["sig_000", "monotonic"] == "increasing"
    assert f.loc["fe_model_score", "binning"] == "quantiles"
    # a bad rate rising bucket by bucket
    rates = b.loc[1:, "bad_rate"].to_numpy()
    assert np.all(np.diff(rates) > 0)


def test_psi_per_slice_and_baseline_columns(ev: Evaluation) -> None:
    f = ev.factors.set_index("factor")
    for col in ("psi_2026-01", "psi_2026-02", "psi_2026-03", "psi_max"):
        assert col in f.columns
    assert (f["psi_2026-01"] == 0).all()
    assert (f["psi_max"] < 0.05).all()  # same population every month
    assert f.loc["sig_000", "corr_internal_score"] < -0.2  # riskier bucket, lower score
    assert abs(f.loc["noise_010", "corr_internal_score"]) < 0.1
    assert f.loc["sig_000", "auc_gain_internal_score"] > 0.005
    assert abs(f.loc["noise_010", "auc_gain_internal_score"]) < 0.005


def test_personal_columns_are_never_read_nor_written(
    ev: Evaluation, runs: tuple[Path, Path], tmp_path: Path
) -> None:
    ev.save(tmp_path)
    for name in ("factors.csv", "bins.csv", "summary.csv", "report.html"):
        text = (tmp_path / name).read_text("utf-8")
        assert "11010519491231002X" not in text
        assert "id_card" not in text
    with pytest.raises(ConfigurationError, match="personal"):
        evaluate(list(runs), target="bad", baselines=["id_card"])


def test_raw_factors_are_skipped_and_counted(ev: Evaluation) -> None:
    assert "mystery_raw" not in set(ev.factors["factor"])
    assert ev.summary.set_index("source").loc["ty", "factors_skipped_raw"] == 1


def test_clear_errors(runs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a passthrough"):
        evaluate(runs[0], target="nope")
    with pytest.raises(ConfigurationError, match=r"schema\.json"):
        evaluate(tmp_path, target="bad")
    bad_schema = tmp_path / "run"
    bad_schema.mkdir()
    (bad_schema / "schema.json").write_text(json.dumps({"schema_version": 2}), "utf-8")
    with pytest.raises(ConfigurationError, match="schema_version"):
        evaluate(bad_schema, target="bad")


def test_target_must_be_zero_one(tmp_path: Path, people: pd.DataFrame) -> None:
    odd = people.copy()
    odd.loc[0, "bad"] = 2
    run = fx.write_run(tmp_path / "odd", odd, n_signal=1, n_noise=1)
    with pytest.raises(ConfigurationError, match="0/1"):
        evaluate(run, target="bad")


def test_same_codes_in_two_runs_are_told_apart(tmp_path: Path, people: pd.DataFrame) -> None:
    a = fx.write_run(tmp_path / "a", people.iloc[:2000], n_signal=1, n_noise=1)
    b = fx.write_run(tmp_path / "b", people.iloc[:2000], n_signal=1, n_noise=1, seed=4)
    ev = evaluate([a, b], target="bad", chance_shuffles=20)
    assert {"a:sig_000", "b:sig_000"} <= set(ev.factors["factor"])


def test_prices_default_to_the_runs_summary(runs: tuple[Path, Path]) -> None:
    ev = evaluate(runs[0], target="bad", chance_shuffles=10)
    s = ev.summary.set_index("source")
    assert s.loc["ty", "cost_per_call"] == pytest.approx(0.8)
    assert s.loc["ty", "currency"] == "CNY"


def test_repr_html_is_a_fragment(ev: Evaluation) -> None:
    frag = ev._repr_html_()
    assert "<html" not in frag
    assert "Top factors" in frag
    assert "<svg" in frag


def test_passthrough_columns_as_factors_and_dates_sliced_by_month(
    tmp_path: Path, people: pd.DataFrame
) -> None:
    p = people.iloc[:3000].copy()
    rng = np.random.default_rng(5)
    p["apply_month"] = pd.to_datetime("2026-01-01") + pd.to_timedelta(
        rng.integers(0, 90, len(p)), unit="D"
    )
    p["apply_month"] = p["apply_month"].dt.strftime("%Y-%m-%d")  # a date: PSI slices by month
    p["internal_score"] = rng.random(len(p))  # pure noise, evaluated as a factor
    run = fx.write_run(tmp_path / "r", p, n_signal=1, n_noise=1)
    ev = evaluate(run, target="bad", time_col="apply_month", columns=["internal_score"],
                  chance_shuffles=100)  # fmt: skip
    f = ev.factors.set_index("factor")
    assert f.loc["internal_score", "source"] == "input"
    assert f.loc["internal_score", "binning"] == "quantiles"
    assert bool(f.loc["internal_score", "iv_within_chance"])
    assert {"psi_2026-01", "psi_2026-02", "psi_2026-03"} <= set(f.columns)


def test_a_factor_of_another_run_as_baseline(runs: tuple[Path, Path]) -> None:
    ev = evaluate(list(runs), target="bad", baselines=["fe_model_score"], chance_shuffles=20)
    f = ev.factors.set_index("factor")
    assert f.loc["model_score", "corr_fe_model_score"] > 0.3  # two views of the same risk
    s = ev.summary.set_index("source")
    assert s.loc["ty", "extra_effective_over_baselines"] > 0
    assert pd.isna(s.loc["fe", "extra_effective_over_baselines"])  # the baseline's own source
