"""The report's Jupyter view (issue 16, items 16 and 17): what an underwriter reads first, the
full table folded, light and dark themes, no personal data — rendered headless in Chromium —
and factors in natural order with plain raw values everywhere a report lists them."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, MultiLendingReport, load_bucket_tables
from creditsdk.tianyuan.models import natural_key

ID_CARD = "11010519491231002X"
MOBILE = "13912345678"

RAW = {
    "xyp_cpl0001": "2",
    "xyp_cpl0002": "1",
    "xyp_cpl0009": "1",
    "xyp_cpl0011": "2",
    "xyp_cpl0070": "",
    "xyp_cpl0044": "1",  # currently overdue: the flag an underwriter must not miss
    "xyp_cpl0028": "0",
    "xyp_cpl0031": "1",
    "xyp_cpl0071": "1",
    "xyp_cpl0072": "2",
    "xyp_cpl0081": "0.8123",
    "xyp_model_score_high": "702",
    "xyp_model_score_mid": "-1",
    "xyp_var10": "4",
    "xyp_var2": "4",
    "xyp_var1": "x",
    "xyp_echo<b>": f"{ID_CARD} {MOBILE}",  # a provider echoing the applicant, in a hostile key
}


def _report(tables: Any = None) -> MultiLendingReport:
    return MultiLendingReport.from_factors(RAW, transaction_id=f"T-{ID_CARD}", tables=tables)


# -- natural order and plain raw values (item 17) ------------------------------------------


def test_natural_key() -> None:
    codes = ["xyp_var10", "xyp_var2", "xyp_var1", "xyp_t04nloa_m12", "xyp_t04nloa_m3", "a01"]
    assert sorted(codes, key=natural_key) == [
        "a01",
        "xyp_t04nloa_m3",
        "xyp_t04nloa_m12",
        "xyp_var1",
        "xyp_var2",
        "xyp_var10",
    ]
    assert sorted(["a1", "a01"], key=natural_key) == ["a01", "a1"]  # ties broken, never equal


def _var_order(codes: Any) -> list[str]:
    return [c for c in codes if c.startswith("xyp_var")]


def test_every_listing_is_in_natural_order() -> None:
    report = _report()
    natural = ["xyp_var1", "xyp_var2", "xyp_var10"]
    assert _var_order(f.code for f in report) == natural
    assert _var_order(f.code for f in report.sorted_factors()) == natural
    d = report.to_dict()
    assert _var_order(d["factors"]) == natural
    assert _var_order(d["raw"]) == natural
    page = report._repr_html_()
    assert _var_order(re.findall(r"<code>(xyp_var\d+)</code>", page)) == natural
    assert list(report.factors) == list(RAW)  # the mapping keeps the order received


def test_frame_is_in_natural_order_with_plain_raw_values() -> None:
    pytest.importorskip("pandas")
    frame = _report().to_frame()
    assert _var_order(frame.index) == ["xyp_var1", "xyp_var2", "xyp_var10"]
    assert frame.loc["xyp_var10", "raw"] == "4"
    assert type(frame.loc["xyp_var10", "raw"]) is str


def test_raw_column_shows_plain_values() -> None:
    page = _report()._repr_html_()
    row = re.search(r"<code>xyp_var10</code>.*?</tr>", page)
    assert row is not None
    assert "<td>4</td>" in row.group(0)
    assert "&#x27;4&#x27;" not in page
    assert "'4'" not in page


def test_row_layout_lists_extra_table_codes_naturally() -> None:
    from creditsdk.tianyuan import BucketTables, Range
    from creditsdk.tianyuan.models import row_layout

    tables = BucketTables({f"xyp_zz{n}": {"1": Range(0, 1)} for n in (10, 2, 1)})
    codes = [c for c in row_layout(tables).codes if c.startswith("xyp_zz")]
    assert codes == ["xyp_zz1", "xyp_zz2", "xyp_zz10"]


# -- the view itself (item 16) -------------------------------------------------------------


def test_view_is_self_contained_escaped_and_masked() -> None:
    page = _report()._repr_html_()
    for external in ("http://", "https://", "src=", "<link", "<script", "@import", "url("):
        assert external not in page, external
    assert ID_CARD not in page
    assert MOBILE not in page
    assert "xyp_echo&lt;b&gt;" in page
    assert "<b>" not in page
    assert "prefers-color-scheme:dark" in page  # a dark palette, not black-on-white only
    assert "--jp-layout-color0" in page  # and JupyterLab's own theme colours when present


def test_view_says_how_to_load_tables_only_when_none_are_loaded() -> None:
    bare = _report()._repr_html_()
    assert 'data-section="no-tables"' in bare
    assert "docs/bucket-tables.md" in bare
    loaded = _report(load_bucket_tables(SANDBOX_BUCKET_TABLES))._repr_html_()
    assert 'data-section="no-tables"' not in loaded
    assert "[9, 19) institutions" in loaded  # xyp_cpl0001 = 2, decoded by the tables


def test_no_data_answer_says_so() -> None:
    page = MultiLendingReport.from_factors({}, transaction_id="T0")._repr_html_()
    assert 'data-section="no-data"' in page
    assert "Tianyuan multi-lending report" in page


# -- headless Chromium -------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


#: Runs in the test page only (the report itself has no script): what the DOM shows, and the
#: WCAG contrast of every piece of text against its effective background, in the folded and the
#: unfolded state.
_PROBE = r"""
<script>
(function () {
  const report = document.querySelector('.creditsdk-report');
  function rgba(text) {
    const m = text.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function background(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return rgba(getComputedStyle(document.documentElement).backgroundColor);
  }
  function lum(c) {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  }
  function contrasts() {
    const out = [];
    const walker = document.createTreeWalker(report, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || el.closest('style') || !el.checkVisibility()) continue;
      const a = lum(rgba(getComputedStyle(el).color)), b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      out.push([Math.round(ratio * 100) / 100, n.textContent.trim().slice(0, 40)]);
    }
    out.sort((x, y) => x[0] - y[0]);
    return out;
  }
  const details = report.querySelector('details');
  const result = {
    sections: Array.from(report.querySelectorAll('[data-section]')).map(e => e.dataset.section),
    flagged: Array.from(report.querySelectorAll('tr[data-flag="on"]')).map(e => e.dataset.factor),
    folded: details ? !details.open : null,
    bold_elements: report.querySelectorAll('b').length,
    folded_contrast: contrasts().slice(0, 3),
    factor_rows_visible_when_folded: details ? Array.from(details.querySelectorAll('tbody tr'))
      .filter(r => r.checkVisibility()).length : null,
  };
  if (details) details.open = true;
  result.open_contrast = contrasts().slice(0, 3);
  result.text_nodes = contrasts().length;
  const pre = document.createElement('pre');
  pre.id = 'cs-probe';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
})();
</script>
"""


def _page(fragment: str, probe: bool) -> str:
    # The page a notebook gives an output: the system colours of the scheme in force.
    head = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>html{color-scheme:light dark;background:Canvas;color:CanvasText}</style>"
        "</head><body>"
    )
    return head + fragment + (_PROBE if probe else "") + "</body></html>"


def _run(browser: str, tmp: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1000,1400",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def browser() -> str:
    found = _chromium()
    if found is None:
        pytest.skip("no Chromium on this machine (CI installs Debian's chromium package)")
    return found


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_view_renders_in_chromium(browser: str, tmp_path: Path, theme: str) -> None:
    fragment = _report()._repr_html_()
    page = tmp_path / "report.html"
    page.write_text(_page(fragment, probe=True), encoding="utf-8")
    dark = ["--force-dark-mode"] if theme == "dark" else []
    done = _run(browser, tmp_path, page, *dark, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    found = re.search(r'<pre id="cs-probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    probe = json.loads(html.unescape(found.group(1)))

    assert probe["sections"] == ["no-tables", "scores", "overdue", "institutions", "factors"]
    assert "xyp_cpl0044" in probe["flagged"]  # currently overdue: marked
    assert "xyp_cpl0031" in probe["flagged"]
    assert "xyp_cpl0028" not in probe["flagged"]  # "0": not marked
    assert probe["folded"] is True
    assert probe["factor_rows_visible_when_folded"] == 0
    assert probe["bold_elements"] == 0  # the hostile key stayed text
    assert probe["text_nodes"] > 50
    # WCAG AA for normal text, in this theme, folded and unfolded
    worst = probe["folded_contrast"][0][0], probe["open_contrast"][0][0]
    assert min(worst) >= 4.5, probe
    assert ID_CARD not in dom
    assert MOBILE not in dom


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_view_screenshot_is_not_blank(browser: str, tmp_path: Path, theme: str) -> None:
    image = pytest.importorskip("PIL.Image")
    page = tmp_path / "report.html"
    page.write_text(_page(_report()._repr_html_(), probe=False), encoding="utf-8")
    shot = tmp_path / f"report-{theme}.png"
    dark = ["--force-dark-mode"] if theme == "dark" else []
    done = _run(browser, tmp_path, page, *dark, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    with image.open(shot) as img:
        rgb = img.convert("RGB")
        small = rgb.resize((250, 350))
        colours = small.getcolors(maxcolors=250 * 350) or []
        corner = rgb.getpixel((995, 1395))  # the page, well outside the report
        inside = rgb.getpixel((760, 20))  # the report's own background, right of the title
    assert len(colours) > 20  # text, bars, highlighted rows: not one flat colour
    dominant = max(colours)[0] / (250 * 350)
    assert dominant < 0.97
    if theme == "dark":
        assert sum(corner) < 3 * 80
        assert sum(inside) < 3 * 80
    else:
        assert sum(corner) > 3 * 200
        assert sum(inside) > 3 * 200
