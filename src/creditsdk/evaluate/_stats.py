"""The statistics core: a plain frame + factor metadata in, per-factor and per-bin tables out.

Independent of how the frame was read (run directories, a user's own DataFrame). Everything is
computed from integer bin indices with ``numpy.bincount``, so ~360 factors over 100,000 rows
cost a few seconds, chance levels (shuffled labels) included.

Conventions (docs/evaluate.md explains each column):

- bin 0 of every factor is "no record" (null code / flag / score, or a score that was not hit);
  bins 1..k follow the provider's bucket order (bucket factors are never re-binned).
- WoE of a bin is ``ln(share of bads / share of goods)``; a bin with no bads (or no goods) is
  counted as having one, exactly as ``toad.stats.IV`` does, so the numbers compare with toad's.
- KS and AUC are computed over rows *with* a value, ordered by the value (bucket order for bucket
  factors); the direction found says which end is riskier. AUC's 95 % interval is DeLong's.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ._spec import FactorSpec

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: factor kinds whose column holds a bucket code (an ordinal integer)
BUCKET_KINDS = frozenset({"count_bucket", "amount_bucket", "dictionary", "unknown"})
#: kinds whose column holds a number that is binned by quantiles when it has many values
NUMERIC_KINDS = frozenset({"model_score", "ratio_score", "value", "score"})

_Z95 = 1.959963984540054


@attrs.frozen(slots=True)
class BinInfo:
    code: float | None  # bucket code / flag value; None for "no record" and quantile bins
    label: str
    low: float | None
    high: float | None
    low_closed: bool
    high_closed: bool
    in_table: bool


@attrs.define(slots=True)
class Binned:
    """One factor turned into bin indices (0 = no record) plus what each bin means."""

    spec: FactorSpec
    bins: npt.NDArray[np.int16]
    info: list[BinInfo]
    method: str  # "provider buckets", "codes (no table)", "flag", "distinct values", "quantiles"
    ordinal: IntArray | None = None  # exact value order (numeric factors), 0 = no record


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:g}"


def _interval(low: float | None, high: float | None, lc: bool, hc: bool) -> str:
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    return f"{'[' if lc else '('}{_fmt(lo)}, {_fmt(hi)}{']' if hc else ')'}"


def bin_factor(spec: FactorSpec, values: Any, *, quantile_bins: int = 10) -> Binned:
    """Bin one factor column (a pandas Series or array; nulls are "no record")."""
    arr = np.asarray(_as_float(values), dtype=np.float64)
    present = ~np.isnan(arr)
    no_record = BinInfo(None, "no record", None, None, False, False, True)
    if spec.kind in NUMERIC_KINDS:
        return _bin_numeric(spec, arr, present, no_record, quantile_bins)
    observed = np.unique(arr[present]).astype(np.int64)
    table = {b.code: b for b in spec.buckets}
    if spec.kind == "flag":
        codes = sorted(set(observed.tolist()) | {0, 1})
        method = "flag"
    else:
        codes = sorted(set(observed.tolist()) | set(table))
        method = "provider buckets" if table else "codes (no table)"
    info = [no_record]
    for c in codes:
        b = table.get(c)
        if b is not None:
            lo = -math.inf if b.low is None else b.low
            hi = math.inf if b.high is None else b.high
            label = b.label or _interval(lo, hi, b.low_closed, b.high_closed)
            info.append(BinInfo(c, label, lo, hi, b.low_closed, b.high_closed, True))
        else:
            label = f"code {c}" + ("" if spec.kind == "flag" or not table else " (not in table)")
            info.append(BinInfo(c, label, None, None, False, False, spec.kind == "flag"))
    idx = np.zeros(arr.shape, dtype=np.int16)
    if codes:
        sorted_codes = np.asarray(codes, dtype=np.float64)
        idx[present] = (np.searchsorted(sorted_codes, arr[present]) + 1).astype(np.int16)
    return Binned(spec, idx, info, method)


def _as_float(values: Any) -> Any:
    to_numpy = getattr(values, "to_numpy", None)
    if to_numpy is not None:
        try:
            return to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            return to_numpy(dtype="float64")
    return values


def _bin_numeric(
    spec: FactorSpec, arr: FloatArray, present: npt.NDArray[np.bool_], no_record: BinInfo, q: int
) -> Binned:
    vals = arr[present]
    uniq, inv = np.unique(vals, return_inverse=True)
    ordinal = np.zeros(arr.shape, dtype=np.int64)
    ordinal[present] = inv + 1
    info = [no_record]
    idx = np.zeros(arr.shape, dtype=np.int16)
    if uniq.size <= q:
        for u in uniq.tolist():
            info.append(BinInfo(u, _fmt(u), u, u, True, True, False))
        idx[present] = (inv + 1).astype(np.int16)
        return Binned(spec, idx, info, "distinct values", ordinal)
    edges = np.unique(np.quantile(vals, np.linspace(0, 1, q + 1)[1:-1]))
    # bins [e_{i-1}, e_i): right=False puts a value equal to an edge in the upper bin
    inner = np.searchsorted(edges, vals, side="right")
    ends = [-math.inf, *edges.tolist(), math.inf]
    for i in range(len(ends) - 1):
        lo, hi = ends[i], ends[i + 1]
        info.append(BinInfo(None, _interval(lo, hi, True, False), lo, hi, True, False, False))
    idx[present] = (inner + 1).astype(np.int16)
    return Binned(spec, idx, info, "quantiles", ordinal)


# -- per-bin statistics ---------------------------------------------------------------------


def woe_iv(bad: FloatArray, good: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WoE and IV contribution of each bin (last axis); zero cells count as one (toad's rule).

    Works on (..., K) arrays, e.g. (shuffles, K). Bins with no rows contribute nothing.
    """
    nb = np.maximum(bad.sum(axis=-1, keepdims=True), 1.0)
    ng = np.maximum(good.sum(axis=-1, keepdims=True), 1.0)
    empty = (bad + good) == 0
    pb = np.where(bad == 0, 1.0, bad) / nb
    pg = np.where(good == 0, 1.0, good) / ng
    woe = np.log(pb / pg)
    iv = np.where(empty, 0.0, (pb - pg) * woe)
    woe = np.where(empty, np.nan, woe)
    return woe, iv


