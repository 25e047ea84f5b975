"""Every script in examples/ runs against the Sandbox (no credentials) and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def _env_without_credentials() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSDK_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_against_the_sandbox(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=_env_without_credentials(),
        timeout=120,
        check=False,
    )
    if result.returncode == 77:  # the example says what it needs and that it is not there
        pytest.skip(result.stdout.strip() or "example skipped itself (exit 77)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "an example should show the user something"
