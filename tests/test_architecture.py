"""The house rules that keep "a provider is one folder" true (issue 13).

(a) No module outside a provider folder mentions a provider by name: identifiers, attribute
    names, string constants (f-string parts included) and imported names are read from the AST;
    docstrings and comments are not. The names come from the installed specs
    (``discover_specs()``): each provider's short name, its package name and its aliases.
    A provider's wire field names (its spec's ``wire_names``, e.g. ``sub_msg``) stay in its
    folder too.
(b) No import cycles, counting imports inside functions (a cycle through a lazy import is still
    a cycle: the two modules cannot be understood, or moved, one without the other).
(c) Every discovered spec is complete: its references resolve, it has a Sandbox plug-in and at
    least one operation for the fault matrix and the leak scan.

What still breaks a rule in another room is marked ``xfail(strict=True)`` with the room named:
when that room fixes it, the mark must go (a strict xfail that passes fails the suite).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import creditsdk
from creditsdk._spec import DemoStep, ProviderSpec, discover_specs, resolve
from creditsdk.batch import BatchOperation
from creditsdk.errors import ConfigurationError

SRC = Path(creditsdk.__file__).parent
SPECS = discover_specs()

#: A spec's short name that is also an ordinary word of the SDK: ``creditsdk demo`` is a command
#: and ``demo`` the name of its module. The demo bureau's package name (``demobureau``) is still
#: checked, and so are its operation names (``demo.score``) as strings.
COMMON_WORDS = frozenset({"demo"})


def _package(spec: ProviderSpec) -> str:
    """``creditsdk.<pkg>``: the folder the spec's client lives in."""
    module = spec.client.partition(":")[0]
    return ".".join(module.split(".")[:2])


PROVIDER_PACKAGES = {_package(spec) for spec in SPECS}


def _words(spec: ProviderSpec) -> set[str]:
    words = {_package(spec).rpartition(".")[2], *spec.aliases}
    if spec.name not in COMMON_WORDS:
        words.add(spec.name)
    return {w.lower() for w in words}


