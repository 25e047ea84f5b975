"""``creditsdk evaluate RUN_DIR... --target bad -o OUT``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from creditsdk._cli import main

from . import _fixture as fx


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    people = fx.applicants(3000, seed=21)
    return fx.write_run(tmp_path_factory.mktemp("r") / "ty", people, n_signal=2, n_noise=3,
                        statuses={"invalid": 4})  # fmt: skip


def test_writes_every_output(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["tianyuan.multi_lending"]\nper_call = "0.50"\n', "utf-8")
    out = tmp_path / "eval"
    code = main([
        "evaluate", str(run_dir), "--target", "bad", "--time-col", "apply_month",
        "--baseline", "internal_score", "--prices", str(prices), "-o", str(out),
        "--shuffles", "50",
    ])  # fmt: skip
    assert code == 0
    for name in ("factors.csv", "bins.csv", "summary.csv", "overlap.csv", "report.html"):
        assert (out / name).stat().st_size > 0, name
    factors = pd.read_csv(out / "factors.csv")
    assert set(factors["factor"]) >= {"sig_000", "sig_001", "noise_002", "model_score"}
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "cost_per_call"] == pytest.approx(0.5)
    printed = capsys.readouterr().out
    assert "evaluated   2996 rows" in printed
    assert "ty: invalid: 4" in printed
    assert "0.50 CNY per effective hit" not in printed  # per effective hit > per call
    assert "CNY per effective hit" in printed


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(tmp_path), "--target", "bad", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("creditsdk: error: ")
    assert "schema.json" in err
    assert len(err.strip().splitlines()) == 1


def test_target_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "somewhere", "-o", "x"]) == 2
    assert "--target" in capsys.readouterr().err