def auc_ks_from_counts(bad: FloatArray, good: FloatArray) -> tuple[float, float, float, float]:
    """AUC (P(bad ranks above good), ties half), its DeLong variance, KS, and the n of bads,
    from per-value counts ordered by the value (exact, ties included)."""
    nb = float(bad.sum())
    ng = float(good.sum())
    if nb == 0 or ng == 0:
        return math.nan, math.nan, math.nan, nb
    g_below = np.cumsum(good) - good
    b_above = nb - np.cumsum(bad)
    v10 = (g_below + 0.5 * good) / ng  # for a bad with this value
    v01 = (b_above + 0.5 * bad) / nb  # for a good with this value
    auc = float((bad * v10).sum() / nb)
    s10 = float((bad * (v10 - auc) ** 2).sum() / max(nb - 1, 1))
    s01 = float((good * (v01 - auc) ** 2).sum() / max(ng - 1, 1))
    var = s10 / nb + s01 / ng
    ks = float(np.max(np.abs(np.cumsum(bad) / nb - np.cumsum(good) / ng)))
    return auc, var, ks, nb


def rank_auc(score: FloatArray, y: npt.NDArray[np.int8]) -> float:
    """AUC of a continuous score (P(bad > good), ties half)."""
    _, inv = np.unique(score, return_inverse=True)
    bad = np.bincount(inv, weights=y, minlength=int(inv.max()) + 1).astype(np.float64)
    tot = np.bincount(inv, minlength=int(inv.max()) + 1).astype(np.float64)
    return auc_ks_from_counts(bad, tot - bad)[0]


