"""``creditsdk evaluate``: argparse wiring (the main CLI calls `add_parser`).

Exit codes: 0 the evaluation was written; 2 bad usage, unreadable runs or a missing extra.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]

_EPILOG = """\
Reads batch run folders (schema.json + results + summary.json + ledger.sqlite), joins them on
the row key, leaves out invalid / maybe_billed / error / not_sent / not_reached rows (counted),
and writes factors.csv, bins.csv, summary.csv, overlap.csv and report.html to the output folder.
Personal columns are never read. Needs: pip install 'creditsdk[evaluate]'. See docs/evaluate.md."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` to the main CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help="judge data sources from batch runs: hit rates, cost, IV/KS/AUC, PSI, report.html",
        description="Evaluate one or more batch runs against a known outcome, the way a risk "
        "team runs a data-source test.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="batch run folder(s)")
    parser.add_argument("--target", required=True, help="0/1 outcome column (1 = bad)")
    parser.add_argument("--time-col", help="column to slice PSI by (e.g. apply_month)")
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a score you already have (passthrough column or factor code); repeatable",
    )
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a passthrough column to evaluate as a factor too (your own feature); repeatable",
    )
    parser.add_argument("--prices", help="prices TOML (default: the prices in each summary.json)")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument(
        "--shuffles", type=int, default=200, help="label shuffles for the chance level (200)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffles (default 0)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigurationError

    if args.shuffles < 0:
        raise ConfigurationError("--shuffles must be >= 0")
    try:
        from ..evaluate import evaluate
    except ImportError as exc:  # numpy / pandas / scikit-learn missing
        raise ConfigurationError(
            f"creditsdk evaluate needs its extra ({exc.name} is missing): "
            "pip install 'creditsdk[evaluate]'"
        ) from None
    ev = evaluate(
        args.runs,
        target=args.target,
        time_col=args.time_col,
        baselines=args.baseline,
        prices=args.prices,
        columns=args.column,
        output=args.output,
        chance_shuffles=args.shuffles,
        seed=args.seed,
    )
    f = ev.factors
    print(f"evaluated   {ev.rows} rows, {ev.bads} bads, {len(f)} factors")
    for s in ev.summary.to_dict("records"):
        line = f"  {s['source']:<12} effective {s['effective_rate']:.1%}"
        if s.get("returned_rate") == s.get("returned_rate"):  # not NaN (the combined row)
            line += f", returned {s['returned_rate']:.1%}"
        if s.get("cost_per_effective_hit") == s.get("cost_per_effective_hit"):
            line += f", {s['cost_per_effective_hit']:.2f} {s['currency']} per effective hit"
        print(line)
    if ev.excluded:
        print("left out    " + ", ".join(f"{k}: {v}" for k, v in ev.excluded.items()))
    for _, r in f.head(5).iterrows():
        print(
            f"  {r['factor']:<24} IV {r['iv']:.3f} (chance {r['iv_chance95']:.3f})  "
            f"AUC {r['auc']:.3f}  KS {r['ks']:.3f}"
        )
    for w in ev.warnings:
        print(f"warning     {w}")
    print(f"output      {args.output}/report.html, factors.csv, bins.csv, summary.csv")
    return 0
