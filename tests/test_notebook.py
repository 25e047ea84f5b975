"""examples/notebook.ipynb executes headless against the Sandbox, with the current interpreter."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebook.ipynb"
SECRETS = ("11010519491231002X", "13800138000", "张三")
KERNEL = "creditsdk-test-kernel"


@pytest.fixture
def kernel_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec that runs ipykernel with *this* interpreter (fresh venvs, no PATH games)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "creditsdk tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for key in list(os.environ):
        if key.startswith("CREDITSDK_"):
            monkeypatch.delenv(key)  # the notebook must use the Sandbox
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return KERNEL


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


def test_notebook_runs_headless(kernel_here: str) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel_here,
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Tianyuan multi-lending report" in h and "<table>" in h for h in html)
    assert any("dataframe" in h and "110105********002X" in h for h in html)  # the pandas frame
    assert [o for o in outputs if "image/png" in o.get("data", {})], "no plot"
    text = json.dumps([dict(o) for o in outputs], ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text
    assert "billed calls in the sandbox ledger: 42" in text