WORDS = sorted(set().union(*(_words(spec) for spec in SPECS)))
OPERATION_NAMES = sorted(
    {name for spec in SPECS for name in spec.batch_operations}
    | {op.name for spec in SPECS for op in spec.matrix_operations()}
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _in_provider_folder(module: str) -> bool:
    return any(module == pkg or module.startswith(pkg + ".") for pkg in PROVIDER_PACKAGES)


CENTRAL = sorted(m for m in MODULES if not _in_provider_folder(m))


# -- (a) no provider names outside provider folders -----------------------------------------


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def _names_in(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """(line, kind, text) of every identifier, attribute, import and string constant."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            yield line, "name", node.id
        elif isinstance(node, ast.Attribute):
            yield line, "attribute", node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield line, "definition", node.name
        elif isinstance(node, ast.arg):
            yield line, "argument", node.arg
        elif isinstance(node, ast.keyword) and node.arg:
            yield line, "keyword", node.arg
        elif isinstance(node, ast.alias):
            yield line, "import", node.name
            if node.asname:
                yield line, "import", node.asname
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield line, "import", node.module
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            yield line, "string", node.value


def provider_mentions(module: str) -> list[str]:
    """Where ``module`` names a provider: ``"line kind: text"``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    pattern = re.compile("|".join(re.escape(w) for w in WORDS), re.IGNORECASE)
    hits = []
    for line, kind, text in _names_in(tree):
        if pattern.search(text) or (kind == "string" and text in OPERATION_NAMES):
            hits.append(f"{line} {kind}: {text[:60]!r}")
    return sorted(set(hits), key=lambda h: int(h.split()[0]))


#: Modules of other rooms that still name a provider (found by this test when it was written).
#: The room that owns the module removes the names; then its entry goes.
KNOWN_MENTIONS: dict[str, str] = {}


def _mention_params() -> list[object]:
    params: list[object] = []
    for module in CENTRAL:
        room = KNOWN_MENTIONS.get(module)
        marks = [pytest.mark.xfail(strict=True, reason=room)] if room else []
        params.append(pytest.param(module, marks=marks, id=module))
    return params


def test_the_vocabulary_comes_from_the_specs() -> None:
    assert len(SPECS) >= 2
    assert WORDS  # what the next test looks for
    assert all(pkg.startswith("creditsdk.") for pkg in PROVIDER_PACKAGES)
    assert "creditsdk._cli" in CENTRAL
    assert "creditsdk.batch.operations" in CENTRAL


def test_the_check_finds_a_provider_name() -> None:
    """The check can fail: a module naming a provider's client is caught, a docstring is not."""
    word = WORDS[0]
    source = f'"""About {word}."""\nfrom creditsdk.{word} import Client\nx = "{word}.op"\n'
    tree = ast.parse(source)
    pattern = re.compile(re.escape(word), re.IGNORECASE)
    hits = [(line, kind) for line, kind, text in _names_in(tree) if pattern.search(text)]
    assert (1, "string") not in hits
    assert (2, "import") in hits
    assert (3, "string") in hits


@pytest.mark.parametrize("module", _mention_params())
def test_no_provider_names_outside_provider_folders(module: str) -> None:
    assert provider_mentions(module) == []


WIRE_NAMES = sorted({w for spec in SPECS for w in spec.wire_names})

#: Central modules of other rooms that still handle a provider's wire fields.
KNOWN_WIRE_NAMES: dict[str, str] = {}


def wire_name_mentions(module: str) -> list[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    hits = set()
    for line, kind, text in _names_in(tree):
        for w in WIRE_NAMES:
            if text == w or (w.endswith("_") and text.startswith(w)):
                hits.add(f"{line} {kind}: {text[:60]!r}")
    return sorted(hits)


def _wire_params() -> list[object]:
    params: list[object] = []
    for module in CENTRAL:
        room = KNOWN_WIRE_NAMES.get(module)
        marks = [pytest.mark.xfail(strict=True, reason=room)] if room else []
        params.append(pytest.param(module, marks=marks, id=module))
    return params


@pytest.mark.parametrize("module", _wire_params())
def test_no_provider_wire_names_outside_provider_folders(module: str) -> None:
    assert wire_name_mentions(module) == []


# -- (b) no import cycles -----------------------------------------------------------------


def _imports(module: str) -> set[str]:
    """The modules of the package ``module`` imports, at any depth (functions included),
    except under ``if TYPE_CHECKING:``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name in MODULES)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
                out.update(subs)
                if target in MODULES and len(subs) < len(node.names):
                    out.add(target)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit([n for n in inner if isinstance(n, ast.stmt)])
                    for handler in inner:
                        if isinstance(handler, ast.ExceptHandler):
                            visit(handler.body)
            if isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)

    visit(tree.body)
    out.discard(module)
    return out


def import_cycles() -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph = {m: _imports(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            connect(v)
    return found


#: Cycles inside other rooms: the owner moves the value types so dependencies run one way.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def test_the_cycle_finder_finds_a_lazy_cycle() -> None:
    tree = ast.parse("def f():\n    from . import b\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
    # the real graph: the batch runner reaches the operations, never the other way at import
    graph = _imports("creditsdk.batch._runner")
    assert "creditsdk.batch.operations" in graph


def test_no_import_cycles_beyond_the_known_ones() -> None:
    cycles = [sorted(c) for c in import_cycles() if c not in KNOWN_CYCLES]
    assert cycles == []


@pytest.mark.parametrize(
    "cycle",
    [
        # the two cycles of before issue 13: value types moved so imports run one way
        frozenset({"creditsdk.tianyuan.factors", "creditsdk.tianyuan.models"}),
        frozenset({"creditsdk.batch.demo", "creditsdk.batch.operations"}),
    ],
    ids=["tianyuan-factors-models", "batch-demo-operations"],
)
def test_known_cycle_is_gone(cycle: frozenset[str]) -> None:
    assert cycle not in import_cycles()


# -- (c) every spec is complete -----------------------------------------------------------

#: Specs whose config_from_env reference does not resolve yet: the provider room adds
#: ``<Config>.from_env()`` (contract §2), then the entry goes.
MISSING_FROM_ENV: dict[str, str] = {}


def _spec_params(marks_for: dict[str, str] | None = None) -> list[object]:
    out: list[object] = []
    for spec in SPECS:
        room = (marks_for or {}).get(spec.name)
        marks = [pytest.mark.xfail(strict=True, reason=room)] if room else []
        out.append(pytest.param(spec, marks=marks, id=spec.name))
    return out


@pytest.mark.parametrize("spec", _spec_params())
def test_spec_is_complete(spec: ProviderSpec) -> None:
    assert spec.name.isidentifier()
    assert spec.display_name
    assert isinstance(spec.client_class(), type)
    assert isinstance(spec.async_client_class(), type)
    factory = spec.sandbox_factory()
    assert callable(factory)
    ops = spec.matrix_operations()
    assert ops, "the fault matrix and the leak scan need at least one operation"
    for op in ops:
        assert op.name.startswith(spec.name + ".")
    for name in spec.batch_operations:
        assert name.startswith(spec.name + ".")
        operation = spec.batch_operation_factory(name)()
        assert isinstance(operation, BatchOperation)
        assert operation.name == name
    if spec.commands is not None:
        assert callable(resolve(spec.commands))
    if spec.demo is not None:
        assert isinstance(spec.demo_step(), DemoStep)


@pytest.mark.parametrize("spec", _spec_params(MISSING_FROM_ENV))
def test_spec_config_from_env_resolves(spec: ProviderSpec) -> None:
    assert callable(spec.config_from_env_function())


@pytest.mark.parametrize("spec", [s for s in SPECS if s.in_default_sandbox], ids=lambda s: s.name)
def test_default_sandbox_hosts_every_default_spec(spec: ProviderSpec) -> None:
    from creditsdk.sandbox import Sandbox

    assert spec.name in Sandbox().providers


def test_a_broken_provider_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "brokenprov"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('a dependency is missing')\n")
    (broken / "_spec.py").write_text("SPEC = None\n")
    notspec = tmp_path / "notspec"
    notspec.mkdir()
    (notspec / "__init__.py").write_text("")
    (notspec / "_spec.py").write_text("SPEC = 'not a ProviderSpec'\n")
    monkeypatch.setattr(creditsdk, "__path__", [*creditsdk.__path__, str(tmp_path)])
    discover_specs.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match=r"creditsdk\.brokenprov is broken.*missing"):
            discover_specs()
        (broken / "__init__.py").write_text("")
        sys.modules.pop("creditsdk.brokenprov", None)
        (broken / "_spec.py").unlink()
        with pytest.raises(ConfigurationError, match=r"notspec is broken.*not a ProviderSpec"):
            discover_specs()
    finally:
        for name in [
            m for m in sys.modules if m.startswith(("creditsdk.brokenprov", "creditsdk.notspec"))
        ]:
            del sys.modules[name]
        monkeypatch.undo()
        discover_specs.cache_clear()
    assert discover_specs() == SPECS


def test_importing_creditsdk_reads_no_spec_and_no_provider() -> None:
    code = (
        "import sys, creditsdk\n"
        "print(sorted(m for m in sys.modules if m.startswith('creditsdk.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out))
    assert "creditsdk._spec" not in loaded
    assert not {m for m in loaded if _in_provider_folder(m)}, loaded
