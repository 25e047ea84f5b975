"""From a frame + factor specs to the ``factors`` and ``bins`` tables (see _stats for the maths)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError
from . import _stats as st
from ._spec import FactorSpec

#: ISO dates / datetimes in a time column are sliced by month
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
MAX_SLICES = 60


@attrs.define
class EngineResult:
    factors: list[dict[str, Any]]
    bins: list[dict[str, Any]]
    binned: dict[str, st.Binned]
    y: npt.NDArray[np.int8]
    baselines: dict[str, st.FloatArray]
    time_slices: list[str]
    psi_matrix: dict[str, list[float]]
    n_rows: int
    n_bad: int
    chance_shuffles: int


def _target(values: Any, name: str) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    arr = np.asarray(st._as_float(values), dtype=np.float64)
    known = ~np.isnan(arr)
    bad_values = set(np.unique(arr[known]).tolist()) - {0.0, 1.0}
    if bad_values:
        shown = sorted(bad_values)[:5]
        raise ConfigurationError(
            f"target column {name!r} must be 0/1 (1 = bad); it also holds {shown}"
        )
    return np.where(known, arr, 0).astype(np.int8), known


def run_engine(
    frame: Any,
    specs: Sequence[FactorSpec],
    *,
    target: str,
    time_col: str | None = None,
    baselines: Sequence[str] = (),
    chance_shuffles: int = 200,
    seed: int = 0,
    quantile_bins: int = 10,
    min_bin_count: int = 30,
) -> EngineResult:
    """``frame`` must already hold only the evaluation sample (rows with a 0/1 target)."""
    for col in [target, *([time_col] if time_col else []), *baselines]:
        if col not in frame.columns:
            raise ConfigurationError(f"no column {col!r} in the evaluation frame")
    y, known = _target(frame[target], target)
    if not bool(known.all()):
        raise ConfigurationError(f"target column {target!r} has nulls in the evaluation sample")
    n = int(y.size)
    n_bad = int(y.sum())
    yf = y.astype(np.float64)

    # time slices
    t_idx: st.IntArray | None = None
    slices: list[str] = []
    if time_col:
        tv = frame[time_col].astype("string").fillna("(none)").to_numpy(dtype=object).astype(str)
        if tv.size and all(_DATE.match(v) for v in np.unique(tv) if v != "(none)"):
            tv = np.array([v[:7] if v != "(none)" else v for v in tv.tolist()])  # by month
        uniq, inv = np.unique(tv, return_inverse=True)
        if uniq.size > MAX_SLICES:
            raise ConfigurationError(
                f"time column {time_col!r} has {uniq.size} distinct values; PSI needs a few "
                f"slices (at most {MAX_SLICES}): pass a month or quarter column"
            )
        slices = [str(u) for u in uniq]
        t_idx = inv.astype(np.int64)

    base_arrays: dict[str, st.FloatArray] = {}
    base_info: dict[str, tuple[st.IntArray, npt.NDArray[np.bool_], st.FloatArray, float]] = {}
    for b in baselines:
        arr = np.asarray(st._as_float(frame[b]), dtype=np.float64)
        base_arrays[b] = arr
        pres = ~np.isnan(arr)
        ordv = np.zeros(n, dtype=np.int64)
        if pres.any():
            _, inv_b = np.unique(arr[pres], return_inverse=True)
            ordv[pres] = inv_b + 1
        z = np.zeros(n)
        if pres.sum() > 1:
            sd = float(arr[pres].std()) or 1.0
            z[pres] = (arr[pres] - float(arr[pres].mean())) / sd
        auc_b = st.rank_auc(arr[pres], y[pres]) if pres.any() else math.nan
        auc_b = max(auc_b, 1 - auc_b) if math.isfinite(auc_b) else auc_b
        base_info[b] = (ordv, pres, z, auc_b)

    factors: list[dict[str, Any]] = []
    bins_rows: list[dict[str, Any]] = []
    binned_all: dict[str, st.Binned] = {}
    psi_matrix: dict[str, list[float]] = {}
    for spec in specs:
        bn = st.bin_factor(spec, frame[spec.column], quantile_bins=quantile_bins)
        binned_all[spec.name] = bn
        k = len(bn.info)
        idx = bn.bins
        total = np.bincount(idx, minlength=k).astype(np.float64)
        bad = np.bincount(idx, weights=yf, minlength=k).astype(np.float64)
        good = total - bad
        woe, ivs = st.woe_iv(bad, good)
        iv = float(ivs.sum())
        woe_p, ivs_p = st.woe_iv(bad[1:], good[1:])
        iv_p = float(ivs_p.sum()) if total[1:].sum() > 0 else math.nan

        # chance level: the same IVs under shuffled labels
        if chance_shuffles > 0 and 0 < n_bad < n:
            sb = st.shuffled_bad_counts(total, n_bad, chance_shuffles, seed, spec.name)
            sg = total[None, :] - sb
            iv_s = st.woe_iv(sb, sg)[1].sum(axis=1)
            iv_s_p = st.woe_iv(sb[:, 1:], sg[:, 1:])[1].sum(axis=1)
            chance = st.chance_quantile(iv_s, 0.95)
            chance_p = st.chance_quantile(iv_s_p, 0.95)
            p_value = float((1 + np.sum(iv_s >= iv - 1e-12)) / (1 + iv_s.size))
        else:
            chance = chance_p = p_value = math.nan

        # AUC / KS over present values, in value order
        if bn.ordinal is not None:
            pres = bn.ordinal > 0
            kk = int(bn.ordinal.max()) + 1
            vt = np.bincount(bn.ordinal[pres], minlength=kk).astype(np.float64)[1:]
            vb = np.bincount(bn.ordinal[pres], weights=yf[pres], minlength=kk).astype(np.float64)[
                1:
            ]
        else:
            vt, vb = total[1:], bad[1:]
        auc_raw, var, ks, nb_p = st.auc_ks_from_counts(vb, vt - vb)
        if math.isfinite(auc_raw) and auc_raw < 0.5:
            direction = "lower is riskier"
            auc = 1.0 - auc_raw
        elif math.isfinite(auc_raw):
            direction = "higher is riskier" if auc_raw > 0.5 else "none"
            auc = auc_raw
        else:
            direction, auc = "", math.nan
        lo, hi = st.auc_ci(auc, var)

        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(total > 0, bad / np.where(total > 0, total, 1), np.nan)
        mono, rho = st.monotonicity(rate[1:], total[1:], float(min_bin_count))
        if direction == "lower is riskier" and math.isfinite(rho):
            pass  # rho keeps its sign: negative means bad rate falls along the order

        present_n = float(total[1:].sum())
        row: dict[str, Any] = {
            "factor": spec.name,
            "source": spec.source,
            "code": spec.code or spec.name,
            "label": spec.label,
            "kind": spec.kind,
            "core": spec.core,
            "binning": bn.method,
            "rows": n,
            "coverage": present_n / n if n else math.nan,
            "missing_rate": 1 - present_n / n if n else math.nan,
            "bins": int((total[1:] > 0).sum()),
            "iv": iv,
            "iv_chance95": chance,
            "iv_p": p_value,
            "iv_within_chance": bool(iv <= chance) if math.isfinite(chance) else None,
            "iv_present": iv_p,
            "iv_present_chance95": chance_p,
            "auc": auc,
            "auc_ci_low": lo,
            "auc_ci_high": hi,
            "ks": ks,
            "direction": direction,
            "bads_present": int(nb_p),
            "monotonic": mono,
            "monotonic_rho": rho,
        }

        # PSI per time slice, against the first slice
        if t_idx is not None:
            tk = np.bincount(t_idx * k + idx, minlength=len(slices) * k).astype(np.float64)
            mat = tk.reshape(len(slices), k)
            values = st.psi(mat, mat[0]).tolist() if len(slices) > 1 else [0.0]
            psi_matrix[spec.name] = values
            row["psi_max"] = max(values[1:]) if len(values) > 1 else math.nan
            for name, v in zip(slices, values, strict=True):
                row[f"psi_{name}"] = v

        # against each baseline
        ord_f = bn.ordinal if bn.ordinal is not None else idx.astype(np.int64)
        woe_row = np.nan_to_num(woe, nan=0.0)[idx]
        for b, (ordv, bpres, z, auc_b) in base_info.items():
            rho_b, _ = st.spearman_from_ordinals(ord_f, ordv, bpres & (ord_f > 0))
            row[f"corr_{b}"] = rho_b
            row[f"auc_gain_{b}"] = _auc_gain(z, woe_row, yf, bpres, auc_b)
        factors.append(row)

        iv_share = ivs / iv if iv > 0 else np.zeros_like(ivs)
        for j, info in enumerate(bn.info):
            bins_rows.append(
                {
                    "factor": spec.name,
                    "source": spec.source,
                    "bin": j,
                    "code": info.code,
                    "label": info.label,
                    "low": info.low,
                    "high": info.high,
                    "low_closed": info.low_closed if j else None,
                    "high_closed": info.high_closed if j else None,
                    "in_table": info.in_table,
                    "count": int(total[j]),
                    "share": float(total[j] / n) if n else math.nan,
                    "bads": int(bad[j]),
                    "bad_rate": float(rate[j]),
                    "woe": float(woe[j]),
                    "iv": float(ivs[j]),
                    "iv_share": float(iv_share[j]),
                    "woe_present": float(woe_p[j - 1]) if j else math.nan,
                }
            )
    return EngineResult(
        factors=factors,
        bins=bins_rows,
        binned=binned_all,
        y=y,
        baselines=base_arrays,
        time_slices=slices,
        psi_matrix=psi_matrix,
        n_rows=n,
        n_bad=n_bad,
        chance_shuffles=chance_shuffles if 0 < n_bad < n else 0,
    )


def _auc_gain(
    z: st.FloatArray,
    woe_row: st.FloatArray,
    yf: st.FloatArray,
    bpres: npt.NDArray[np.bool_],
    auc_b: float,
) -> float:
    """AUC of baseline + this factor's WoE (logistic regression, in-sample) minus the
    baseline's own AUC, over rows where the baseline has a value."""
    if not math.isfinite(auc_b):
        return math.nan
    ys = yf[bpres]
    if ys.sum() == 0 or ys.sum() == ys.size:
        return math.nan
    w = woe_row[bpres]
    if float(w.std()) == 0:
        return 0.0
    x = np.column_stack([z[bpres], w])
    beta = st.logistic_fit(x, ys)
    score = x @ beta[1:]
    auc = st.rank_auc(score, ys.astype(np.int8))
    return max(auc, 1 - auc) - auc_b


def as_mapping(x: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(x or {})
