from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from creditsdk.batch import Price, load_prices, parse_prices
from creditsdk.errors import ConfigurationError


def test_load_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        'currency = "CNY"\n["tianyuan.multi_lending"]\nper_call = "0.80"\n'
        '["fireeye.model_score"]\nper_hit = 1.2\n',
        encoding="utf-8",
    )
    prices = load_prices(path)
    assert prices["tianyuan.multi_lending"] == Price("tianyuan.multi_lending", Decimal("0.80"))
    assert prices["fireeye.model_score"].per_hit == Decimal("1.2")
    assert prices["tianyuan.multi_lending"].cost(billed=10, hits=7) == Decimal("8.00")
    assert prices["fireeye.model_score"].cost(billed=10, hits=7) == Decimal("8.4")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"op": {"per_call": "abc"}}, "not a decimal"),
        ({"op": {"per_call": -1}}, "≥ 0"),
        ({"op": {}}, "needs per_call or per_hit"),
        ({"op": {"per_cal": 1}}, "unknown keys"),
        ({"op": 3}, "must be a table"),
        ({"op": {"per_call": True}}, "must be a number"),
    ],
)
def test_bad_prices_name_the_key(doc: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        parse_prices(doc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such prices file"):
        load_prices(tmp_path / "nope.toml")
