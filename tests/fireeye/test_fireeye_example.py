"""examples/fireeye_quickstart.py runs against the Sandbox and prints nothing unmasked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fireeye_quickstart.py"


def test_quickstart_runs_against_the_sandbox() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSDK_FIREEYE_")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "matched=True" in out
    assert "no such transaction" in out
    assert "billed calls in the sandbox ledger: 3" in out
    for personal in ("6262320120153210", "6262320120123210", "11010519491231002X", "13800138000"):
        assert personal not in out + result.stderr
