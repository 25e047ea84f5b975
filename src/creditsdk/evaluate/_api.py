"""``creditsdk.evaluate``: judge data sources from batch runs the way a risk team does."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from . import _runs
from ._spec import FactorSpec

if TYPE_CHECKING:
    from ._engine import EngineResult

#: bads below this: a visible warning (IV, KS and AUC are too noisy to rank factors)
MIN_BADS = 300

__all__ = ["Evaluation", "evaluate", "evaluate_frame"]


def _pd() -> Any:
    return _runs._pandas()


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


class Evaluation:
    """The result of `evaluate`: ``.factors``, ``.bins``, ``.summary`` (DataFrames),
    ``.overlap``, ``.warnings``, ``.to_html(path)``, ``.save(folder)``; shows itself in Jupyter."""

    def __init__(
        self,
        *,
        factors: Any,
        bins: Any,
        summary: Any,
        overlap: Any,
        engine: EngineResult,
        target: str,
        time_col: str | None,
        baselines: list[str],
        excluded: dict[str, int],
        warnings: list[str],
        title: str = "Data source evaluation",
    ) -> None:
        self.factors = factors
        self.bins = bins
        self.summary = summary
        self.overlap = overlap
        self.target = target
        self.time_col = time_col
        self.baselines = baselines
        self.excluded = excluded
        self.warnings = warnings
        self.title = title
        self._engine = engine

    @property
    def rows(self) -> int:
        return self._engine.n_rows

    @property
    def bads(self) -> int:
        return self._engine.n_bad

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The self-contained report (one HTML file, charts inline); written to ``path`` if
        given. Returns the HTML."""
        from ._report import render_report

        text = render_report(self, full_page=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``factors.csv``, ``bins.csv``, ``summary.csv``, ``overlap.csv`` and
        ``report.html`` into ``folder`` (created if needed)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.factors.to_csv(out / "factors.csv", index=False, encoding="utf-8")
        self.bins.to_csv(out / "bins.csv", index=False, encoding="utf-8")
        self.summary.to_csv(out / "summary.csv", index=False, encoding="utf-8")
        if self.overlap is not None:
            self.overlap.to_csv(out / "overlap.csv", encoding="utf-8")
        self.to_html(out / "report.html")
        return out

    def _repr_html_(self) -> str:
        from ._report import render_report

        return render_report(self, full_page=False)

    def __repr__(self) -> str:
        return (
            f"<Evaluation {len(self.factors)} factors, {self.rows} rows, {self.bads} bads, "
            f"{len(self.warnings)} warnings>"
        )


def _finish(
    engine: EngineResult,
    *,
    target: str,
    time_col: str | None,
    baselines: list[str],
    summary: Any,
    overlap: Any,
    excluded: dict[str, int],
) -> Evaluation:
    pd = _pd()
    factors = pd.DataFrame(engine.factors)
    if len(factors):
        factors = factors.sort_values(["iv", "auc"], ascending=False, kind="stable")
        factors = factors.reset_index(drop=True)
    bins = pd.DataFrame(engine.bins)
    warnings: list[str] = []
    if engine.n_bad < MIN_BADS:
        warnings.append(
            f"Only {engine.n_bad} bads in the sample (fewer than {MIN_BADS}): IV, KS and AUC "
            "are noisy; rank factors by how far they clear the chance level, not by IV alone."
        )
    if len(factors):
        within = int(factors["iv_within_chance"].fillna(False).astype(bool).sum())
        if within:
            warnings.append(
                f"{within} of {len(factors)} factors have an IV within chance (at or below the "
                f"95th percentile of IV under {engine.chance_shuffles} label shuffles): their "
                "apparent signal is indistinguishable from noise on this sample."
            )
    return Evaluation(
        factors=factors,
        bins=bins,
        summary=summary,
        overlap=overlap,
        engine=engine,
        target=target,
        time_col=time_col,
        baselines=baselines,
        excluded=excluded,
        warnings=warnings,
    )


def evaluate_frame(
    frame: Any,
    factors: Sequence[FactorSpec],
    *,
    target: str,
    time_col: str | None = None,
    baselines: str | Sequence[str] | None = None,
    chance_shuffles: int = 200,
    seed: int = 0,
    quantile_bins: int = 10,
) -> Evaluation:
    """Evaluate factors held in a plain DataFrame (no run directories).

    ``factors`` says which column holds each factor's value and what kind it is; rows whose
    target is null are left out (and counted).
    """
    pd = _pd()
    from ._engine import run_engine

    base = _as_list(baselines)
    if target not in frame.columns:
        raise ConfigurationError(f"no target column {target!r} in the frame")
    keep = frame[target].notna().to_numpy()
    # no copy of a frame that is all sample (100,000 x 360 floats is ~290 MB)
    sample = frame.reset_index(drop=True) if keep.all() else frame.loc[keep].reset_index(drop=True)
    engine = run_engine(
        sample,
        factors,
        target=target,
        time_col=time_col,
        baselines=base,
        chance_shuffles=chance_shuffles,
        seed=seed,
        quantile_bins=quantile_bins,
    )
    summary = pd.DataFrame(
        [{"source": "frame", "rows": engine.n_rows, "bads": engine.n_bad,
          "bad_rate": engine.n_bad / engine.n_rows if engine.n_rows else math.nan}]
    )  # fmt: skip
    excluded = {"target is null": int((~keep).sum())}
    return _finish(
        engine,
        target=target,
        time_col=time_col,
        baselines=base,
        summary=summary,
        overlap=None,
        excluded=excluded,
    )


def evaluate(
    runs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    target: str,
    time_col: str | None = None,
    baselines: str | Sequence[str] | None = None,
    prices: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    columns: str | Sequence[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    chance_shuffles: int = 200,
    seed: int = 0,
    quantile_bins: int = 10,
) -> Evaluation:
    """Evaluate one or more batch run directories joined on their row key.

    ``target``: the 0/1 label column (1 = bad) passed through by the batch; ``time_col``: a
    passthrough column to slice PSI by (e.g. ``apply_month``); ``baselines``: passthrough
    columns (e.g. your internal score) or factor codes to compare against; ``prices``: a prices
    TOML file or ``{operation: Price}`` (default: the prices recorded in each run's
    summary.json); ``columns``: passthrough columns to evaluate as numeric factors too (your own
    features; quantile bins). ``output``: also write factors.csv, bins.csv, summary.csv and
    report.html.
    """
    pd = _pd()
    from ._engine import run_engine

    paths = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
    if not paths:
        raise ConfigurationError("evaluate needs at least one run directory")
    base = _as_list(baselines)
    extra = _as_list(columns)
    wanted = [target, *([time_col] if time_col else []), *base, *extra]
    for name in wanted:
        if name.strip().lower() in _runs.PERSONAL_NAMES:
            raise ConfigurationError(
                f"{name!r} is a personal-data column; the evaluation never reads it"
            )
    labels = _runs.run_labels(paths)
    loaded = [
        _runs.read_run(p, label=lab, passthrough=wanted)
        for p, lab in zip(paths, labels, strict=True)
    ]
    price_map = _load_price_map(prices, loaded)

    keys = list(loaded[0].schema.get("key") or [])
    for r in loaded[1:]:
        if list(r.schema.get("key") or []) != keys:
            raise ConfigurationError(
                f"{r.path}: key {r.schema.get('key')!r} differs from {loaded[0].path}'s {keys!r}"
            )
    # factor names: the code, or run:code when two runs share a code
    seen: dict[str, int] = {}
    for r in loaded:
        for s in r.specs:
            seen[s.code] = seen.get(s.code, 0) + 1

    joined = None
    specs: list[FactorSpec] = []
    passthrough_from: dict[str, str] = {}
    for r in loaded:
        f = r.frame.copy()
        rename: dict[str, str] = {}
        for c in ("status", "billed", "returned", "effective"):
            if c in f.columns:
                rename[c] = f"{r.label}::{c}"
        for s in r.specs:
            name = s.code if seen[s.code] == 1 else f"{r.label}:{s.code}"
            col = f"{r.label}::{s.column}"
            rename[s.column] = col
            specs.append(
                FactorSpec(
                    name=name,
                    column=col,
                    kind=s.kind,
                    code=s.code,
                    source=r.label,
                    label=s.label,
                    buckets=s.buckets,
                    core=s.core,
                )
            )
        roles = {c.get("name"): c.get("role") for c in r.schema.get("columns") or []}
        for w in wanted:
            if w in f.columns and w not in keys and roles.get(w) == "passthrough":
                if w in passthrough_from:
                    rename[w] = f"{r.label}::{w}"  # the first run's copy is used
                else:
                    passthrough_from[w] = r.label
        f = f.rename(columns=rename)
        f[f"{r.label}::__present"] = True
        joined = f if joined is None else joined.merge(f, on=keys, how="outer", sort=False)
    assert joined is not None
    # baselines that are factors of a run
    spec_by_name = {s.name: s for s in specs}
    for b in base:
        if b not in passthrough_from and b not in spec_by_name:
            raise ConfigurationError(
                f"baseline {b!r} is neither a passthrough column of the runs nor a factor code"
            )
    for c in extra:
        if c not in passthrough_from:
            raise ConfigurationError(f"column {c!r} is not a passthrough column of the runs")
        joined[c] = pd.to_numeric(joined[c], errors="coerce")
        specs.append(FactorSpec(name=c, column=c, kind="value", code=c, source="input"))
    if target not in passthrough_from:
        raise ConfigurationError(
            f"target {target!r} is not a passthrough column of any run (pass it through the "
            "batch input: it is kept in results as role 'passthrough')"
        )
    if time_col and time_col not in passthrough_from:
        raise ConfigurationError(f"time column {time_col!r} is not a passthrough column")

    n_joined = len(joined)
    excluded: dict[str, int] = {}
    keep = joined[target].notna().to_numpy().copy()
    for r in loaded:
        present = joined[f"{r.label}::__present"].fillna(False).to_numpy(dtype=bool)
        missing = ~present & keep
        if missing.any():
            excluded[f"{r.label}: row not in run"] = int(missing.sum())
        keep &= present
        status = joined.get(f"{r.label}::status")
        if status is not None:
            codes = status.astype("string").fillna("").to_numpy(dtype=object)
            for name in _runs.EXCLUDED_STATUSES:
                hit = (codes == name) & keep
                if hit.any():
                    excluded[f"{r.label}: {name}"] = int(hit.sum())
                    keep &= ~hit
    null_target = int(joined[target].isna().sum())
    if null_target:
        excluded["target is null"] = null_target
    sample = joined.loc[keep].reset_index(drop=True)
    base_cols = []
    for b in base:
        if b in passthrough_from:
            base_cols.append(b)
        else:
            sample[b] = sample[spec_by_name[b].column]
            base_cols.append(b)
    if len(sample) == 0:
        raise ConfigurationError(
            f"no rows left to evaluate ({n_joined} joined; excluded: {excluded or 'none'})"
        )
    engine = run_engine(
        sample,
        specs,
        target=target,
        time_col=time_col,
        baselines=base_cols,
        chance_shuffles=chance_shuffles,
        seed=seed,
        quantile_bins=quantile_bins,
    )
    summary, overlap = _hit_summary(pd, loaded, sample, price_map, base, spec_by_name, engine)
    result = _finish(
        engine,
        target=target,
        time_col=time_col,
        baselines=base,
        summary=summary,
        overlap=overlap,
        excluded=excluded,
    )
    if output is not None:
        result.save(output)
    return result


def _load_price_map(
    prices: str | os.PathLike[str] | Mapping[str, Any] | None, runs: list[_runs.Run]
) -> dict[str, Any]:
    from ..batch import Price, load_prices, parse_prices

    if prices is None:
        out: dict[str, Any] = {}
        for r in runs:
            p = r.summary.get("prices")
            if isinstance(p, dict) and (p.get("per_call") or p.get("per_hit")):
                doc = {k: v for k, v in p.items() if k in ("per_call", "per_hit") and v}
                if p.get("currency"):
                    doc["currency"] = p["currency"]
                out.update(parse_prices({r.operation: doc}, source=f"{r.path}/summary.json"))
        return out
    if isinstance(prices, Mapping):
        if all(isinstance(v, Price) for v in prices.values()):
            return dict(prices)
        return parse_prices(prices)
    return load_prices(prices)


def _dec(x: Decimal | None) -> float:
    return math.nan if x is None else float(x)


def _hit_summary(
    pd: Any,
    runs: list[_runs.Run],
    sample: Any,
    prices: Mapping[str, Any],
    baselines: list[str],
    spec_by_name: Mapping[str, FactorSpec],
    engine: EngineResult,
) -> tuple[Any, Any]:
    import numpy as np

    n = len(sample)
    eff: dict[str, Any] = {}
    base_cover = np.zeros(n, dtype=bool)
    base_sources = set()
    for b in baselines:
        base_cover |= sample[b].notna().to_numpy(dtype=bool)
        if b in spec_by_name:
            base_sources.add(spec_by_name[b].source)
    rows = []
    for r in runs:

        def flag(col: str, label: str = r.label) -> Any:
            c = sample.get(f"{label}::{col}")
            if c is None:
                return np.zeros(n, dtype=bool)
            return c.fillna(0).astype("int64").to_numpy() == 1

        billed, returned, effective = flag("billed"), flag("returned"), flag("effective")
        eff[r.label] = effective
        extra = effective & ~base_cover
        price = prices.get(r.operation)
        cost = price.cost(int(billed.sum()), int(returned.sum())) if price else None

        def per(k: int, cost: Decimal | None = cost) -> float:
            return _dec(cost / k) if cost is not None and k else math.nan

        rows.append(
            {
                "source": r.label,
                "operation": r.operation,
                "provider": r.provider,
                "rows": n,
                "rows_in_run": r.summary.get("rows_total", len(r.frame)),
                "billed": int(billed.sum()),
                "returned": int(returned.sum()),
                "effective": int(effective.sum()),
                "billed_rate": billed.mean() if n else math.nan,
                "returned_rate": returned.mean() if n else math.nan,
                "effective_rate": effective.mean() if n else math.nan,
                "extra_effective_over_baselines": (
                    None if r.label in base_sources or not baselines else int(extra.sum())
                ),
                "currency": price.currency if price else "",
                "cost": _dec(cost),
                "cost_per_call": per(int(billed.sum())),
                "cost_per_hit": per(int(returned.sum())),
                "cost_per_effective_hit": per(int(effective.sum())),
                "cost_per_extra_hit": (
                    per(int(extra.sum())) if baselines and r.label not in base_sources else math.nan
                ),
                "factors": len(r.specs),
                "factors_skipped_raw": len(r.skipped_factors),
            }
        )
    union = np.zeros(n, dtype=bool)
    for v in eff.values():
        union |= v
    if len(runs) > 1:
        rows.append(
            {
                "source": "combined",
                "operation": "+".join(r.operation for r in runs),
                "provider": "+".join(r.provider for r in runs),
                "rows": n,
                "effective": int(union.sum()),
                "effective_rate": union.mean() if n else math.nan,
                "cost": sum((x["cost"] for x in rows), 0.0),
            }
        )
    summary = pd.DataFrame(rows)
    summary["bads"] = engine.n_bad
    summary["currency"] = summary["currency"].fillna("")
    labels = list(eff)
    mat = [[float((eff[a] & eff[b]).mean()) if n else math.nan for b in labels] for a in labels]
    overlap = pd.DataFrame(mat, index=labels, columns=labels)
    return summary, overlap
