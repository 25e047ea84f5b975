"""What the fan-out and bucket-table examples print is right, not merely printed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .conftest import SECRETS, clean_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(*args: str) -> str:
    import subprocess

    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_async_fanout_respects_the_limit() -> None:
    out = _run(str(EXAMPLES / "async_fanout.py"), "30", "4")
    match = re.search(r"30 reports in [\d.]+ s, at most (\d+) in flight \(limit 4\)", out)
    assert match, out
    assert 1 <= int(match.group(1)) <= 4
    counts = [int(n) for n in re.findall(r"^  \S.*?\s(\d+)$", out, flags=re.M)]
    assert sum(counts) == 30
    assert "billed calls in the sandbox ledger: 30" in out
    assert "error" not in out


def test_async_fanout_synthetic_applicants_are_valid() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import async_fanout
    finally:
        sys.path.remove(str(EXAMPLES))
    people = async_fanout.synthetic_applicants(50)
    assert len({a.id_card for a, _ in people}) == 50  # Applicant() validated every check digit


def test_bucket_tables_redecodes_stored_raw() -> None:
    out = _run(str(EXAMPLES / "bucket_tables.py"))
    for secret in SECRETS:
        assert secret not in out
    assert "xyp_cpl0001            raw '4'      → code 4 (no table)" in out
    assert "xyp_cpl0001            raw '4'      → [29, 39) institutions" in out
    assert "the CSV form decodes xyp_cpl0001 the same way: True" in out
    assert "factors.xyp_cpl0001: buckets 1 and 2 overlap" in out
