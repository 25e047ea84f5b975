"""The HTML report: one self-contained file (inline CSS, charts as inline SVG from matplotlib).

Static SVG rather than an interactive library: the file opens anywhere (e-mail, an archive, an
offline review) with no JavaScript, prints well, and its text stays searchable.
"""

from __future__ import annotations

import html
import io
import math
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _stats as st

if TYPE_CHECKING:
    from ._api import Evaluation

TOP = 10
_PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#0e7490", "#6e7781"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    return fig


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "creditsdk"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.find("<svg") :]  # drop the XML prolog and doctype: inline in HTML
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def _oriented(ev: Evaluation, name: str) -> tuple[st.FloatArray, np.ndarray] | None:
    """Score (higher = riskier) and labels over the rows where ``name`` has a value."""
    eng = ev._engine
    y = eng.y
    if name in eng.baselines:
        v = eng.baselines[name]
        pres = ~np.isnan(v)
        score = v[pres]
    else:
        bn = eng.binned.get(name)
        if bn is None:
            return None
        o = bn.ordinal if bn.ordinal is not None else bn.bins.astype(np.int64)
        pres = o > 0
        score = o[pres].astype(np.float64)
    yy = y[pres]
    if yy.size == 0 or yy.min() == yy.max():
        return None
    if st.rank_auc(score, yy) < 0.5:
        score = -score
    return score, yy