def spearman_from_ordinals(
    a: IntArray, b: IntArray, mask: npt.NDArray[np.bool_]
) -> tuple[float, int]:
    """Spearman's rho of two ordinal codes (ties averaged) over the rows in ``mask``."""
    n = int(mask.sum())
    if n < 3:
        return math.nan, n
    ra = _avg_ranks(a[mask])
    rb = _avg_ranks(b[mask])
    sa = ra.std()
    sb = rb.std()
    if sa == 0 or sb == 0:
        return math.nan, n
    return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sa * sb)), n


def _avg_ranks(codes: IntArray) -> FloatArray:
    cnt = np.bincount(codes).astype(np.float64)
    start = np.cumsum(cnt) - cnt
    avg = start + (cnt + 1) / 2
    out: FloatArray = avg[codes]
    return out


def logistic_fit(x: FloatArray, y: FloatArray, iters: int = 25) -> FloatArray:
    """Maximum-likelihood logistic regression (Newton / IRLS) with an intercept; x is (n, p)."""
    n, p = x.shape
    X = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(p + 1)
    ridge = 1e-6 * np.eye(p + 1)
    for _ in range(iters):
        eta = X @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1.0 - mu)
        grad = X.T @ (y - mu)
        hess = (X * w[:, None]).T @ X + ridge
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def psi(counts: FloatArray, base: FloatArray) -> FloatArray:
    """PSI of each row of ``counts`` against ``base`` (bins on the last axis); a zero count is
    counted as 0.5 so an empty bin gives a large but finite term."""
    c = np.where(counts == 0, 0.5, counts)
    b = np.where(base == 0, 0.5, base)
    pc = c / c.sum(axis=-1, keepdims=True)
    pb = b / b.sum(axis=-1, keepdims=True)
    out: FloatArray = ((pc - pb) * np.log(pc / pb)).sum(axis=-1)
    return out


def monotonicity(bad_rate: FloatArray, count: FloatArray, min_count: float) -> tuple[str, float]:
    """Over bins with at least ``min_count`` rows, in order: 'increasing' / 'decreasing' (bad
    rate never goes the other way), 'flat' (one bin or constant), else 'not monotonic'; plus
    Spearman's rho between the bin order and the bad rate."""
    keep = count >= min_count
    rates = bad_rate[keep]
    if rates.size < 2:
        return "flat", math.nan
    d = np.diff(rates)
    if np.all(d == 0):
        label = "flat"
    elif np.all(d >= 0):
        label = "increasing"
    elif np.all(d <= 0):
        label = "decreasing"
    else:
        label = "not monotonic"
    order = np.arange(rates.size, dtype=np.float64)
    rr = _rank_floats(rates)
    if rr.std() == 0:
        return label, math.nan
    rho = float(np.corrcoef(order, rr)[0, 1])
    return label, rho


def _rank_floats(x: FloatArray) -> FloatArray:
    _, inv = np.unique(x, return_inverse=True)
    return _avg_ranks(inv.astype(np.int64))


def shuffled_bad_counts(
    total: FloatArray, n_bad: int, shuffles: int, seed: int, name: str
) -> FloatArray:
    """Bad counts per bin under ``shuffles`` random permutations of the labels: (shuffles, k).

    Shuffling the labels puts ``n_bad`` bads on a uniformly random subset of the rows, so the
    bad counts of the bins (sizes ``total``) follow the multivariate hypergeometric law exactly;
    drawing from it costs O(k) per shuffle instead of O(rows). Seeded per (seed, factor name),
    so a factor's chance level does not depend on which other factors are evaluated.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    colors = total.astype(np.int64)
    draws = rng.multivariate_hypergeometric(colors, n_bad, size=shuffles, method="marginals")
    out: FloatArray = draws.astype(np.float64)
    return out


def chance_quantile(values: FloatArray, q: float) -> float:
    if values.size == 0:
        return math.nan
    return float(np.quantile(values, q))


def auc_ci(auc: float, var: float) -> tuple[float, float]:
    if not math.isfinite(auc) or not math.isfinite(var):
        return math.nan, math.nan
    half = _Z95 * math.sqrt(max(var, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)
