"""Fuzz: loading bucket tables from any TOML or CSV text gives tables or a BucketTableError
that names the file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given

from creditsdk.tianyuan import BucketTables, load_bucket_tables
from creditsdk.tianyuan.factors import BucketTableError

from ._profile import FUZZ
from .source import SEEDS, Source

# tmpfs when there is one: opening a file on an overlay disk costs ~1 ms, 10,000 times.
_SHM = Path("/dev/shm")
_DIR = Path(tempfile.mkdtemp(prefix="creditsdk-fuzz-", dir=_SHM if _SHM.is_dir() else None))
FACTORS = ["xyp_cpl0001", "xyp_cpl0002", "xyp_t01aaa", "bad name", "", "x"]
CELLS = ["1", "2", "0", "9", "", "()", "[)", "(]", "[]", "<>", "-1", "1e3", "inf", "nan", "x"]


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def toml_text(src: Source) -> str:
    if src.byte() % 6 == 0:
        return src.text(60)
    lines = []
    for _ in range(src.int(0, 3)):
        where = src.choice(["factors", "tables"])
        lines.append(f'[{where}."{src.choice(FACTORS)}"]')
        if src.byte() % 4 == 0:
            lines.append(f"unit = {_toml_value(src.text(4))}")
        items = []
        for _ in range(src.int(0, 4)):
            fields = {
                "code": src.choice(["1", "2", "3", "x", "", 1]),
                "low": src.choice([0, 1, 9, -1, 2.5, "0", None]),
                "high": src.choice([9, 19, 0, 1e3, None, "x"]),
                "bounds": src.choice(["()", "[)", "(]", "[]", "<>", ""]),
                "label": src.text(4),
                "junk": 1,
            }
            kept = {k: v for k, v in fields.items() if v is not None and src.byte() % 5 != 0}
            items.append(
                "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in kept.items()) + " }"
            )
        lines.append(f"buckets = [{', '.join(items)}]")
    if src.flag():
        lines.append(f'[factors]\nxyp_cpl0009 = "{src.choice(FACTORS)}"')
    lines.append(src.choice(["", "[meta]\nname = 'x'", "x = 1", "[["]))
    return "\n".join(lines) + "\n"


def csv_text(src: Source) -> str:
    if src.byte() % 6 == 0:
        return src.text(60)
    header = src.choice(["factor,code,low,high,bounds", "factor,code,low,high,bounds,unit,label",
                         "factor,code,low", "\ufefffactor,code,low,high,bounds"])  # fmt: skip
    rows = [
        ",".join(src.choice(FACTORS) if i == 0 else src.choice(CELLS) for i in range(src.int(3, 7)))
        for _ in range(src.int(0, 5))
    ]
    return header + "\n" + "\n".join(rows)


@FUZZ
@given(seed=SEEDS)
def test_tables_load_or_name_the_problem(seed: bytes) -> None:
    src = Source(seed)
    path = _DIR / src.choice(["tables.toml", "tables.csv", "tables.TOML"])
    text = toml_text(src) if path.suffix.lower() == ".toml" else csv_text(src)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        tables = load_bucket_tables(path)
    except BucketTableError as exc:
        message = str(exc)
    else:
        assert isinstance(tables, BucketTables)
        return
    assert str(path) in message
