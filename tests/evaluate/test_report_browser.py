"""The report, rendered by a real browser (headless Chromium): the page shows what it should.

``.ci/run`` installs Debian's chromium so CI always runs this; elsewhere it skips with a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from creditsdk.evaluate import Evaluation, evaluate

from . import _fixture as fx

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no headless browser found (looked for {', '.join(BROWSERS)}; "
                "`apt-get install chromium` to run this test)")  # fmt: skip


def _run(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One headless Chromium call. Chromium can hang at start-up on a loaded machine (its
    D-Bus probes): a call that has not finished in 120 s is stopped and made once more."""
    env = {**os.environ, "HOME": str(cwd)}  # chromium writes its profile under HOME
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-dev-shm-usage", "--disable-extensions",
        "--disable-background-networking", f"--user-data-dir={cwd / 'profile'}", *args,
    ]  # fmt: skip
    for attempt in (1, 2):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=120,
                                  check=False, cwd=cwd, env=env)  # fmt: skip
        except subprocess.TimeoutExpired:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    root = tmp_path_factory.mktemp("runs")
    people = fx.applicants(3000, seed=8)  # ~200 bads: the "few bads" warning must show
    ty = fx.write_run(root / "ty", people, n_signal=3, n_noise=8, prices={"per_call": "0.8"})
    fe = fx.write_run(root / "fe", people, operation="fireeye.model_score",
                      provider="fireeye", prefix="fe_", n_signal=1, n_noise=2, seed=9,
                      prices={"per_hit": "1.2"})  # fmt: skip
    return evaluate([ty, fe], target="bad", time_col="apply_month",
                    baselines=["internal_score"], chance_shuffles=100)  # fmt: skip


def test_report_renders_in_a_headless_browser(evaluation: Evaluation, tmp_path: Path) -> None:
    browser = _browser()
    assert evaluation.bads < 300
    page = tmp_path / "report.html"
    evaluation.to_html(page)
    html_text = page.read_text("utf-8")
    # self-contained: no external fetches of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html_text)
    assert "<script" not in html_text

    dom = _run(browser, "--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for heading in ("Hit rates and cost", "Top factors", "ROC curves", "KS curves",
                    "Missing rate", "Stability (PSI)", "Correlation with the baselines",
                    "Swap set: fe_model_score vs internal_score"):  # fmt: skip
        assert heading in text, heading
    assert re.search(r"Only \d+ bads in the sample \(fewer than 300\)", text)
    assert "have an IV within chance" in text
    assert text.count("<svg") >= 5  # every chart is inline SVG
    assert "sig_000" in text
    assert "fe_model_score" in text
    assert "CNY per effective hit" in text

    shot = tmp_path / "report.png"
    res = _run(browser, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri(),
               cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000  # a page with charts, not a blank one
    keep = os.environ.get("CREDITSDK_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
