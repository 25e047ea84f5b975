"""``creditsdk query``: one query from the shell (filled in as providers land)."""

from __future__ import annotations

import argparse
from typing import Any


def add_query_parser(sub: Any) -> argparse.ArgumentParser:
    query: argparse.ArgumentParser = sub.add_parser(
        "query", help="run one query against a provider (or --sandbox)"
    )
    return query
