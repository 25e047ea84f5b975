"""Run directories in the batch-output contract's shape (schema.json + results + summary.json +
ledger.sqlite), from synthetic applicants with a known signal. Test-only: not shipped.

Every applicant has a latent risk ``r``; ``bad`` is drawn from a logistic model of ``r``. Factors
named ``sig_*`` are noisy functions of ``r`` (they carry signal); ``noise_*`` are independent of
it (pure noise). ``internal_score`` (a passthrough baseline) is another noisy view of ``r``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INST_BUCKETS = [
    {"code": 1, "low": 0, "high": 9, "low_closed": False, "high_closed": True, "label": "(0, 9]"},
    {"code": 2, "low": 9, "high": 19, "low_closed": False, "high_closed": True, "label": "(9, 19]"},
    {"code": 3, "low": 19, "high": 29, "low_closed": False, "high_closed": True},
    {"code": 4, "low": 29, "high": 39, "low_closed": False, "high_closed": True},
    {"code": 5, "low": 39, "high": 49, "low_closed": False, "high_closed": True},
    {"code": 6, "low": 49, "high": None, "low_closed": False, "high_closed": False},
]


def applicants(n: int, seed: int = 0, bad_rate_logit: float = -2.6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(n)
    p = 1 / (1 + np.exp(-(bad_rate_logit + 1.0 * r)))
    bad = (rng.random(n) < p).astype(np.int64)
    months = np.array(["2026-01", "2026-02", "2026-03"])[rng.integers(0, 3, n)]
    internal = np.round(600 - 60 * (r + rng.standard_normal(n)))
    internal[rng.random(n) < 0.25] = np.nan  # the internal score covers 75 % of applicants
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "bad": bad,
            "apply_month": months,
            "internal_score": internal,
            "r": r,
        }
    )


def _bucket_codes(x: np.ndarray, k: int = 6) -> np.ndarray:
    edges = np.quantile(x, np.linspace(0, 1, k + 1)[1:-1])
    return (np.searchsorted(edges, x) + 1).astype(np.float64)


def write_run(
    folder: Path,
    people: pd.DataFrame,
    *,
    operation: str = "tianyuan.multi_lending",
    provider: str = "tianyuan",
    n_signal: int = 4,
    n_noise: int = 20,
    prefix: str = "",
    seed: int = 1,
    hit_rate: float = 0.85,
    statuses: dict[str, int] | None = None,
    fmt: str = "csv",
    prices: dict[str, Any] | None = None,
    signal_strength: float = 1.0,
    personal: bool = True,
) -> Path:
    """Write one run directory. ``statuses`` forces a count of rows into invalid /
    maybe_billed / error (taken from the end of the frame)."""
    rng = np.random.default_rng(seed)
    n = len(people)
    r = people["r"].to_numpy()
    status = np.where(rng.random(n) < hit_rate, "hit", "no_data").astype(object)
    pos = n
    for s, count in (statuses or {}).items():
        status[pos - count : pos] = s
        pos -= count
    hit = status == "hit"
    cols: list[dict[str, Any]] = [
        {"name": "row", "dtype": "int64", "role": "key", "factor": None, "part": None},
    ]
    data: dict[str, Any] = {"row": people["row"].to_numpy()}
    if personal:
        cols.append({"name": "id_card", "dtype": "string", "role": "passthrough",
                     "factor": None, "part": None})  # fmt: skip
        data["id_card"] = ["11010519491231002X"] * n  # a masked run would hold a mask here
    for c, d in (("bad", "Int64"), ("apply_month", "string"), ("internal_score", "float64")):
        cols.append({"name": c, "dtype": d, "role": "passthrough", "factor": None, "part": None})
        data[c] = people[c].to_numpy()
    billed = np.where(np.isin(status, ["hit", "no_data"]), 1.0, 0.0)
    billed[status == "maybe_billed"] = np.nan
    returned = hit.astype(np.float64)
    factors_meta: list[dict[str, Any]] = []
    factor_cols: dict[str, np.ndarray] = {}
    core_present = np.zeros(n, dtype=bool)
    for i in range(n_signal + n_noise):
        is_sig = i < n_signal
        code = f"{prefix}{'sig' if is_sig else 'noise'}_{i:03d}"
        latent = (
            signal_strength * r + rng.standard_normal(n) * (1.0 + i * 0.3)
            if is_sig
            else rng.standard_normal(n)
        )
        codes = _bucket_codes(latent)
        record = hit & (rng.random(n) < 0.8)
        codes[~record] = np.nan
        if i < 2:
            core_present |= record
        factor_cols[code] = codes
        low = np.array([np.nan] + [b["low"] for b in INST_BUCKETS], dtype=np.float64)
        high = np.array(
            [np.nan] + [np.inf if b["high"] is None else b["high"] for b in INST_BUCKETS],
            dtype=np.float64,
        )
        ci = np.where(np.isnan(codes), 0, codes).astype(int)
        factor_cols[f"{code}_low"] = low[ci]
        factor_cols[f"{code}_high"] = high[ci]
        for part in ("code", "low", "high"):
            name = code if part == "code" else f"{code}_{part}"
            dtype = "Int64" if part == "code" else "float64"
            cols.append({"name": name, "dtype": dtype, "role": "factor", "factor": code,
                         "part": part})  # fmt: skip
        factors_meta.append(
            {
                "code": code,
                "kind": "count_bucket",
                "label_zh": f"合成{code}",
                "label_en": f"synthetic {code}",
                "core": i < 2,
                "columns": {"code": code, "low": f"{code}_low", "high": f"{code}_high"},
                "buckets": INST_BUCKETS,
            }
        )
    # a flag with signal and a model score with signal (not hit ~ 30 %)
    flag = (r + rng.standard_normal(n) > 1.0).astype(np.float64)
    flag[~hit] = np.nan
    factor_cols[f"{prefix}flag_overdue"] = flag
    cols.append({"name": f"{prefix}flag_overdue", "dtype": "Int8", "role": "factor",
                 "factor": f"{prefix}flag_overdue", "part": "flag"})  # fmt: skip
    factors_meta.append({"code": f"{prefix}flag_overdue", "kind": "flag", "core": False,
                         "buckets": []})  # fmt: skip
    score = np.round(650 - 50 * (r + 0.8 * rng.standard_normal(n)))
    score_hit = hit & (rng.random(n) < 0.7)
    score_status = np.where(score_hit, "hit", np.where(hit, "not_hit", "no_record"))
    score[~score_hit] = np.nan
    sname = f"{prefix}model_score"
    factor_cols[sname] = score
    factor_cols[f"{sname}_status"] = score_status
    cols.append({"name": sname, "dtype": "float64", "role": "factor", "factor": sname,
                 "part": "score"})  # fmt: skip
    cols.append({"name": f"{sname}_status", "dtype": "string", "role": "factor",
                 "factor": sname, "part": "status"})  # fmt: skip
    factors_meta.append({"code": sname, "kind": "model_score", "core": False, "buckets": []})
    raw = f"{prefix}mystery_raw"
    factor_cols[raw] = np.where(hit, "A", None)
    cols.append({"name": raw, "dtype": "string", "role": "factor", "factor": raw, "part": "raw"})
    effective = (core_present | score_hit).astype(np.float64)
    cols[1 + int(personal) + 3 : 1 + int(personal) + 3] = [
        {"name": "status", "dtype": "string", "role": "status", "factor": None, "part": None},
        {"name": "billed", "dtype": "Int8", "role": "status", "factor": None, "part": None},
        {"name": "returned", "dtype": "Int8", "role": "status", "factor": None, "part": None},
        {"name": "effective", "dtype": "Int8", "role": "status", "factor": None, "part": None},
        {
            "name": "transaction_id",
            "dtype": "string",
            "role": "meta",
            "factor": None,
            "part": None,
        },
    ]
    data.update(
        status=status, billed=billed, returned=returned, effective=effective,
        transaction_id=[f"T{i}" for i in range(n)],
    )  # fmt: skip
    data.update(factor_cols)
    frame = pd.DataFrame({c["name"]: data[c["name"]] for c in cols})
    folder.mkdir(parents=True, exist_ok=True)
    schema = {
        "schema_version": 1,
        "operation": operation,
        "provider": provider,
        "key": ["row"],
        "bucket_tables": {"source": "sandbox", "path": None, "version": None},
        "columns": cols,
        "factors": factors_meta,
    }
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    for c in cols:
        if c["dtype"] in ("Int64", "Int8"):
            frame[c["name"]] = frame[c["name"]].astype("float64").astype(c["dtype"])
        elif c["dtype"] == "string":
            frame[c["name"]] = frame[c["name"]].astype("string")
    if fmt == "parquet":
        frame.to_parquet(folder / "results.parquet", index=False)
    else:
        frame.to_csv(folder / "results.csv", index=False)
    by_status = {str(k): int(v) for k, v in pd.Series(status).value_counts().items()}
    summary: dict[str, Any] = {
        "operation": operation,
        "rows_total": n,
        "rows_reached": n,
        "not_reached": {},
        "by_status": by_status,
        "billed": int(np.nansum(billed)),
        "returned": int(returned.sum()),
        "effective": int(effective.sum()),
        "maybe_billed": by_status.get("maybe_billed", 0),
    }
    if prices:
        summary["prices"] = {"operation": operation, "currency": "CNY", **prices}
    (folder / "summary.json").write_text(json.dumps(summary), "utf-8")
    (folder / "ledger.sqlite").unlink(missing_ok=True)
    con = sqlite3.connect(folder / "ledger.sqlite")
    con.execute("CREATE TABLE rows (row_no INTEGER PRIMARY KEY, state TEXT NOT NULL)")
    state = np.where(np.isin(status, ["hit", "no_data", "error"]), "done", status)
    con.executemany("INSERT INTO rows VALUES (?, ?)", list(enumerate(state.tolist())))
    con.commit()
    con.close()
    return folder
