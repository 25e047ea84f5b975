"""The documentation site builds strictly, and what it renders reads as documentation.

The site is built with Zensical (`zensical build --strict`, reading `mkdocs.yml`): a link to a
missing page or anchor, or a cross-reference to an API object that is not rendered, fails the
build. On top of that the built HTML is checked for what a strict build lets through: raw Sphinx
roles, RST `::`, headings or `>>>` text made from docstring examples, unresolved `[x][y]`
references, and pointers to files a reader of the site does not have.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# Files and documents that live outside this repository (design notes, research seeds).
# Case matters for the file names: docs/protocols.md is ours.
OUTSIDE_FILES = re.compile(
    r"PROTOCOLS\.md|API\.md|ARCHITECTURE\.md|shared/design"
    r"|(?i:seed document|the seed's|seed-\d{3}|seeds/)"
)
SPHINX_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const|ref|term):[`~\w]"
)
DOCSTRING_HEADING = re.compile(r"<h[1-6][^>]*\bid=\"creditsdk[\w.]*--[^\"]*\"[^>]*>", re.IGNORECASE)
CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
TAG = re.compile(r"<[^>]+>")


def build_site(dest: Path, *, append_to_index: str = "") -> subprocess.CompletedProcess[str]:
    """Build the site into ``dest/site`` from a copy of docs/ (the build writes a cache beside
    its config, so it runs on a copy rather than in the work tree)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            plugin["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT / "src")]
    shutil.copytree(ROOT / "docs", dest / "docs")
    if append_to_index:
        index = dest / "docs" / "index.md"
        index.write_text(index.read_text(encoding="utf-8") + append_to_index, encoding="utf-8")
    (dest / "mkdocs.yml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return subprocess.run(
        [sys.executable, "-m", "zensical", "build", "--strict", "-f", str(dest / "mkdocs.yml")],
        cwd=dest,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("docs")
    result = build_site(dest)
    assert result.returncode == 0, result.stdout + result.stderr
    return dest / "site"


def _pages(site: Path) -> dict[str, str]:
    return {
        str(p.relative_to(site)): p.read_text(encoding="utf-8")
        for p in sorted(site.rglob("*.html"))
        if p.name != "404.html"
    }


def _prose(page: str) -> str:
    """The page's visible text outside code: what a reader sees as sentences."""
    body = SCRIPT.sub("", page)
    body = CODE.sub("`code`", body)  # keeps `:class:<code>X</code>` recognisable
    return html.unescape(TAG.sub("", body))


def test_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").exists()
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    # The API reference is really rendered (not left as `::: creditsdk.x` directives).
    for anchor in ("creditsdk.Applicant", "creditsdk.tianyuan.TianyuanClient", "creditsdk.errors"):
        assert f'id="{anchor}"' in reference, anchor
    assert "::: creditsdk" not in reference


def test_strict_build_fails_on_a_broken_link_or_reference(tmp_path: Path) -> None:
    """The strictness the other tests rely on: a dangling link or cross-reference fails."""
    result = build_site(
        tmp_path,
        append_to_index="\n[gone](no-such-page.md) [`Nope`][creditsdk.NoSuchThing]\n",
    )
    assert result.returncode != 0
    out = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # colours
    assert "page does not exist" in out
    assert "unresolved autoref" in out


def test_no_raw_sphinx_roles_or_rst(site: Path) -> None:
    problems = []
    for name, page in _pages(site).items():
        text = _prose(page)
        problems += [f"{name}: {m.group(0)!r}" for m in SPHINX_ROLE.finditer(text)]
        problems += [
            f"{name}: RST '::' in {text[max(0, m.start() - 40) : m.end()]!r}"
            for m in re.finditer(r"\S::(?=\s|$)", text)
        ]
    assert problems == []


def test_docstring_examples_render_as_code(site: Path) -> None:
    """A docstring's `>>> # …` line once became an <h3> in the table of contents."""
    problems = []
    for name, page in _pages(site).items():
        problems += [f"{name}: {m.group(0)}" for m in DOCSTRING_HEADING.finditer(page)]
        text = _prose(page)
        problems += [f"{name}: '>>>' outside code" for _ in re.finditer(r">>>", text)]
        problems += [f"{name}: blockquote" for _ in re.finditer(r"<blockquote", CODE.sub("", page))]
    assert problems == []


def test_cross_references_resolve(site: Path) -> None:
    """An unresolved `[Name][path]` is left as text by the renderer: none may remain."""
    problems = []
    for name, page in _pages(site).items():
        text = _prose(page)
        problems += [f"{name}: {m.group(0)!r}" for m in re.finditer(r"\]\[[\w.]*\]", text)]
    assert problems == []
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert 'href="#creditsdk.tianyuan.BucketTables"' in reference  # a docstring link


def test_no_pointer_to_files_outside_the_repo(site: Path) -> None:
    sources = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")}
    sources["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    problems = [
        f"{name}: {m.group(0)!r}"
        for name, text in sources.items()
        for m in OUTSIDE_FILES.finditer(text)
    ]
    # Docstrings rendered into the API reference, too.
    problems += [
        f"{name}: {m.group(0)!r}"
        for name, page in _pages(site).items()
        for m in OUTSIDE_FILES.finditer(_prose(page))
    ]
    assert problems == []


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    missing = [p for p in pages if p not in nav]
    assert missing == [], f"pages not in mkdocs.yml nav: {missing}"


def test_protocols_page_marks_and_sources() -> None:
    """What the SDK knows of each wire protocol, with confirmed / inferred / unknown marks."""
    text = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    for provider in ("Tianyuan", "FireEye", "Sesame"):
        assert f"## {provider}" in text or provider in text
    for mark in ("[C]", "[I]", "[U]"):
        assert text.count(mark) >= 3, mark
    assert "## Sources" in text
