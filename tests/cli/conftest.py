"""Helpers for the CLI tests: run ``creditsdk`` in-process or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: The demo's sample applicant, unmasked: none of these may appear in any output.
SECRETS = ("11010519491231002X", "13800138000", "张三", "6262320120123210", "6262320120153210")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any CREDITSDK_* setting (so nothing reaches a real provider)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSDK_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m creditsdk ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "creditsdk", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env if env is not None else clean_env(),
        timeout=120,
        check=False,
    )


def console_script() -> Path:
    """The ``creditsdk`` entry point installed next to this interpreter."""
    name = "creditsdk.exe" if os.name == "nt" else "creditsdk"
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.skip("the creditsdk console script is not installed next to this interpreter")
    return path


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CREDITSDK_"):
            monkeypatch.delenv(key)
