"""Tianyuan's part of ``creditsdk demo``: the JRZQ9E2A multi-lending report, decoded with the
Sandbox's synthetic bucket tables (declared in this package's spec)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._spec import DemoStep, Sample

__all__ = ["DEMO_FACTORS", "STEP"]

#: The named JRZQ9E2A factors the demo (and ``creditsdk query``) show, by report property.
DEMO_FACTORS = (
    "total_institutions",
    "institutions_last_7d",
    "institutions_last_30d",
    "currently_overdue",
    "overdue_institutions",
    "overdue_amount",
    "credit_risk_score",
    "small_loan_score",
    "instalment_score",
)


def collect(
    sb: Any, sample: Sample, *, scenario: str = "heavy_borrower", **_: Any
) -> dict[str, Any]:
    from .factors import SANDBOX_BUCKET_TABLES, load_bucket_tables

    sb.tianyuan.pin(sample.applicant.id_card, scenario)
    tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
    with sb.tianyuan_client(bucket_tables=tables) as ty:
        report = ty.multi_lending(sample.applicant, consent=sample.consent)
    # The report's own to_dict() (what `creditsdk query tianyuan multi-lending --json` prints):
    # every factor as {code, raw, value, status, label, label_en, kind, provenance}, with a
    # decoded bucket's value as {low, high, inclusivity, unit, label}. "highlights" are the
    # factors the demo shows, with their display text.
    highlights = []
    for prop in DEMO_FACTORS:
        f = getattr(report, prop)
        highlights.append({"name": prop, "code": f.code, "display": f.display()})
    return {
        **report.to_dict(),
        "product": "JRZQ9E2A",
        "scenario": scenario,
        "factor_count": len(report),
        "statuses": dict(sorted(report.counts().items())),
        "highlights": highlights,
    }


def render_plain(ty: Mapping[str, Any], w: Callable[[str], Any]) -> None:
    w(f"Tianyuan {ty['product']} multi-lending report  (transaction {ty['transaction_id']})\n")
    w(f"  tables: {ty['tables']} (synthetic, sandbox only)\n")
    for h in ty["highlights"]:
        label = ty["factors"][h["code"]]["label_en"] or ""
        w(f"  {h['code']:22} {label:40} {h['display']}\n")
    statuses = ", ".join(f"{k} {v}" for k, v in ty["statuses"].items())
    w(f"  {ty['factor_count']} factors: {statuses}\n\n")


def render_rich(ty: Mapping[str, Any], console: Any) -> None:
    from rich import box
    from rich.table import Table

    wide = console.width >= 110
    table = Table(
        title=f"Tianyuan · {ty['product']} multi-lending report",
        caption=f"transaction {ty['transaction_id']} · {ty['factor_count']} factors: "
        + ", ".join(f"{k} {v}" for k, v in ty["statuses"].items())
        + f"\ndecoded with '{ty['tables']}' (SYNTHETIC sandbox tables)",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
        caption_justify="left",
    )
    if wide:
        table.add_column("code", style="dim", no_wrap=True)
        table.add_column("标签", no_wrap=True)
    table.add_column("factor")
    table.add_column("raw", justify="right", no_wrap=True)
    table.add_column("value", style="bold", no_wrap=True)
    for h in ty["highlights"]:
        f = ty["factors"][h["code"]]
        cells = [f["label_en"] or f["code"], f["raw"] or "", h["display"]]
        if wide:
            cells = [f["code"], f["label"] or "", *cells]
        table.add_row(*cells)
    console.print(table)
    console.print()


STEP = DemoStep(collect, render_plain, render_rich)
