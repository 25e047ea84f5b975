"""The core's rooms: who may import httpx, and nothing in the core names a provider."""

from __future__ import annotations

import ast
import os
import pathlib

import creditsdk

SRC = pathlib.Path(creditsdk.__file__).parent
CORE = SRC / "_core"
#: The executors adapt wire values to httpx; config and the client bases take httpx values
#: from users (``timeout=httpx.Timeout``, ``http_client=``); the pool and the log filter are
#: httpx's own plumbing. Everything else in the core, and every ``_protocol``, is httpx-free.
HTTPX_ALLOWED = {"executors/_httpx.py", "executors/_aiohttp.py", "pool.py", "clients.py"}
HTTPX_ALLOWED |= {"config.py"}


def _typing_only(tree: ast.Module) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def _imports(path: pathlib.Path, *, module_level: bool = False) -> set[str]:
    """Top-level names imported by ``path``, typing-only imports left out (``module_level``:
    only those run at import time, not inside functions)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _typing_only(tree)
    if module_level:
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                skipped.update(id(n) for n in ast.walk(fn))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_protocols_and_the_core_outside_the_executors_import_no_httpx() -> None:
    checked = [p for p in CORE.rglob("*.py") if p.relative_to(CORE).as_posix() not in HTTPX_ALLOWED]
    checked += list(SRC.glob("*/_protocol.py"))
    assert len(checked) >= 10
    offenders = [str(p.relative_to(SRC)) for p in checked if "httpx" in _imports(p)]
    assert offenders == []


def test_only_the_aiohttp_executor_names_aiohttp_and_only_inside_functions() -> None:
    """aiohttp is an extra: importing creditsdk (or any executor module) never imports it."""
    offenders = [
        str(p.relative_to(SRC))
        for p in CORE.rglob("*.py")
        if {"aiohttp", "yarl"} & _imports(p, module_level=True)
    ]
    assert offenders == []  # _aiohttp.py imports it inside functions and under TYPE_CHECKING
    import subprocess
    import sys

    code = (
        "import sys, creditsdk._core.clients, creditsdk._core.executors._aiohttp;"
        "print('aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_core_names_no_provider_and_no_provider_field() -> None:
    words = ("tianyuan", "fireeye", "sesame", "zhima", "alipay", "unionpay", "sub_msg")
    found = []
    for path in CORE.rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        found += [f"{path.name}: {w}" for w in words if w in text]
    assert found == []


def test_importing_the_core_configures_no_logging() -> None:
    """Importing adds no handler, sets no level and leaves httpx's logger alone; the SDK's own
    loggers only get their masking filter (one each)."""
    import subprocess
    import sys

    code = (
        "import logging, creditsdk._core.call, creditsdk._core.redact, creditsdk._core.httplog;"
        "names = ('creditsdk', 'creditsdk.audit', 'creditsdk.batch', 'httpx');"
        "print([(len(logging.getLogger(n).filters), len(logging.getLogger(n).handlers),"
        " logging.getLogger(n).level) for n in names])"
    )
    env = {k: v for k, v in os.environ.items() if k != "CREDITSDK_LOG"}
    env["CREDITSDK_LOG"] = "debug"  # configured when a client is made, not at import
    out = subprocess.run(
        [sys.executable, "-c", code.replace("creditsdk._core.call", "creditsdk")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == "[(1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 0, 0)]"
