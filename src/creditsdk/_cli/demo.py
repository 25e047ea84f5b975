"""``creditsdk demo``: every provider's whole flow against the embedded Sandbox.

One Sandbox on 127.0.0.1, one sample applicant, then each provider's demo step (the ``demo`` of
its spec) in the specs' order, then the Sandbox's billing ledger. Personal data is shown masked
only; tokens never. `collect()` returns the summary as plain data (what ``--json`` prints): one
section per provider, under its name.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from typing import Any, TextIO

from .. import __version__
from .._core.redact import mask_card

__all__ = ["SAMPLE", "collect", "render_plain", "render_rich", "run_demo"]

#: The sample applicant (synthetic: a valid check digit, the provider docs' sample numbers).
SAMPLE = {
    "name": "张三",
    "id_card": "11010519491231002X",
    "mobile": "13800138000",
    "card_no": "6262320120153210",
}


def _steps(sb: Any) -> list[tuple[str, Any]]:
    from .._spec import discover_specs

    steps = []
    for spec in discover_specs():
        step = spec.demo_step() if spec.name in sb.providers else None
        if step is not None:
            steps.append((spec.name, step))
    return steps


def _steps_of(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    from .._spec import discover_specs

    return [
        (spec.name, spec.demo_step())
        for spec in discover_specs()
        if spec.name in summary and spec.demo is not None
    ]


def collect(*, seed: int = 0, **options: Any) -> dict[str, Any]:
    """Run the whole demo against a fresh Sandbox; return the (masked) summary.

    ``options`` go to every provider's step (e.g. ``scenario="light"`` for a report's
    sandbox scenario); a step ignores those it does not know."""
    from .. import Applicant, Consent
    from .._spec import Sample
    from ..sandbox import Sandbox

    started = time.perf_counter()
    applicant = Applicant(name=SAMPLE["name"], id_card=SAMPLE["id_card"], mobile=SAMPLE["mobile"])
    card = SAMPLE["card_no"]
    consent = Consent(
        reference="DEMO-AUTH-0001",
        purpose="credit_underwriting",
        granted_at=_dt.datetime.now() - _dt.timedelta(minutes=1),
    )
    sample = Sample(applicant=applicant, consent=consent, card_no=card)
    out: dict[str, Any] = {
        "creditsdk": __version__,
        "applicant": {**applicant.masked(), "card_no": mask_card(card)},
        "consent": {"reference": consent.reference, "purpose": consent.purpose},
    }
    with Sandbox(seed=seed) as sb:
        out["sandbox"] = {"base_url": sb.base_url, "seed": seed, "providers": sb.providers}
        for name, step in _steps(sb):
            out[name] = step.collect(sb, sample, **options)

        # -- What the providers would bill.
        ledger = sb.ledger()
        out["ledger"] = {
            "billed_calls": {name: len(sb.ledger(name)) for name in sb.providers},
            "entries": [
                {
                    "provider": e.provider,
                    "operation": e.operation,
                    "transaction_id": e.transaction_id,
                }
                for e in ledger
            ],
        }
    out["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    return out


# -- rendering ------------------------------------------------------------------------------


def render_plain(summary: dict[str, Any], stream: TextIO) -> None:
    """The summary as plain text (when ``rich`` is not installed)."""
    w = stream.write
    a = summary["applicant"]
    w(f"creditsdk {summary['creditsdk']} demo: Sandbox at {summary['sandbox']['base_url']}\n")
    w(f"applicant: {a['name']}  {a['id_card']}  {a['mobile']}  card {a['card_no']}\n\n")
    for name, step in _steps_of(summary):
        step.render_plain(summary[name], w)
    billed = ", ".join(f"{k} {v}" for k, v in summary["ledger"]["billed_calls"].items())
    w(f"Sandbox ledger (billed calls): {billed}\n")
    w(f"done in {summary['elapsed_seconds']:.2f} s\n")


def render_rich(summary: dict[str, Any], console: Any) -> None:
    """The summary as rich tables and panels."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    a = summary["applicant"]
    console.print(
        Panel.fit(
            f"[bold]creditsdk {summary['creditsdk']}[/] demo · Sandbox at "
            f"[cyan]{summary['sandbox']['base_url']}[/] (loopback, no network, no credentials)\n"
            f"applicant [bold]{a['name']}[/]  ID {a['id_card']}  mobile {a['mobile']}  "
            f"card {a['card_no']}",
            border_style="blue",
        )
    )

    for name, step in _steps_of(summary):
        step.render_rich(summary[name], console)

    table = Table(title="Sandbox ledger: billed calls", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("provider")
    table.add_column("billed calls", justify="right")
    table.add_column("operations")
    for name, count in summary["ledger"]["billed_calls"].items():
        ops = [e["operation"] for e in summary["ledger"]["entries"] if e["provider"] == name]
        table.add_row(name, str(count), ", ".join(ops))
    console.print(table)
    console.print()
    console.print(f"[dim]done in {summary['elapsed_seconds']:.2f} s[/]")


def run_demo(*, as_json: bool = False, seed: int = 0, plain: bool = False) -> int:
    """Run the demo and print it (rich tables, plain text, or one JSON document)."""
    summary = collect(seed=seed)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    if not plain:
        try:
            from rich.console import Console
        except ImportError:
            plain = True
        else:
            render_rich(summary, Console())
    if plain:
        render_plain(summary, sys.stdout)
    return 0
