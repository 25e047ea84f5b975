"""The statistics agree with outside implementations on the same frame: toad (IV, KS, AUC) and
scikit-learn (AUC), like with like.

How toad computes IV (toad/stats.py, 0.1.x): ``_IV`` loops over the distinct values of the
feature; for each, ``probability`` counts bads and goods with ``np_count(..., default=1)`` (a
cell with zero bads or zero goods is counted as one) and sums ``(pb - pg) * ln(pb / pg)``. A
numeric feature with more than 10 distinct values is first re-binned by a decision tree
(``merge(method='dt')``). So we compare:

- bucket factors: toad's IV on the bucket codes with "no record" as its own value (a sentinel,
  since toad's ``feature == v`` never matches NaN) = our ``iv``; on present rows only = our
  ``iv_present``;
- numeric factors: toad's ``_IV`` on *our* quantile bins = our ``iv`` (toad's own tree binning
  is a different binning, not a different formula);
- KS: ``toad.metrics.KS`` (``scipy.stats.ks_2samp``) over present rows = our ``ks``;
- AUC: ``toad.metrics.AUC`` (sklearn's ``roc_auc_score``, with toad's flip of scores > 1) and
  ``roc_auc_score`` itself, oriented = our ``auc``.

Tolerance: 1e-9 absolute (same formulas, floating-point order only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

toad = pytest.importorskip("toad")
from sklearn.metrics import roc_auc_score  # noqa: E402

from creditsdk.evaluate import Bucket, FactorSpec, evaluate_frame  # noqa: E402

TOL = 1e-9


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 6000
    r = rng.standard_normal(n)
    bad = (rng.random(n) < 1 / (1 + np.exp(-(-2.2 + 0.9 * r)))).astype(int)
    out = {"bad": bad}
    for i, strength in enumerate([1.0, 0.5, 0.0]):
        latent = strength * r + rng.standard_normal(n)
        codes = np.digitize(latent, [-1.5, -0.5, 0.5, 1.5]).astype(float) + 1
        codes[rng.random(n) < 0.25] = np.nan
        out[f"b{i}"] = codes
    # a bucket that never has a bad (exercises the zero-cell rule)
    rare = np.where(bad == 0, np.where(rng.random(n) < 0.01, 9.0, 1.0), 1.0)
    out["rare"] = rare
    score = np.round(600 - 60 * (r + rng.standard_normal(n)))
    score[rng.random(n) < 0.3] = np.nan
    out["score"] = score
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    specs = [
        FactorSpec(
            name=f"b{i}",
            column=f"b{i}",
            kind="count_bucket",
            buckets=tuple(Bucket(code=c) for c in range(1, 6)),
        )
        for i in range(3)
    ]
    specs.append(FactorSpec(name="rare", column="rare", kind="dictionary"))
    specs.append(FactorSpec(name="score", column="score", kind="model_score"))
    return evaluate_frame(frame, specs, target="bad", chance_shuffles=50, seed=1)


def _row(result, name):  # type: ignore[no-untyped-def]
    return result.factors.set_index("factor").loc[name]


@pytest.mark.parametrize("name", ["b0", "b1", "b2", "rare"])
def test_iv_matches_toad_for_bucket_factors(frame: pd.DataFrame, result, name: str) -> None:  # type: ignore[no-untyped-def]
    feature = frame[name].fillna(-1)  # "no record" as its own value
    expected = toad.stats.IV(feature, frame["bad"])
    assert abs(_row(result, name)["iv"] - expected) < TOL
    present = frame[name].notna()
    expected_present = toad.stats.IV(frame.loc[present, name], frame.loc[present, "bad"])
    assert abs(_row(result, name)["iv_present"] - expected_present) < TOL


def test_per_bin_iv_and_woe_match_toad(frame: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    _, sub = toad.stats.IV(frame["b0"].fillna(-1), frame["bad"], return_sub=True)
    bins = result.bins[result.bins["factor"] == "b0"].set_index("bin")
    ours = {(-1.0 if j == 0 else float(bins.loc[j, "code"])): bins.loc[j, "iv"] for j in bins.index}
    for value, iv in sub.items():
        assert abs(ours[float(value)] - iv) < TOL
    assert abs(bins["iv_share"].sum() - 1) < TOL


def test_numeric_iv_matches_toad_on_the_same_bins(frame: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    binned = result._engine.binned["score"]
    assert binned.method == "quantiles"
    expected, _ = toad.stats._IV(binned.bins.astype(int), frame["bad"].to_numpy())
    assert abs(_row(result, "score")["iv"] - expected) < TOL


@pytest.mark.parametrize("name", ["b0", "b1", "b2", "score"])
def test_ks_and_auc_match_toad_and_sklearn(frame: pd.DataFrame, result, name: str) -> None:  # type: ignore[no-untyped-def]
    present = frame[name].notna()
    x = frame.loc[present, name].to_numpy()
    y = frame.loc[present, "bad"].to_numpy()
    row = _row(result, name)
    assert abs(row["ks"] - toad.metrics.KS(x, y)) < TOL
    auc_sk = roc_auc_score(y, x)
    assert abs(row["auc"] - max(auc_sk, 1 - auc_sk)) < TOL
    auc_toad = toad.metrics.AUC(x, y)
    assert abs(row["auc"] - max(auc_toad, 1 - auc_toad)) < TOL
    assert row["direction"] == ("higher is riskier" if auc_sk > 0.5 else "lower is riskier")


def test_directions_found(result) -> None:  # type: ignore[no-untyped-def]
    assert _row(result, "b0")["direction"] == "higher is riskier"
    assert _row(result, "score")["direction"] == "lower is riskier"  # low score = risky


def test_delong_interval_matches_a_bootstrap(frame: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    present = frame["b0"].notna()
    x = frame.loc[present, "b0"].to_numpy()
    y = frame.loc[present, "bad"].to_numpy()
    rng = np.random.default_rng(7)
    boots = []
    for _ in range(200):
        i = rng.integers(0, x.size, x.size)
        boots.append(roc_auc_score(y[i], x[i]))
    se_boot = float(np.std(boots))
    row = _row(result, "b0")
    se_delong = (row["auc_ci_high"] - row["auc_ci_low"]) / (2 * 1.959963984540054)
    assert se_delong == pytest.approx(se_boot, rel=0.2)
    assert row["auc_ci_low"] < row["auc"] < row["auc_ci_high"]
