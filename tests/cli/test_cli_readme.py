"""The README opens with the two commands CI runs, and its Python snippet works."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_lines = [line for line in text.splitlines() if line.strip()][:7]
    assert first_lines == [
        "# creditsdk",
        "```bash",
        "pip install -e '.[dev]' && creditsdk demo",
        "```",
        "```bash",
        "pip install -e '.[dev]' && pytest",
        "```",
    ]


def test_readme_python_snippet_runs() -> None:
    (code,) = [body for lang, body in _blocks() if lang == "python"]
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    report = namespace["report"]
    assert type(report).__name__ == "MultiLendingReport"
    assert str(getattr(report, "transaction_id", "")).startswith("TYSB")
