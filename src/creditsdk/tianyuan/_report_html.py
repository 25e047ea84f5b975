"""The Jupyter view of a JRZQ9E2A report (``MultiLendingReport._repr_html_``).

What an underwriter reads first comes first: the model scores against their ranges, the overdue
flags (highlighted when set), lending institutions by time window, and — when no bucket tables
are loaded — one line saying so and how to load them. The full factor table follows, folded.

Self-contained (inline CSS, no script, no external asset), every value escaped, raw values
masked for ID numbers, mobiles and cards (a provider may echo them). Colours come from
JupyterLab's theme variables when present, else from ``prefers-color-scheme``: readable on
light and dark themes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._core.redact import redact_text
from ._values import Factor, Range
from .factors import catalog

if TYPE_CHECKING:
    from .models import MultiLendingReport

__all__ = ["render"]

#: (code, what it is) of the scores, and the range each kind lives in
_SCORE_RANGES = {"model_score": (350.0, 950.0), "ratio_score": (0.0, 1.0)}
_OVERDUE = ("xyp_cpl0044", "xyp_cpl0028", "xyp_cpl0031", "xyp_cpl0071", "xyp_cpl0072")
_WINDOWS = (
    ("last day", "xyp_cpl0070"),
    ("last 7 days", "xyp_cpl0009"),
    ("last 30 days", "xyp_cpl0011"),
    ("total", "xyp_cpl0001"),
)
_KINDS_OF_INSTITUTION = (
    ("settled", "xyp_cpl0002"),
    ("consumer finance", "xyp_cpl0007"),
    ("online loan", "xyp_cpl0008"),
)
_BUCKET_KINDS = frozenset({"count_bucket", "amount_bucket", "dictionary"})

_CSS = """
.creditsdk-report{
  --cs-fg:var(--jp-content-font-color0,#1f2328);--cs-muted:var(--jp-content-font-color2,#57606a);
  --cs-bg:var(--jp-layout-color0,#ffffff);--cs-alt:var(--jp-layout-color2,#f3f5f7);
  --cs-border:var(--jp-border-color2,#d0d7de);--cs-accent:var(--jp-brand-color1,#0a5cc2);
  --cs-bad-fg:#8a0b1f;--cs-bad-bg:#ffe1e0;--cs-warn-fg:#6b4400;--cs-warn-bg:#fff1c2;
  --cs-ok-fg:#116329;
  color:var(--cs-fg);background:var(--cs-bg);color-scheme:light dark;
  font-family:var(--jp-ui-font-family,system-ui,-apple-system,"Segoe UI","PingFang SC",
    "Microsoft YaHei","Noto Sans CJK SC",sans-serif);
  font-size:13px;line-height:1.45;max-width:58em;padding:.6em .8em;
  border:1px solid var(--cs-border);border-radius:6px}
@media (prefers-color-scheme:dark){.creditsdk-report{
  --cs-fg:var(--jp-content-font-color0,#e6edf3);--cs-muted:var(--jp-content-font-color2,#9da7b3);
  --cs-bg:var(--jp-layout-color0,#0d1117);--cs-alt:var(--jp-layout-color2,#161b22);
  --cs-border:var(--jp-border-color2,#3d444d);--cs-accent:var(--jp-brand-color1,#4c9bff);
  --cs-bad-fg:#ffd7d5;--cs-bad-bg:#6e1018;--cs-warn-fg:#ffe8a3;--cs-warn-bg:#4d3500;
  --cs-ok-fg:#7ee2a0}}
[data-jp-theme-light="false"] .creditsdk-report{
  --cs-bad-fg:#ffd7d5;--cs-bad-bg:#6e1018;--cs-warn-fg:#ffe8a3;--cs-warn-bg:#4d3500;
  --cs-ok-fg:#7ee2a0}
.creditsdk-report .cs-title{font-weight:600;font-size:14px}
.creditsdk-report .cs-muted{color:var(--cs-muted)}
.creditsdk-report .cs-section{margin:.7em 0 .2em;font-weight:600;color:var(--cs-fg)}
.creditsdk-report .cs-notice{margin:.5em 0;padding:.45em .6em;border-radius:4px;
  color:var(--cs-warn-fg);background:var(--cs-warn-bg)}
.creditsdk-report .cs-notice code{color:inherit;background:transparent}
.creditsdk-report table{border-collapse:collapse;margin:.2em 0;color:var(--cs-fg);
  background:var(--cs-bg)}
.creditsdk-report th,.creditsdk-report td{padding:.2em .6em;text-align:left;
  border-bottom:1px solid var(--cs-border);color:inherit;background:inherit;vertical-align:top}
.creditsdk-report th{color:var(--cs-muted);font-weight:600}
.creditsdk-report .cs-num{text-align:right;font-variant-numeric:tabular-nums}
.creditsdk-report .cs-bar{display:inline-block;width:12em;height:.7em;border-radius:.35em;
  background:var(--cs-alt);border:1px solid var(--cs-border);vertical-align:middle;
  overflow:hidden}
.creditsdk-report .cs-bar>span{display:block;height:100%;background:var(--cs-accent)}
.creditsdk-report tr.cs-on td,.creditsdk-report td.cs-on{color:var(--cs-bad-fg);
  background:var(--cs-bad-bg);font-weight:600}
.creditsdk-report .cs-clear{color:var(--cs-ok-fg)}
.creditsdk-report details{margin-top:.7em}
.creditsdk-report summary{cursor:pointer;color:var(--cs-accent);font-weight:600}
.creditsdk-report details table tbody tr:nth-child(even) td{background:var(--cs-alt)}
.creditsdk-report code{font-family:var(--jp-code-font-family,ui-monospace,monospace);
  color:inherit;background:transparent}
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _raw(factor: Factor) -> str:
    """The raw value as sent, plain (``4``, not ``'4'``), masked for personal data."""
    return "" if factor.raw is None else redact_text(factor.raw)


def _value(factor: Factor) -> str:
    if factor.status == "unrecognized":
        return f"{_raw(factor)} (unrecognized)"
    if factor.status == "no_table":
        return f"code {_raw(factor)} (no table)"
    return redact_text(factor.display())


def _label(factor: Factor) -> str:
    return factor.label_en or factor.label or factor.code


def _flag_on(factor: Factor) -> bool:
    """Set: a flag that is True, or an overdue count/amount above zero."""
    if factor.status != "decoded":
        return False
    value = factor.value
    if isinstance(value, bool):
        return value
    if isinstance(value, Range):
        return value.low is not None and value.low > 0
    return False


def _scores(report: MultiLendingReport) -> str:
    documented = catalog()
    rows = []
    for code, entry in documented.items():
        span = _SCORE_RANGES.get(entry.kind)
        if span is None:
            continue
        factor = report.factor(code)
        low, high = span
        value = factor.value
        if factor.status == "decoded" and isinstance(value, (int, float)):
            share = min(1.0, max(0.0, (float(value) - low) / (high - low)))
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            bar = (
                f'<span class="cs-bar" role="meter" aria-valuemin="{low:g}" '
                f'aria-valuemax="{high:g}" aria-valuenow="{float(value):g}">'
                f'<span style="width:{share * 100:.1f}%"></span></span>'
            )
        else:
            shown, bar = _esc(_value(factor)), ""
        rows.append(
            f'<tr data-factor="{_esc(code)}"><td>{_esc(_label(factor))}</td>'
            f'<td class="cs-num">{shown}</td><td>{bar}</td>'
            f'<td class="cs-muted">{low:g}&ndash;{high:g}</td></tr>'
        )
    return (
        '<div class="cs-section" data-section="scores">Model scores</div>'
        "<table><thead><tr><th>score</th><th>value</th><th></th><th>range</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _overdue(report: MultiLendingReport) -> str:
    rows = []
    for code in _OVERDUE:
        factor = report.factor(code)
        on = _flag_on(factor)
        if isinstance(factor.value, bool) and factor.status == "decoded":
            text = "YES" if factor.value else "no"
        else:
            text = _value(factor)
        cls = ' class="cs-on" data-flag="on"' if on else ""
        mark = "&#9888; " if on else ""
        rows.append(
            f'<tr{cls} data-factor="{_esc(code)}"><td>{_esc(_label(factor))}</td>'
            f"<td>{mark}{_esc(text)}</td></tr>"
        )
    any_on = any(_flag_on(report.factor(c)) for c in _OVERDUE)
    verdict = (
        '<span class="cs-on" data-flag="on">&#9888; overdue on record</span>'
        if any_on
        else '<span class="cs-clear">no overdue flag set</span>'
    )
    return (
        f'<div class="cs-section" data-section="overdue">Overdue &middot; {verdict}</div>'
        f"<table><tbody>{''.join(rows)}</tbody></table>"
    )


def _cells(report: MultiLendingReport, pairs: Iterable[tuple[str, str]]) -> tuple[str, str]:
    heads, cells = [], []
    for title, code in pairs:
        factor = report.factor(code)
        heads.append(f'<th title="{_esc(code)}">{_esc(title)}</th>')
        cells.append(f'<td data-factor="{_esc(code)}">{_esc(_value(factor))}</td>')
    return "".join(heads), "".join(cells)


def _institutions(report: MultiLendingReport) -> str:
    head, row = _cells(report, _WINDOWS)
    head2, row2 = _cells(report, _KINDS_OF_INSTITUTION)
    return (
        '<div class="cs-section" data-section="institutions">Lending institutions by window</div>'
        f"<table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"
        f"<table><thead><tr>{head2}</tr></thead><tbody><tr>{row2}</tr></tbody></table>"
    )


def _tables_line(report: MultiLendingReport) -> str:
    tables = report.tables
    loaded = tables is not None and bool(tables.tables)
    if loaded:
        name = report.tables_name or "unnamed"
        return f'<div class="cs-muted">bucket tables: {_esc(name)}</div>'
    waiting = sum(1 for f in report.factors.values() if f.status == "no_table")
    if not waiting and not any(f.kind in _BUCKET_KINDS for f in report.factors.values()):
        return ""
    return (
        '<div class="cs-notice" data-section="no-tables">'
        f"<strong>No bucket tables loaded</strong>: {waiting} bucket factors show their code only "
        "(no interval is invented). Load your contract's tables with "
        '<code>TianyuanClient(bucket_tables="contract.toml")</code>, or decode this report '
        "again with <code>MultiLendingReport.from_factors(report.raw, tables=...)</code>; "
        "see docs/bucket-tables.md.</div>"
    )


def _full_table(report: MultiLendingReport) -> str:
    factors = report.sorted_factors()
    rows = []
    for f in factors:
        cls = ' class="cs-on" data-flag="on"' if f.kind == "flag" and _flag_on(f) else ""
        rows.append(
            f"<tr{cls}><td><code>{_esc(f.code)}</code></td><td>{_esc(f.label or '')}</td>"
            f"<td>{_esc(f.label_en or '')}</td><td>{_esc(_raw(f))}</td>"
            f'<td>{_esc(_value(f))}</td><td class="cs-muted">{_esc(f.status)}</td></tr>'
        )
    return (
        f'<details data-section="factors"><summary>All {len(factors)} factors</summary>'
        "<table><thead><tr><th>code</th><th>标签</th><th>label</th><th>raw</th>"
        f"<th>value</th><th>status</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</details>"
    )


def render(report: MultiLendingReport) -> str:
    """The report as one self-contained HTML fragment."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
    tid = "" if report.transaction_id is None else redact_text(report.transaction_id)
    head = (
        '<div class="cs-title">Tianyuan multi-lending report</div>'
        f'<div class="cs-muted">transaction {_esc(tid or "–")} &middot; '
        f"{len(report.factors)} factors{' (' + _esc(counts) + ')' if counts else ''}</div>"
    )
    if not report.has_data:
        body = (
            '<div class="cs-notice" data-section="no-data">The provider has no data for this '
            "applicant (a billed answer).</div>"
        )
        return f'<div class="creditsdk-report"><style>{_CSS}</style>{head}{body}</div>'
    parts = [
        head,
        _tables_line(report),
        _scores(report),
        _overdue(report),
        _institutions(report),
        _full_table(report),
    ]
    return f'<div class="creditsdk-report"><style>{_CSS}</style>{"".join(parts)}</div>'
