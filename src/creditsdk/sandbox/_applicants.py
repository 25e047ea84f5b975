"""Synthetic past applicants for trying a data-source evaluation against the Sandbox.

``creditsdk sandbox applicants --n 3000 --bad-rate 0.09 -o applicants.csv`` writes valid
applicants -- resident ID numbers with a right check digit from real county codes (python-stdnum's
``cn/loc`` data, each code one that existed in the holder's birth year), mainland mobiles,
Luhn-valid bank cards -- and a ``bad`` label drawn from the scenario the Sandbox gives each ID
number, so that evaluating Sandbox answers shows real, known signal. The scenarios and the
chance of ``bad`` in each are the provider sandbox's (its ``applicant_bad_rates``: the first
provider, by name, that has them).

The probabilities are scaled so the sample's expected bad rate is ``bad_rate``. ``noise_1`` and
``noise_2`` are pure noise (no relation to anything): an evaluation should find nothing in them.
Every value is made up; none is a real person's.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._provider import ProviderSandboxBase

__all__ = ["COLUMNS", "generate_applicants", "write_applicants"]

COLUMNS = (
    "applicant_id",
    "name",
    "id_card",
    "mobile",
    "card_no",
    "applied_on",
    "bad",
    "noise_1",
    "noise_2",
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬建国文辉鹏飞波宁浩宇晨欣怡"
    "子涵梓轩雨泽思博一诺佳琪俊嘉"
)
_MOBILE_PREFIXES = (
    *("130", "131", "132", "133", "135", "136", "137", "138", "139"),
    *("150", "151", "152", "155", "156", "157", "158", "159"),
    *("170", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189"),
    *("191", "198", "199"),
)
# Issuer prefixes of common mainland debit cards (6 digits) and their lengths.
_CARD_BINS = (
    ("622202", 19),  # ICBC
    ("621700", 19),  # CCB
    ("622848", 19),  # ABC
    ("621661", 19),  # BOC
    ("622588", 16),  # CMB
    ("622262", 19),  # BOCOM
    ("621483", 16),  # CMB
    ("623058", 19),  # PSBC
)


def _county_codes() -> list[tuple[str, int | None, int | None]]:
    """Every county-level code in stdnum's data, with the years it was in use."""
    from stdnum import numdb

    out: list[tuple[str, int | None, int | None]] = []
    for _, province, _, _, counties in numdb.get("cn/loc").prefixes:
        for _, code, _, props, _ in counties:
            if code.endswith("00"):  # a province / prefecture as a whole, not a county
                continue
            for county in str(props.get("county", "")).split(","):
                start = end = None
                if county.startswith("["):
                    span = county[1 : county.index("]")]
                    lo, _, hi = span.partition("-")
                    start = int(lo) if lo else None
                    end = int(hi) if hi else None
                out.append((province + code, start, end))
    return out


def _id_card(rng: random.Random, counties: list[tuple[str, int | None, int | None]]) -> str:
    from stdnum.cn import ric

    while True:
        born = _dt.date(1962, 1, 1) + _dt.timedelta(days=rng.randrange(365 * 42))
        code, start, end = counties[rng.randrange(len(counties))]
        if (start is not None and born.year < start) or (end is not None and born.year > end):
            continue
        body = f"{code}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = body + ric.calc_check_digit(body + "0")
        if ric.is_valid(number):
            return number