def _roc_chart(ev: Evaluation, names: list[str]) -> str:
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        got = _oriented(ev, name)
        if got is None:
            continue
        score, yy = got
        fpr, tpr, _ = roc_curve(yy, score)
        auc = roc_auc_score(yy, score)
        style = "--" if name in ev._engine.baselines else "-"
        ax.plot(fpr, tpr, style, lw=1.6, color=_PALETTE[i % len(_PALETTE)],
                label=f"{name}  AUC {auc:.3f}")  # fmt: skip
    ax.plot([0, 1], [0, 1], ":", color="#9ca3af", lw=1)
    ax.set_xlabel("false positive rate (goods flagged)", fontsize=9)
    ax.set_ylabel("true positive rate (bads caught)", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    _style(ax)
    return _svg(fig)


def _ks_chart(ev: Evaluation, names: list[str]) -> str:
    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        got = _oriented(ev, name)
        if got is None:
            continue
        score, yy = got
        order = np.argsort(-score, kind="stable")
        ys = yy[order].astype(np.float64)
        pop = np.arange(1, ys.size + 1) / ys.size
        cb = np.cumsum(ys) / ys.sum()
        cg = np.cumsum(1 - ys) / (ys.size - ys.sum())
        gap = cb - cg
        j = int(np.argmax(gap))
        color = _PALETTE[i % len(_PALETTE)]
        ax.plot(pop, cb, "-", color=color, lw=1.5, label=f"{name}: bads  (KS {gap[j]:.3f})")
        ax.plot(pop, cg, "--", color=color, lw=1.1, label=f"{name}: goods")
        ax.vlines(pop[j], cg[j], cb[j], color=color, lw=2, alpha=0.6)
    ax.set_xlabel("share of applicants, riskiest first", fontsize=9)
    ax.set_ylabel("cumulative share", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    _style(ax)
    return _svg(fig)


def _missing_chart(ev: Evaluation, names: list[str]) -> str:
    f = ev.factors.set_index("factor").loc[names]
    fig = _figure(5.2, 0.22 * len(names) + 0.9)
    ax = fig.add_subplot()
    ypos = np.arange(len(names))[::-1]
    ax.barh(ypos, f["coverage"], color="#1f6feb", label="has a value")
    ax.barh(ypos, f["missing_rate"], left=f["coverage"], color="#d0d7de", label="no record")
    ax.set_yticks(ypos, labels=names, fontsize=7.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of evaluated rows", fontsize=9)
    ax.legend(fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    _style(ax)
    return _svg(fig)


def _heatmap(
    values: np.ndarray, rows: list[str], cols: list[str], *, vmin: float, vmax: float, cmap: str,
    fmt: str, title: str,
) -> str:  # fmt: skip
    fig = _figure(1.6 + 0.55 * len(cols), 0.3 * len(rows) + 1.1)
    ax = fig.add_subplot()
    im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(cols)), labels=cols, fontsize=7.5, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=7.5)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if math.isfinite(v):
                if vmin < 0:  # diverging: dark at both ends
                    dark = abs(v - (vmin + vmax) / 2) > (vmax - vmin) * 0.3
                else:  # sequential: dark at the top
                    dark = v > vmin + 0.6 * (vmax - vmin)
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=6.5,
                        color="white" if dark else "#111827")  # fmt: skip
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cb.ax.tick_params(labelsize=7)
    cb.set_label(title, fontsize=8)
    return _svg(fig)


def _psi_chart(ev: Evaluation, names: list[str]) -> str:
    eng = ev._engine
    vals = np.array([eng.psi_matrix[n] for n in names], dtype=np.float64)
    return _heatmap(vals, names, eng.time_slices, vmin=0.0, vmax=0.25, cmap="YlOrRd",
                    fmt=".3f", title="PSI vs first slice")  # fmt: skip


def _corr_chart(ev: Evaluation, names: list[str]) -> str:
    items = [*names, *ev.baselines]
    ords: list[st.IntArray] = []
    for name in items:
        v = _aligned(ev, name)  # oriented: higher = riskier, so signs compare
        assert v is not None
        o = np.zeros(v.size, dtype=np.int64)
        pres = ~np.isnan(v)
        if pres.any():
            o[pres] = np.unique(v[pres], return_inverse=True)[1] + 1
        ords.append(o)
    k = len(items)
    mat = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(i, k):
            rho = 1.0 if i == j else st.spearman_from_ordinals(
                ords[i], ords[j], (ords[i] > 0) & (ords[j] > 0))[0]  # fmt: skip
            mat[i, j] = mat[j, i] = rho
    return _heatmap(mat, items, items, vmin=-1.0, vmax=1.0, cmap="RdBu_r", fmt=".2f",
                    title="Spearman correlation")  # fmt: skip


def _swap_table(ev: Evaluation, new: str, base: str, reject: float = 0.2) -> dict[str, Any] | None:
    """Reject the riskiest ``reject`` share by each score (rows where both have a value)."""
    eng = ev._engine
    a = _aligned(ev, new)
    b = _aligned(ev, base)
    if a is None or b is None:
        return None
    both = ~np.isnan(a) & ~np.isnan(b)
    if both.sum() < 20:
        return None
    y = eng.y[both]
    sa, sb = a[both], b[both]
    cut_a = np.quantile(sa, 1 - reject)
    cut_b = np.quantile(sb, 1 - reject)
    rej_a, rej_b = sa > cut_a, sb > cut_b
    cells = []
    for name, mask in (
        ("approved by both", ~rej_a & ~rej_b),
        (f"swap-in: approved by {new}, rejected by {base}", ~rej_a & rej_b),
        (f"swap-out: rejected by {new}, approved by {base}", rej_a & ~rej_b),
        ("rejected by both", rej_a & rej_b),
    ):
        n = int(mask.sum())
        cells.append({"set": name, "rows": n, "bads": int(y[mask].sum()),
                      "bad_rate": float(y[mask].mean()) if n else math.nan})  # fmt: skip
    return {"new": new, "base": base, "reject": reject, "rows": int(both.sum()), "cells": cells}


def _aligned(ev: Evaluation, name: str) -> st.FloatArray | None:
    """Full-length score (higher = riskier), NaN where missing."""
    eng = ev._engine
    if name in eng.baselines:
        v = eng.baselines[name].copy()
    else:
        bn = eng.binned.get(name)
        if bn is None:
            return None
        o = bn.ordinal if bn.ordinal is not None else bn.bins.astype(np.int64)
        v = np.where(o > 0, o.astype(np.float64), np.nan)
    pres = ~np.isnan(v)
    if pres.sum() and st.rank_auc(v[pres], eng.y[pres]) < 0.5:
        v = -v
    out: st.FloatArray = v
    return out


def _num(x: Any, spec: str = ".3f") -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "" if x is None else html.escape(str(x))
    if not math.isfinite(f):
        return "—"
    return format(f, spec)


def _pct(x: Any) -> str:
    s = _num(x, ".1%")
    return s


def render_report(ev: Evaluation, *, full_page: bool) -> str:
    import jinja2
    import markupsafe

    f = ev.factors
    eng = ev._engine
    top = list(f["factor"].head(TOP)) if len(f) else []
    scores = [
        n
        for n in f.sort_values("auc", ascending=False)["factor"]
        if (f.set_index("factor").loc[n, "kind"] in ("model_score", "ratio_score"))
    ] if len(f) else []  # fmt: skip
    roc_names = list(dict.fromkeys([*top[:5], *scores[:3], *ev.baselines]))[:8]
    best_score = scores[0] if scores else (top[0] if top else None)
    best_bucket = next((n for n in top if n not in scores), None)
    ks_names = [n for n in dict.fromkeys([best_score, best_bucket]) if n]
    charts: dict[str, str] = {}
    if top:
        charts["roc"] = _roc_chart(ev, roc_names)
        charts["ks"] = _ks_chart(ev, ks_names[:2])
        charts["missing"] = _missing_chart(ev, list(f["factor"].head(25)))
        if eng.time_slices and len(eng.time_slices) > 1:
            charts["psi"] = _psi_chart(ev, list(f["factor"].head(20)))
        if ev.baselines:
            charts["corr"] = _corr_chart(ev, top[:10])
    swap = _swap_table(ev, best_score, ev.baselines[0]) if ev.baselines and best_score else None
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    source = resources.files("creditsdk.evaluate").joinpath("report.html.j2")
    template = env.from_string(source.read_text(encoding="utf-8"))
    summary_rows = ev.summary.to_dict("records")
    top_rows = f.head(20).to_dict("records") if len(f) else []
    within = int(f["iv_within_chance"].fillna(False).astype(bool).sum()) if len(f) else 0
    return template.render(
        full_page=full_page,
        title=ev.title,
        ev=ev,
        rows=eng.n_rows,
        bads=eng.n_bad,
        bad_rate=eng.n_bad / eng.n_rows if eng.n_rows else math.nan,
        n_factors=len(f),
        within=within,
        shuffles=eng.chance_shuffles,
        summary=summary_rows,
        top=top_rows,
        charts={k: markupsafe.Markup(v) for k, v in charts.items()},
        swap=swap,
        excluded=ev.excluded,
        warnings=ev.warnings,
        overlap=ev.overlap,
        baselines=ev.baselines,
    )
