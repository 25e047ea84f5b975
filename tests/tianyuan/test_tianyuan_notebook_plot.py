"""The notebook's plot leaves the user's matplotlib backend alone (issue 16, item 17): no
``matplotlib.use`` / ``switch_backend`` / pyplot anywhere, and the plot cell, run in this
process, draws its PNG without touching the backend or pyplot's figure list."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


def _code_cells() -> list[str]:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _calls(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names.add(node.func.attr)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(
                f"import {a.name}" if isinstance(node, ast.Import) else f"import {node.module}"
                for a in node.names
            )
    return names


def test_no_cell_picks_a_backend_or_uses_pyplot() -> None:
    for source in _code_cells():
        calls = _calls(source)
        assert "use" not in calls, source  # matplotlib.use(...)
        assert "switch_backend" not in calls, source
        assert "import matplotlib.pyplot" not in calls, source
        assert "%matplotlib" not in source


def test_the_plot_cell_keeps_the_backend_and_draws_a_png() -> None:
    pd = pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    pytest.importorskip("IPython")
    (cell,) = [s for s in _code_cells() if "savefig" in s]
    before = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    shown: list[Any] = []
    namespace: dict[str, Any] = {
        "frame": pd.DataFrame({"xyp_model_score_high": [352.0, 702.0, None, 610.0]}),
    }
    import IPython.display

    original = IPython.display.display
    IPython.display.display = lambda *objs, **kw: shown.extend(objs)
    try:
        exec(compile(cell, "notebook plot cell", "exec"), namespace)
    finally:
        IPython.display.display = original
    assert matplotlib.get_backend() == before
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    (image,) = shown
    assert image.data.startswith(b"\x89PNG")
    assert namespace["ax"].get_title() == "3 of 4 applicants have a score"