def _card(rng: random.Random) -> str:
    from stdnum import luhn

    prefix, length = _CARD_BINS[rng.randrange(len(_CARD_BINS))]
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def generate_applicants(
    n: int, *, bad_rate: float = 0.09, seed: int = 0, sandbox_seed: int = 0
) -> Iterator[dict[str, Any]]:
    """``n`` synthetic applicants (dicts with `COLUMNS`), reproducible per ``seed``.

    ``bad`` follows `BAD_RATE_BY_SCENARIO` for the scenario a ``Sandbox(seed=sandbox_seed)``
    gives the ID number (``creditsdk batch --sandbox`` uses seed 0), scaled to ``bad_rate``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigurationError(f"n must be an integer >= 0, not {n!r}")
    if not isinstance(bad_rate, (int, float)) or not 0 <= bad_rate < 1:
        raise ConfigurationError(f"bad_rate must be a number in [0, 1), not {bad_rate!r}")
    scenarios, bad_rates = _label_source(sandbox_seed)
    rng = random.Random(f"creditsdk-applicants:{seed}")
    counties = _county_codes()
    people = []
    for i in range(n):
        id_card = _id_card(rng, counties)
        people.append((i, id_card, scenarios.scenario_for(id_card)))
    mean = sum(bad_rates[s] for _, _, s in people) / n if n else 0.0
    scale = bad_rate / mean if mean else 0.0
    start = _dt.date(2025, 1, 1)
    for i, id_card, scenario in people:
        p_bad = min(0.95, bad_rates[scenario] * scale)
        yield {
            "applicant_id": f"A{i + 1:06d}",
            "name": _SURNAMES[rng.randrange(len(_SURNAMES))]
            + "".join(_GIVEN[rng.randrange(len(_GIVEN))] for _ in range(rng.choice((1, 2)))),
            "id_card": id_card,
            "mobile": rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            "card_no": _card(rng),
            "applied_on": (start + _dt.timedelta(days=rng.randrange(365))).isoformat(),
            "bad": int(rng.random() < p_bad),
            "noise_1": f"{rng.random():.4f}",
            "noise_2": f"{rng.gauss(0, 1):.4f}",
        }


def _label_class() -> type[ProviderSandboxBase[Any, Any]]:
    from ._provider import ProviderSandboxBase
    from ._sandbox import discover_providers

    found = discover_providers()  # imports every provider's sandbox module
    for cls in sorted(ProviderSandboxBase.__subclasses__(), key=lambda c: c.name):
        if cls.applicant_bad_rates and cls.name in found:
            return cls
    raise ConfigurationError("no sandbox provider labels applicants (applicant_bad_rates)")


def _label_source(sandbox_seed: int) -> tuple[ProviderSandboxBase[Any, Any], Mapping[str, float]]:
    """The provider sandbox (not started) whose scenarios decide ``bad``, and its rates."""
    from ._sandbox import Sandbox

    cls = _label_class()
    provider = Sandbox(providers=[cls.name], seed=sandbox_seed).provider(cls)
    return provider, cls.applicant_bad_rates


def __getattr__(name: str) -> Any:
    if name == "BAD_RATE_BY_SCENARIO":  # P(bad) per scenario, before scaling
        return dict(_label_class().applicant_bad_rates)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_applicants(
    path: str | os.PathLike[str],
    n: int,
    *,
    bad_rate: float = 0.09,
    seed: int = 0,
    sandbox_seed: int = 0,
) -> int:
    """Write `generate_applicants` to a CSV file (UTF-8, header row). Returns ``n``."""
    rows = generate_applicants(n, bad_rate=bad_rate, seed=seed, sandbox_seed=sandbox_seed)
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {os.fspath(path)!r} ({exc})") from None
    return n


def add_parser(sandbox_sub: Any) -> None:
    """``creditsdk sandbox applicants``."""
    parser = sandbox_sub.add_parser(
        "applicants",
        help="write synthetic past applicants with a bad label (for batch / evaluate)",
        description="Write valid synthetic applicants (ID numbers, mobiles, cards) with a 'bad' "
        "label that follows the Sandbox's scenarios, so an evaluation of Sandbox answers "
        "shows known signal. See docs/batch.md.",
    )
    parser.add_argument("--n", type=int, default=3000, help="how many (default 3000)")
    parser.add_argument("--bad-rate", type=float, default=0.09, help="share of bad (0.09)")
    parser.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    parser.add_argument(
        "--sandbox-seed", type=int, default=0, help="the Sandbox seed the labels follow (0)"
    )
    parser.add_argument("-o", "--output", required=True, help="CSV file to write")
    parser.set_defaults(func=_run)


def _run(args: Any) -> int:
    import sys

    n = write_applicants(
        args.output, args.n, bad_rate=args.bad_rate, seed=args.seed, sandbox_seed=args.sandbox_seed
    )
    print(f"wrote {n} applicants to {args.output}", file=sys.stderr)
    return 0
